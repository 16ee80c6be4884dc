//! The guide's Quick Checklist, ticked from the current run's telemetry.

use crate::run_view::RunView;
use faultline_engine::guide::{CheckId, ChecklistItem, CHECKLIST};

/// Where one checklist item stands for the current run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Check {
    /// Nothing measured yet.
    Pending,
    Pass,
    Fail,
}

impl Check {
    /// The `data-check` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Pending => "pending",
            Check::Pass => "pass",
            Check::Fail => "fail",
        }
    }
}

/// One item's state, with the measurement behind it.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckResult {
    pub id: CheckId,
    /// The item as the guide words it, and how the app checks it.
    pub text: &'static str,
    pub how_checked: &'static str,
    pub check: Check,
    pub detail: String,
}

/// Learning rates the guide calls reasonable for AdamW.
const LR_BAND: (f32, f32) = (1e-5, 1e-2);
/// How far the first loss may sit from ln(vocab size), in nats.
const FIRST_LOSS_SLACK: f32 = 0.5;

/// Every checklist item, checked against `view`.
pub fn run_checklist(view: &RunView) -> Vec<CheckResult> {
    CHECKLIST
        .iter()
        .map(|item: &ChecklistItem| {
            let (check, detail) = check(item.id, view);
            CheckResult { id: item.id, text: item.text, how_checked: item.how_checked, check, detail }
        })
        .collect()
}

fn pending(why: &str) -> (Check, String) {
    (Check::Pending, why.to_string())
}

fn verdict(ok: bool, detail: String) -> (Check, String) {
    (if ok { Check::Pass } else { Check::Fail }, detail)
}

fn check(id: CheckId, view: &RunView) -> (Check, String) {
    let started = view.info.is_some();
    match id {
        CheckId::DataSample => match &view.info {
            Some(info) if !info.data_sample.is_empty() => {
                (Check::Pass, format!("the first training tokens, decoded: {:?}", info.data_sample))
            }
            Some(_) => verdict(false, "the training split decodes to no text".to_string()),
            None => pending("decoded when the run starts, before step 1"),
        },
        CheckId::Shapes => match &view.info {
            Some(info) => {
                let m = &info.model;
                (
                    Check::Pass,
                    format!(
                        "built as configured: context {}, d_model {}, {} heads of {}, {} layers, vocabulary {}: {} parameters",
                        m.context,
                        m.d_model,
                        m.n_heads,
                        m.head_dim(),
                        m.n_layers,
                        m.vocab_size,
                        info.param_count
                    ),
                )
            }
            None => pending("checked when the model is built"),
        },
        CheckId::LossVsLnV => match (view.steps.first(), view.vocab_size()) {
            (Some(first), Some(vocab)) => {
                let ln_v = (vocab as f32).ln();
                let gap = (first.loss - ln_v).abs();
                verdict(
                    gap <= FIRST_LOSS_SLACK,
                    format!("first loss {:.3} vs ln({vocab}) = {ln_v:.3}: {gap:.3} nats apart", first.loss),
                )
            }
            _ => pending("compared at step 1"),
        },
        CheckId::NonzeroGradients => {
            if let Some(stop) = &view.stop {
                return verdict(false, format!("a non-finite value in {} at step {}", stop.tensor, stop.step));
            }
            let Some(first) = view.steps.first() else { return pending("watched from step 1") };
            let zero = view.steps.iter().filter(|r| r.grad_norm == 0.0).count();
            let bad = view.steps.iter().filter(|r| !r.grad_norm.is_finite()).count();
            let last = view.steps.last().unwrap_or(first);
            verdict(
                zero == 0 && bad == 0,
                format!(
                    "global gradient norm {:.3} at step {}, {:.3} at step {}; {zero} steps with exactly zero, {bad} non-finite",
                    first.grad_norm, first.step, last.grad_norm, last.step
                ),
            )
        }
        CheckId::LrRange => {
            let peak = view.steps.iter().map(|r| r.lr).fold(0.0f32, f32::max);
            if view.steps.is_empty() {
                return pending("read from the step records");
            }
            let (lo, hi) = LR_BAND;
            verdict(
                (lo..=hi).contains(&peak),
                format!("peak learning rate {peak} (the usual AdamW band: {lo} to {hi})"),
            )
        }
        CheckId::ClippingOn => match &view.config {
            Some(c) if started || !view.steps.is_empty() => {
                let off = c.grad_clip == 0.0 || c.faults.no_grad_clip;
                if off {
                    return verdict(false, "clipping is off: no ceiling on the gradient norm".to_string());
                }
                let over = view.steps.iter().filter(|r| r.grad_norm > c.grad_clip).count();
                verdict(
                    true,
                    format!("clipped at norm {}; {over} of {} steps went over it", c.grad_clip, view.steps.len()),
                )
            }
            _ => pending("read from the run's settings"),
        },
        CheckId::TrainingMode => match (view.config.as_ref(), view.steps.is_empty(), view.evals.is_empty()) {
            (Some(c), false, false) => (
                Check::Pass,
                format!(
                    "{} training steps ran with dropout {} and {} evaluations with dropout off",
                    view.steps.len(),
                    c.dropout,
                    view.evals.len()
                ),
            ),
            _ => pending("shown once a step and an evaluation have run"),
        },
        CheckId::SeedSet => match &view.config {
            Some(c) if started => (Check::Pass, format!("seed {}: the same seed gives the same run", c.seed)),
            _ => pending("recorded when the run starts"),
        },
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::protocol::test_support::{eval_record, run_info, step_record};
    use crate::protocol::RunEvent;
    use crate::run_view::StopPoint;
    use faultline_engine::faults::FaultId;
    use faultline_engine::{RunConfig, StepRecord};

    fn states(view: &RunView) -> Vec<Check> {
        run_checklist(view).iter().map(|c| c.check).collect()
    }

    #[test]
    fn nothing_is_ticked_before_a_run() {
        let all = run_checklist(&RunView::default());
        assert_eq!(all.len(), CHECKLIST.len());
        assert!(all.iter().all(|c| c.check == Check::Pending && !c.detail.is_empty()));
    }

    #[test]
    fn a_healthy_run_ticks_every_item() {
        let mut v = RunView::starting(1, RunConfig::default());
        v.apply(1, RunEvent::Started(run_info(false)));
        let ln_v = (40f32).ln();
        let records = vec![step_record(1, ln_v + 0.1), StepRecord { lr: 3e-3, ..step_record(2, 3.0) }];
        v.apply(1, RunEvent::Steps { records, tokens_per_s: None });
        v.apply(1, RunEvent::Eval(eval_record(2, 3.0, Some(3.1), None)));
        assert_eq!(states(&v), [Check::Pass; 8], "{:#?}", run_checklist(&v));
        assert!(run_checklist(&v)[2].detail.contains("ln(40)"));
        assert_eq!(run_checklist(&v)[0].detail, "the first training tokens, decoded: \"the dog runs.\"");
    }

    #[test]
    fn a_broken_run_fails_the_items_it_breaks() {
        let mut config = RunConfig { lr: 1.0, ..RunConfig::default() };
        config.faults.set(FaultId::NoGradClip, None).unwrap();
        let mut v = RunView::starting(1, config);
        v.apply(1, RunEvent::Started(run_info(false)));
        let records = vec![StepRecord { lr: 1.0, grad_norm: 0.0, ..step_record(1, 9.0) }];
        v.apply(1, RunEvent::Steps { records, tokens_per_s: None });
        let by_id = |v: &RunView, id: CheckId| run_checklist(v).into_iter().find(|c| c.id == id).unwrap().check;
        for id in [CheckId::LossVsLnV, CheckId::NonzeroGradients, CheckId::LrRange, CheckId::ClippingOn] {
            assert_eq!(by_id(&v, id), Check::Fail, "{id}");
        }
        v.stop = Some(StopPoint { step: 2, tensor: "logits".into() });
        let nonzero = run_checklist(&v).into_iter().find(|c| c.id == CheckId::NonzeroGradients).unwrap();
        assert!(nonzero.detail.contains("logits"));
    }
}
