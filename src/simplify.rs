//! The guide's "Simplify" made a check: overfit one batch. The learner's own settings train on the
//! same batch at every step (the `one-batch` setting); a model, loss and optimiser that can learn at
//! all drive that batch's loss towards zero, so a run that cannot has a bug rather than a tuning
//! problem.
//!
//! Measured on toy-English, seed 1, 200 steps (`faultline train --steps 200 --one-batch [--fault F]`): the
//! healthy model ends at a batch loss of 0.015; init-zero stays at 3.37 (ln V: every unit identical),
//! lr-too-low at 2.74 and no-residual at 0.50. detached-block (0.020) and layernorm-no-eps alone (0.015)
//! do pass: the top block and the head can memorise one batch by themselves, and epsilon matters only
//! once the LayerNorm's input is constant (its scenario adds init-zero, which fails).

use crate::form::RunForm;
use crate::run_view::{RunState, RunView};
use faultline_engine::settings::SettingKey;

/// Steps of the check: enough for the healthy model to memorise its batch.
pub const STEPS: &str = "200";
/// The batch loss, in nats, a run must end below to pass: the healthy model reaches 0.015, the failing
/// faults measured above stay at 0.50 or more.
pub const PASS_BELOW: f32 = 0.1;

/// The trainer's form for the check: `form` (the learner's own settings and faults) on one batch for
/// [`STEPS`] steps.
pub fn one_batch_form(mut form: RunForm) -> RunForm {
    form.set(SettingKey::OneBatch, "on".to_string());
    form.set(SettingKey::Steps, STEPS.to_string());
    form
}

/// What a finished one-batch run says: passed or not, in words; none for another run or before its end.
pub fn verdict(view: &RunView) -> Option<(bool, String)> {
    view.config.as_ref().filter(|c| c.one_batch)?;
    if !matches!(view.state, RunState::Finished | RunState::Stopped | RunState::Error) {
        return None;
    }
    let (first, last) = (view.steps.first()?.loss, view.steps.last()?.loss);
    let steps = view.steps_done;
    Some(if last.is_finite() && last < PASS_BELOW {
        (
            true,
            format!(
                "The model overfit one batch: its loss fell from {first:.3} to {last:.3} in {steps} steps. The model, \
                 the loss and the optimiser can learn; look at the data, the regularisation or the schedule."
            ),
        )
    } else {
        (
            false,
            format!(
                "The model could not overfit one batch: its loss went from {first:.3} to {last:.3} in {steps} steps \
                 (it must end below {PASS_BELOW}). Something in the model, the loss or the optimiser cannot learn: \
                 a bug, not a tuning problem."
            ),
        )
    })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::run_view::trained;
    use faultline_engine::faults::FaultId;

    fn checked(fault: Option<FaultId>) -> (bool, String) {
        let mut form = RunForm::default();
        if let Some(id) = fault {
            form.set_fault(id, true);
        }
        let run = trained(one_batch_form(form).to_config().unwrap());
        verdict(&run).expect("a finished one-batch run has a verdict")
    }

    /// The healthy model memorises its batch; all-zero weights cannot (every unit stays the same).
    #[test]
    fn the_healthy_model_overfits_one_batch_and_zero_weights_cannot() {
        let (passed, text) = checked(None);
        assert!(passed, "{text}");
        let (passed, text) = checked(Some(FaultId::InitZero));
        assert!(!passed && text.contains("a bug, not a tuning problem"), "{text}");
        let ordinary =
            trained(RunForm::default().to_config().map(|c| faultline_engine::RunConfig { steps: 12, ..c }).unwrap());
        assert_eq!(verdict(&ordinary), None, "only a one-batch run has a verdict");
    }
}
