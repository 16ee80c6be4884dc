//! The guide's Quick Checklist, ticked from the current run's telemetry.

use crate::kept_runs::RunRecord;
use crate::protocol::RunInfo;
use crate::run_view::RunView;
use faultline_engine::guide::{CheckId, ChecklistItem, CHECKLIST};
use faultline_engine::telemetry::Mode;
use faultline_engine::ModelConfig;

/// Where one checklist item stands for the current run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Check {
    /// Nothing measured yet.
    Pending,
    Pass,
    Fail,
    /// The run records nothing that could fail this item: it says so instead of ticking.
    NotMeasured,
}

impl Check {
    /// The `data-check-state` value, as the exercises' checks write theirs.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Pending => "waiting",
            Check::Pass => "passed",
            Check::Fail => "failed",
            Check::NotMeasured => "not-measured",
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

/// How far two first losses of the same seed, settings and backend may differ: float sums in another
/// order (another thread count) move the fourth decimal at most, while another seed's weights move the
/// second.
const SAME_FIRST_LOSS: f32 = 1e-4;

/// Every checklist item, checked against `view`; `kept` are the runs kept in the browser, of which
/// `on_page` (when kept) is `view`'s own.
pub fn run_checklist(view: &RunView, kept: &[RunRecord], on_page: Option<u64>) -> Vec<CheckResult> {
    CHECKLIST
        .iter()
        .map(|item: &ChecklistItem| {
            let (check, detail) = check(item.id, view, kept, on_page);
            CheckResult { id: item.id, text: item.text, how_checked: item.how_checked, check, detail }
        })
        .collect()
}

fn pending(why: &str) -> (Check, String) {
    (Check::Pending, why.to_string())
}

fn not_measured(why: String) -> (Check, String) {
    (Check::NotMeasured, why)
}

fn verdict(ok: bool, detail: String) -> (Check, String) {
    (if ok { Check::Pass } else { Check::Fail }, detail)
}

fn check(id: CheckId, view: &RunView, kept: &[RunRecord], on_page: Option<u64>) -> (Check, String) {
    let started = view.info.is_some();
    match id {
        CheckId::DataSample => match &view.info {
            Some(info) if !info.data_sample.is_empty() => {
                (Check::Pass, format!("the first training tokens, decoded: {:?}", info.data_sample))
            }
            Some(_) => verdict(false, "the training split decodes to no text".to_string()),
            None => pending("decoded when the run starts, before step 1"),
        },
        CheckId::Shapes => match (&view.info, view.vocab_size()) {
            (Some(info), Some(data_vocab)) => {
                // The run's settings imply the model's shape; the model's own report is the fallback.
                let implied = view.config.as_ref().map_or(info.model, |c| c.model(data_vocab));
                shapes_fit(info, &implied, data_vocab)
            }
            _ => pending("checked when the model is built"),
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
            let zero = view.steps.iter().filter(|r| r.grad_norm == 0.0).count();
            let bad = view.steps.iter().filter(|r| !r.grad_norm.is_finite()).count();
            if zero + bad > 0 {
                return verdict(
                    false,
                    format!("the global gradient norm: {zero} steps of exactly zero, {bad} non-finite"),
                );
            }
            // Per tensor, at the latest evaluation: a global norm can be healthy while whole layers
            // get nothing (a detached block).
            let Some(eval) = view.evals.last().filter(|e| !e.tensors.is_empty()) else {
                return pending("read per tensor at the first evaluation");
            };
            let silent: Vec<&str> =
                eval.tensors.iter().filter(|t| t.grad_norm == 0.0).map(|t| t.name.as_str()).collect();
            let bad = eval.tensors.iter().filter(|t| !t.grad_norm.is_finite()).count();
            let detail = match silent.as_slice() {
                [] => {
                    format!("every one of {} tensors has a non-zero gradient at step {}", eval.tensors.len(), eval.step)
                }
                names => format!(
                    "{} of {} tensors have exactly zero gradient at step {}: {}",
                    names.len(),
                    eval.tensors.len(),
                    eval.step,
                    names.join(", ")
                ),
            };
            verdict(silent.is_empty() && bad == 0, detail)
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
        CheckId::TrainingMode if started || !view.steps.is_empty() => training_mode(view),
        CheckId::TrainingMode => pending("read from the records once the run starts"),
        CheckId::SeedSet => seed_reproduces(view, kept, on_page),
    }
}

/// What the run's settings and the data's `vocab` tokens imply for every parameter tensor, in the
/// engine's order: the embeddings `[V, C]` and `[T, C]`, each block's norms, attention `[C, 3C]` and
/// `[C, C]` and MLP `[C, F]` and `[F, C]` with their biases, the final norm and the head `[C, V]`.
fn expected_shapes(m: &ModelConfig, vocab: usize) -> Vec<(String, Vec<usize>)> {
    let (t, c, f) = (m.context, m.d_model, m.mlp_dim());
    let mut all = vec![("wte".to_string(), vec![vocab, c]), ("wpe".to_string(), vec![t, c])];
    for layer in 0..m.n_layers {
        let block = [
            ("ln1.gain", vec![c]),
            ("ln1.bias", vec![c]),
            ("attn.w_qkv", vec![c, 3 * c]),
            ("attn.b_qkv", vec![3 * c]),
            ("attn.w_proj", vec![c, c]),
            ("attn.b_proj", vec![c]),
            ("ln2.gain", vec![c]),
            ("ln2.bias", vec![c]),
            ("mlp.w_fc", vec![c, f]),
            ("mlp.b_fc", vec![f]),
            ("mlp.w_out", vec![f, c]),
            ("mlp.b_out", vec![c]),
        ];
        all.extend(block.into_iter().map(|(name, shape)| (format!("block{layer}.{name}"), shape)));
    }
    all.extend([
        ("lnf.gain".to_string(), vec![c]),
        ("lnf.bias".to_string(), vec![c]),
        ("w_head".to_string(), vec![c, vocab]),
    ]);
    all
}

/// `[64, 192]`.
fn dims(shape: &[usize]) -> String {
    format!("{shape:?}")
}

/// The shapes item: every tensor the model reported against what the settings' model shape `m` and the
/// data's `vocab` imply, listed per layer (the matrices; the vectors are counted).
fn shapes_fit(info: &RunInfo, m: &ModelConfig, vocab: usize) -> (Check, String) {
    if info.shapes.is_empty() {
        return not_measured("not measured: the run did not report its tensors' shapes".to_string());
    }
    let expected = expected_shapes(m, vocab);
    let mut wrong: Vec<String> = expected
        .iter()
        .filter_map(|(name, want)| match info.shapes.iter().find(|(n, _)| n == name) {
            None => Some(format!("{name} is missing (it should be {})", dims(want))),
            Some((_, have)) if have != want => Some(format!("{name} is {}, it should be {}", dims(have), dims(want))),
            Some(_) => None,
        })
        .collect();
    wrong.extend(
        info.shapes
            .iter()
            .filter(|(name, _)| expected.iter().all(|(n, _)| n != name))
            .map(|(name, shape)| format!("{name} {} is not part of the model the settings describe", dims(shape))),
    );
    let implied = format!(
        "d_model {}, {} heads of {}, MLP {}, context {}, {} layers and the data's {vocab} tokens",
        m.d_model,
        m.n_heads,
        m.head_dim(),
        m.mlp_dim(),
        m.context,
        m.n_layers
    );
    if !wrong.is_empty() {
        return verdict(false, format!("against {implied}: {}", wrong.join("; ")));
    }
    let mut layers: Vec<(String, Vec<String>)> = Vec::new();
    for (name, shape) in info.shapes.iter().filter(|(_, shape)| shape.len() > 1) {
        let (layer, leaf) = match name.split_once('.') {
            Some((block, leaf)) if block.starts_with("block") => (block.to_string(), leaf),
            _ => (String::new(), name.as_str()),
        };
        let entry = format!("{leaf} {}", dims(shape));
        match layers.last_mut().filter(|(l, _)| *l == layer) {
            Some((_, entries)) => entries.push(entry),
            None => layers.push((layer, vec![entry])),
        }
    }
    let listed: Vec<String> = layers
        .into_iter()
        .map(
            |(layer, entries)| {
                if layer.is_empty() {
                    entries.join(", ")
                } else {
                    format!("{layer}: {}", entries.join(", "))
                }
            },
        )
        .collect();
    let vectors = info.shapes.iter().filter(|(_, shape)| shape.len() == 1).count();
    verdict(
        true,
        format!(
            "all {} tensors have the shapes {implied} imply: {}; and {vectors} biases and norms ({} parameters)",
            info.shapes.len(),
            listed.join(" | "),
            info.param_count
        ),
    )
}

/// The training-mode item: every step record must say it ran in training mode and every evaluation
/// in evaluation mode, as the engine recorded them; not measured while no record says.
fn training_mode(view: &RunView) -> (Check, String) {
    if view.steps.is_empty() && view.evals.is_empty() {
        return not_measured("not measured yet: no step or evaluation record has come".to_string());
    }
    let unsaid =
        view.steps.iter().filter(|r| r.mode.is_none()).count() + view.evals.iter().filter(|e| e.mode.is_none()).count();
    if unsaid > 0 {
        return not_measured(format!("not measured: {unsaid} records do not say which mode they ran in"));
    }
    let steps_off: Vec<usize> = view.steps.iter().filter(|r| r.mode != Some(Mode::Train)).map(|r| r.step).collect();
    let evals_off: Vec<usize> = view.evals.iter().filter(|e| e.mode != Some(Mode::Eval)).map(|e| e.step).collect();
    let dropout = view.config.as_ref().map_or(String::new(), |c| format!(", dropout {}", c.dropout));
    if steps_off.is_empty() && evals_off.is_empty() {
        return verdict(
            true,
            format!(
                "all {} training steps ran in training mode{dropout}, all {} evaluations in evaluation mode \
                 (dropout off)",
                view.steps.len(),
                view.evals.len()
            ),
        );
    }
    let first = |steps: &[usize]| steps.first().map_or(String::new(), |s| format!(" (the first at step {s})"));
    verdict(
        false,
        format!(
            "{} of {} training steps did not run in training mode{}; {} of {} evaluations did not run in \
             evaluation mode{}",
            steps_off.len(),
            view.steps.len(),
            first(&steps_off),
            evals_off.len(),
            view.evals.len(),
            first(&evals_off)
        ),
    )
}

/// The seed item: `view`'s first loss against the first loss of another kept run with the same seed,
/// settings and backend kind; not measured while there is none.
fn seed_reproduces(view: &RunView, kept: &[RunRecord], on_page: Option<u64>) -> (Check, String) {
    let (Some(c), Some(first), Some(info)) = (&view.config, view.steps.first(), &view.info) else {
        return pending("compared at step 1 with your kept runs");
    };
    let pairs = c.to_pairs();
    let twin = kept
        .iter()
        .filter(|r| {
            Some(r.id) != on_page && r.settings.as_ref() == Some(&pairs) && r.backend_kind == Some(info.backend_kind)
        })
        .find_map(|r| r.curves.train.first().filter(|p| p.0 == 1).map(|p| (r.id, p.1)));
    match twin {
        None => not_measured(format!(
            "not measured yet: no other kept run has seed {}, these settings and this backend; run them again and \
             the two first losses are compared",
            c.seed
        )),
        Some((id, loss)) => verdict(
            (loss - first.loss).abs() <= SAME_FIRST_LOSS,
            format!(
                "kept run {id}, with the same seed {}, settings and backend, started at {loss:.5}; this run at {:.5}",
                c.seed, first.loss
            ),
        ),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::kept_runs::RunRecord;
    use crate::protocol::test_support::{eval_record, run_info, step_record};
    use crate::protocol::{RunEvent, RunInfo};
    use crate::run_view::StopPoint;
    use faultline_engine::faults::FaultId;
    use faultline_engine::{RunConfig, StepRecord};

    fn states(view: &RunView) -> Vec<Check> {
        run_checklist(view, &[], None).iter().map(|c| c.check).collect()
    }

    #[test]
    fn nothing_is_ticked_before_a_run() {
        let all = run_checklist(&RunView::default(), &[], None);
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
        let mut eval = eval_record(2, 3.0, Some(3.1), None);
        eval.tensors.iter_mut().for_each(|t| t.grad_norm = 0.5);
        v.apply(1, RunEvent::Eval(eval));
        let expected = [
            Check::Pass,
            Check::Pass,
            Check::Pass,
            Check::Pass,
            Check::Pass,
            Check::Pass,
            Check::Pass,
            Check::NotMeasured,
        ];
        assert_eq!(states(&v), expected, "{:#?}", run_checklist(&v, &[], None));
        assert!(run_checklist(&v, &[], None)[2].detail.contains("ln(40)"));
        let shapes = &run_checklist(&v, &[], None)[1].detail;
        for listed in
            ["wte [40, 64]", "block0: attn.w_qkv [64, 192], attn.w_proj [64, 64]", "block1:", "w_head [64, 40]"]
        {
            assert!(shapes.contains(listed), "{listed} in {shapes}");
        }
        assert_eq!(run_checklist(&v, &[], None)[0].detail, "the first training tokens, decoded: \"the dog runs.\"");
    }

    /// Seeds reproduce: a second real run of the same seed and settings starts at the kept run's first
    /// loss; another seed's run has no twin to compare with; a run is never its own twin.
    #[test]
    fn the_seed_item_compares_real_runs_of_the_same_seed_and_settings() {
        let config = |seed| RunConfig { seed, steps: 12, ..RunConfig::default() };
        let first = crate::run_view::trained(config(1));
        let kept = [RunRecord::from_view(7, &first, None).expect("12 steps are kept")];
        let seed_item = |v: &RunView, on_page| {
            run_checklist(v, &kept, on_page).into_iter().find(|c| c.id == CheckId::SeedSet).unwrap()
        };
        let again = crate::run_view::trained(config(1));
        let same = seed_item(&again, None);
        assert_eq!(same.check, Check::Pass, "{}", same.detail);
        assert!(same.detail.starts_with("kept run 7, with the same seed 1"), "{}", same.detail);
        assert_eq!(seed_item(&first, Some(7)).check, Check::NotMeasured, "a run is not its own twin");
        let other = seed_item(&crate::run_view::trained(config(2)), None);
        assert_eq!(other.check, Check::NotMeasured, "{}", other.detail);
        let mut moved = kept.clone();
        moved[0].curves.train[0].1 += 0.01;
        let differs = run_checklist(&again, &moved, None).into_iter().find(|c| c.id == CheckId::SeedSet).unwrap();
        assert_eq!(differs.check, Check::Fail, "{}", differs.detail);
    }

    fn item(v: &RunView, id: CheckId) -> CheckResult {
        run_checklist(v, &[], None).into_iter().find(|c| c.id == id).unwrap()
    }

    /// Every item but the seed's (which needs a kept twin: see above) fails on this run.
    #[test]
    fn a_broken_run_fails_the_items_it_breaks() {
        let mut config = RunConfig { lr: 1.0, ..RunConfig::default() };
        config.faults.set(FaultId::NoGradClip, None).unwrap();
        let mut v = RunView::starting(1, config);
        let mut info = run_info(false);
        info.data_sample.clear();
        info.shapes.iter_mut().filter(|(name, _)| name == "w_head").for_each(|(_, shape)| shape[1] = 27);
        v.apply(1, RunEvent::Started(info));
        let records = vec![StepRecord { lr: 1.0, grad_norm: 0.0, mode: Some(Mode::Eval), ..step_record(1, 9.0) }];
        v.apply(1, RunEvent::Steps { records, tokens_per_s: None });
        let failing = CHECKLIST.iter().map(|i| i.id).filter(|&id| id != CheckId::SeedSet);
        for id in failing {
            assert_eq!(item(&v, id).check, Check::Fail, "{id}: {}", item(&v, id).detail);
        }
        assert!(item(&v, CheckId::Shapes).detail.contains("w_head is [64, 27], it should be [64, 40]"));
        assert!(item(&v, CheckId::TrainingMode)
            .detail
            .starts_with("1 of 1 training steps did not run in training mode"));
        v.stop = Some(StopPoint { step: 2, tensor: "logits".into() });
        assert!(item(&v, CheckId::NonzeroGradients).detail.contains("logits"));
    }

    /// The shapes the model reported are held against the data's vocabulary too: a text of another
    /// vocabulary fails both vocabulary-wide tensors; a run that reported none is not measured.
    #[test]
    fn shapes_are_checked_per_tensor_against_the_config_and_the_data() {
        let mut v = RunView::starting(1, RunConfig::default());
        let mut info = run_info(false);
        info.corpus.vocab_size = 31;
        v.apply(1, RunEvent::Started(info));
        let shapes = item(&v, CheckId::Shapes);
        assert_eq!(shapes.check, Check::Fail);
        for wrong in ["wte is [40, 64], it should be [31, 64]", "w_head is [64, 40], it should be [64, 31]"] {
            assert!(shapes.detail.contains(wrong), "{wrong} in {}", shapes.detail);
        }
        let mut info = run_info(false);
        info.shapes.retain(|(name, _)| !name.starts_with("block1."));
        v.apply(1, RunEvent::Started(info));
        assert!(item(&v, CheckId::Shapes).detail.contains("block1.attn.w_qkv is missing"));
        v.apply(1, RunEvent::Started(RunInfo { shapes: Vec::new(), ..run_info(false) }));
        assert_eq!(item(&v, CheckId::Shapes).check, Check::NotMeasured);
    }

    /// The mode is read from the records: an evaluation that ran in training mode fails the item;
    /// records that do not say (kept before they carried it) leave it unmeasured, as does a run with
    /// no record yet.
    #[test]
    fn the_training_mode_is_read_from_every_record() {
        let mut v = RunView::starting(1, RunConfig::default());
        v.apply(1, RunEvent::Started(run_info(false)));
        assert_eq!(item(&v, CheckId::TrainingMode).check, Check::NotMeasured);
        v.apply(1, RunEvent::Steps { records: vec![step_record(1, 3.0)], tokens_per_s: None });
        assert_eq!(item(&v, CheckId::TrainingMode).check, Check::Pass);
        let mut eval = eval_record(1, 3.0, None, None);
        assert_eq!(eval.mode, Some(Mode::Eval), "the engine records its evaluations' mode");
        eval.mode = Some(Mode::Train);
        v.apply(1, RunEvent::Eval(eval));
        let mode = item(&v, CheckId::TrainingMode);
        assert_eq!(mode.check, Check::Fail);
        assert!(mode.detail.ends_with("1 of 1 evaluations did not run in evaluation mode (the first at step 1)"));
        v.evals[0].mode = None;
        assert_eq!(item(&v, CheckId::TrainingMode).check, Check::NotMeasured);
    }

    /// A detached block: the global norm is healthy, but some tensors get exactly nothing.
    #[test]
    fn gradients_are_checked_per_tensor() {
        let mut v = RunView::starting(1, RunConfig::default());
        v.apply(1, RunEvent::Started(run_info(false)));
        v.apply(1, RunEvent::Steps { records: vec![step_record(1, 3.0)], tokens_per_s: None });
        let by_id =
            |v: &RunView| run_checklist(v, &[], None).into_iter().find(|c| c.id == CheckId::NonzeroGradients).unwrap();
        assert_eq!(by_id(&v).check, Check::Pending, "nothing per tensor before an evaluation");
        let mut detached = eval_record(1, 3.0, None, None);
        detached.tensors.iter_mut().for_each(|t| t.grad_norm = 0.5);
        detached.tensors.iter_mut().take(3).for_each(|t| t.grad_norm = 0.0);
        let silent: Vec<String> = detached.tensors.iter().take(3).map(|t| t.name.clone()).collect();
        v.apply(1, RunEvent::Eval(detached));
        let nonzero = by_id(&v);
        assert_eq!(nonzero.check, Check::Fail);
        assert!(silent.iter().all(|name| nonzero.detail.contains(name.as_str())), "{}", nonzero.detail);
    }
}
