//! What the symptom panel makes of the detector's findings: which of the guide's causes the evidence
//! points to first, and which fixes are settings the page can apply and restart with.
//!
//! The detector itself reads telemetry only. The panel also knows the run's settings (what the learner
//! chose), so a fix can name the exact change; it uses the fault switches only to offer turning a
//! fault off, never to decide which cause is at work.

use crate::protocol::RunInfo;
use faultline_engine::diagnosis::{Evidence, Finding};
use faultline_engine::faults::FaultId;
use faultline_engine::guide::{CauseId, EntryId, GuideEntry};
use faultline_engine::memory::estimate;
use faultline_engine::RunConfig;

/// Findings the panel shows: the top one and up to this many more.
pub const SHOWN_FINDINGS: usize = 3;

/// The findings worth showing, most likely first.
pub fn shown(findings: &[Finding]) -> &[Finding] {
    &findings[..findings.len().min(SHOWN_FINDINGS)]
}

/// The guide cause the evidence points to first; `None` for an entry that lists no causes. The
/// detector's evidence names a cause where a measurement singles one out ([`Evidence::cause`]); the
/// run's settings decide the rest (clipping off, greedy decoding, a small corpus).
pub fn pointed_cause(
    entry: &GuideEntry,
    finding: &Finding,
    config: Option<&RunConfig>,
    info: Option<&RunInfo>,
) -> Option<CauseId> {
    let first = entry.causes.first()?.id;
    let cause = match entry.id {
        EntryId::LossBecomesNan => {
            let blamed_rate = finding.has(|e| matches!(e, Evidence::GradNormBeforeNan { .. }));
            let first_tensor = finding.evidence.first().and_then(Evidence::cause);
            if blamed_rate {
                None
            } else {
                first_tensor
            }
        }
        EntryId::ExplodingGradients if config.is_some_and(|c| c.grad_clip == 0.0) => Some(CauseId::NoClipping),
        EntryId::ExplodingGradients => Some(CauseId::ExplodingLr),
        EntryId::GradientsAreAllZero => first_cause(
            finding,
            &[
                |e| matches!(e, Evidence::GradientsPileUp { .. }),
                |e| matches!(e, Evidence::SilentWeights { .. } | Evidence::GradNormZero { .. }),
                |e| matches!(e, Evidence::DeadUnits { .. }),
            ],
        ),
        EntryId::ModelOutputsRepetitiveText if config.is_some_and(|c| c.sampling.greedy) => Some(CauseId::NoSampling),
        EntryId::ValidationLossIncreasingWhileTrainingLossDecreases => {
            let small_data = info.is_some_and(|i| i.corpus.train_tokens < 20_000);
            Some(if small_data { CauseId::TooLittleData } else { CauseId::TooMuchCapacity })
        }
        EntryId::ModelOutputsNonsense => first_cause(
            finding,
            &[
                |e| matches!(e, Evidence::LossJumped { .. }),
                |e| matches!(e, Evidence::UnseenBigrams { .. } | Evidence::SampleUnlikely { .. }),
            ],
        ),
        _ => finding.evidence.iter().find_map(Evidence::cause),
    };
    Some(cause.filter(|c| entry.causes.iter().any(|listed| listed.id == *c)).unwrap_or(first))
}

/// The cause of the first kind of evidence in `order` that the finding holds.
fn first_cause(finding: &Finding, order: &[fn(&Evidence) -> bool]) -> Option<CauseId> {
    order.iter().find_map(|pick| finding.evidence.iter().filter(|e| pick(e)).find_map(Evidence::cause))
}

/// A fix the page can apply: the run's settings with one change, and a sentence saying what changes.
#[derive(Clone, Debug, PartialEq)]
pub struct Fix {
    /// Stable name for the button (`data-fix`).
    pub id: String,
    pub label: String,
    pub config: RunConfig,
}

/// The fixes for `entry` that are settings, applied to the run's `config`. `vocab_size` (where known)
/// lets an out-of-memory fix check that it fits.
pub fn fixes_for(entry_id: EntryId, config: &RunConfig, vocab_size: Option<usize>) -> Vec<Fix> {
    let mut fixes: Vec<Fix> = Vec::new();
    let mut add = |id: &str, label: String, change: &dyn Fn(&mut RunConfig)| {
        let mut fixed = config.clone();
        change(&mut fixed);
        if fixed != *config && fixed.validate().is_ok() && fixes.iter().all(|f| f.config != fixed) {
            fixes.push(Fix { id: id.to_string(), label, config: fixed });
        }
    };
    let lr = config.lr;
    let scale_lr = |factor: f32| move |c: &mut RunConfig| c.lr = (lr * factor).clamp(1e-9, 100.0);
    let clip_off = config.grad_clip == 0.0 || config.faults.no_grad_clip;
    let clip_on = |c: &mut RunConfig| {
        c.grad_clip = 1.0;
        c.faults.no_grad_clip = false;
    };
    match entry_id {
        EntryId::LossBecomesNan | EntryId::ExplodingGradients => {
            add("lower-lr", format!("Lower the learning rate ×10 ({lr} → {})", lr / 10.0), &scale_lr(0.1));
            if clip_off {
                add("clip-on", "Turn gradient clipping on (max norm 1.0)".into(), &clip_on);
            }
        }
        EntryId::LossOscillatesWildly => {
            add("lower-lr", format!("Lower the learning rate ×3 ({lr} → {})", lr / 3.0), &scale_lr(1.0 / 3.0));
            if clip_off {
                add("clip-on", "Turn gradient clipping on (max norm 1.0)".into(), &clip_on);
            }
        }
        EntryId::LossDecreasesVerySlowly => {
            add("raise-lr", format!("Raise the learning rate ×3 ({lr} → {})", lr * 3.0), &scale_lr(3.0));
        }
        EntryId::LossStopsDecreasing if config.warmup_steps == 0 || config.faults.no_warmup => {
            add("warmup-on", "Warm the learning rate up over 50 steps".into(), &|c| {
                c.warmup_steps = c.warmup_steps.max(50);
                c.faults.no_warmup = false;
            });
        }
        EntryId::ModelOutputsRepetitiveText => {
            if config.sampling.greedy {
                add("sample", "Sample instead of always taking the most likely token".into(), &|c| {
                    c.sampling.greedy = false;
                });
            }
            if config.sampling.temperature < 0.7 {
                add("temperature", "Raise the sampling temperature to 0.8".into(), &|c| c.sampling.temperature = 0.8);
            }
            if config.sampling.repetition_penalty <= 1.0 {
                add("repetition-penalty", "Add a repetition penalty of 1.3".into(), &|c| {
                    c.sampling.repetition_penalty = 1.3;
                });
            }
        }
        EntryId::ValidationLossIncreasingWhileTrainingLossDecreases => {
            if config.dropout < 0.1 {
                add("dropout", "Add dropout 0.1".into(), &|c| c.dropout = 0.1);
            }
            if config.weight_decay < 0.1 {
                add("weight-decay", "Add weight decay 0.1".into(), &|c| c.weight_decay = 0.1);
            }
        }
        EntryId::OutOfMemoryOom => {
            if let Some(vocab) = vocab_size {
                if let Some(fix) = accumulate(config, vocab) {
                    add(&fix.id, fix.label, &|c| *c = fix.config.clone());
                }
                if let Some(fix) = smaller_batch(config, vocab) {
                    add(&fix.id, fix.label, &|c| *c = fix.config.clone());
                }
            }
        }
        _ => {}
    }
    for (id, _) in config.faults.active() {
        if causes_entry(id, entry_id) {
            add(&format!("fault-off-{id}"), format!("Turn the fault {id} off"), &|c| {
                let active: Vec<_> = c.faults.active().into_iter().filter(|(other, _)| *other != id).collect();
                c.faults = Default::default();
                for (other, value) in active {
                    c.faults.set(other, value).expect("an active fault sets again");
                }
            });
        }
    }
    fixes
}

/// Whether fault `id` produces the symptom of `entry_id`, or one the guide lists as related to it.
fn causes_entry(id: FaultId, entry_id: EntryId) -> bool {
    let shown = id.spec().guide_entry;
    shown == entry_id || entry_id.entry().related.contains(&shown)
}

/// Gradient accumulation: the same sequences per update, in micro-batches that fit in memory.
fn accumulate(config: &RunConfig, vocab: usize) -> Option<Fix> {
    let mut split = 2;
    while split <= config.batch_size {
        let micro = config.batch_size.div_ceil(split);
        let fixed = RunConfig { batch_size: micro, grad_accum: config.grad_accum * split, ..config.clone() };
        if estimate(&fixed, vocab).fits() {
            let rows = fixed.effective_batch();
            let label = format!(
                "Accumulate gradients: {} micro-batches of {rows} sequences per update (the same batch, a fraction of the memory)",
                fixed.grad_accum
            );
            return Some(Fix { id: "grad-accum".into(), label, config: fixed });
        }
        split *= 2;
    }
    None
}

/// A smaller batch: without the fault that inflates it, or halved until it fits.
fn smaller_batch(config: &RunConfig, vocab: usize) -> Option<Fix> {
    let mut fixed = config.clone();
    fixed.faults.batch_too_large = None;
    while !estimate(&fixed, vocab).fits() && fixed.batch_size > 1 {
        fixed.batch_size /= 2;
    }
    let how = if config.faults.batch_too_large.is_some() { "turn batch-too-large off, " } else { "" };
    estimate(&fixed, vocab).fits().then(|| Fix {
        id: "smaller-batch".into(),
        label: format!("Use a smaller batch: {how}{} sequences per step", fixed.effective_batch()),
        config: fixed,
    })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::protocol::test_support::run_info;
    use faultline_engine::OptimizerKind;

    fn finding(entry: EntryId, evidence: Vec<Evidence>) -> Finding {
        Finding { entry, confidence: 0.9, first_step: None, evidence }
    }

    fn cause(entry: EntryId, evidence: Vec<Evidence>, config: Option<&RunConfig>) -> CauseId {
        pointed_cause(entry.entry(), &finding(entry, evidence), config, None).unwrap()
    }

    fn ids(fixes: &[Fix]) -> Vec<&str> {
        fixes.iter().map(|f| f.id.as_str()).collect()
    }

    fn nan_in(tensor: &str) -> Evidence {
        Evidence::NonFinite { tensor: tensor.into(), step: 2 }
    }

    #[test]
    fn the_evidence_picks_the_cause() {
        let nan = EntryId::LossBecomesNan;
        let lr = vec![nan_in("activation block0.attn.branch"), Evidence::GradNormBeforeNan { peak: 1e9 }];
        assert_eq!(cause(nan, lr, None), CauseId::NanLrTooHigh);
        assert_eq!(cause(nan, vec![nan_in("activation block0.ln1")], None), CauseId::DivideByZero);
        assert_eq!(cause(nan, vec![nan_in("activation loss")], None), CauseId::LogOfZero);
        assert_eq!(cause(nan, vec![nan_in("activation block1.attn.probs")], None), CauseId::SoftmaxOverflow);
        let spike = || vec![Evidence::GradNormAboveGuide { peak: 1e5, step: 9, median: 1.0 }];
        let no_clip = RunConfig { grad_clip: 0.0, ..RunConfig::default() };
        assert_eq!(cause(EntryId::ExplodingGradients, spike(), Some(&no_clip)), CauseId::NoClipping);
        assert_eq!(cause(EntryId::ExplodingGradients, spike(), Some(&RunConfig::default())), CauseId::ExplodingLr);
        let zero = EntryId::GradientsAreAllZero;
        let dead = Evidence::DeadUnits { block: 0, fraction: 0.4 };
        let silent = Evidence::SilentWeights { silent: vec!["block0.attn.w_q".into()], weights: 9 };
        assert_eq!(cause(zero, vec![dead.clone()], None), CauseId::DeadRelu);
        assert_eq!(cause(zero, vec![dead, silent], None), CauseId::LossDetached, "silent weights outrank dead units");
        let case = Evidence::Roundtrip { example: Some(("The".into(), "the".into())) };
        let space = Evidence::Roundtrip { example: Some(("a  b".into(), "a b".into())) };
        assert_eq!(cause(EntryId::TokenizationDoesntRoundtrip, vec![case], None), CauseId::NormalizationDiffers);
        assert_eq!(cause(EntryId::TokenizationDoesntRoundtrip, vec![space], None), CauseId::LossyWhitespace);
        let overfit = EntryId::ValidationLossIncreasingWhileTrainingLossDecreases;
        let mut info = run_info(false);
        info.corpus.train_tokens = 2000;
        let rising = Evidence::ValidationRising { best_val: 1.0, best_step: 100, val: 1.5, step: 800, train: 0.2 };
        let pointed = pointed_cause(overfit.entry(), &finding(overfit, vec![rising]), None, Some(&info));
        assert_eq!(pointed, Some(CauseId::TooLittleData));
        let lr_entry = EntryId::FindingTheRightLearningRate;
        assert_eq!(pointed_cause(lr_entry.entry(), &finding(lr_entry, vec![]), None, None), None);
    }

    #[test]
    fn the_detectors_own_findings_point_to_the_causes() {
        use crate::protocol::test_support::step_record;
        use faultline_engine::diagnosis::diagnose;
        use faultline_engine::telemetry::History;
        use faultline_engine::{EngineError, StepRecord};
        let stopped = |tensor: &str, peak: f32| History {
            vocab_size: 29,
            steps: (1..=30)
                .map(|s| StepRecord { grad_norm: if s == 30 { peak } else { 1.0 }, ..step_record(s, 3.0) })
                .collect(),
            evals: Vec::new(),
            stopped: Some(EngineError::NonFinite { step: 31, tensor: tensor.into() }),
        };
        let nan = EntryId::LossBecomesNan;
        for (tensor, peak, expected) in [
            ("activation block0.attn.branch", 1e9, CauseId::NanLrTooHigh),
            ("activation block0.ln1", 1.0, CauseId::DivideByZero),
            ("activation loss", 1.0, CauseId::LogOfZero),
            ("activation block1.attn.probs", 1.0, CauseId::SoftmaxOverflow),
        ] {
            let findings = diagnose(&stopped(tensor, peak));
            let finding = findings.iter().find(|f| f.entry == nan).expect("the detector names the NaN");
            let pointed = pointed_cause(nan.entry(), finding, None, None);
            assert_eq!(pointed, Some(expected), "{tensor}: {:?}", finding.evidence);
        }
    }

    #[test]
    fn a_nan_offers_a_lower_rate_and_clipping() {
        let mut config = RunConfig { optimizer: OptimizerKind::Sgd, lr: 1.0, ..RunConfig::default() };
        config.faults.set(FaultId::NoGradClip, None).unwrap();
        let fixes = fixes_for(EntryId::LossBecomesNan, &config, Some(29));
        assert_eq!(ids(&fixes), ["lower-lr", "clip-on"], "turning no-grad-clip off is the same as clip-on");
        assert_eq!(fixes[0].config.lr, 0.1);
        assert!(!fixes[1].config.faults.no_grad_clip && fixes[1].config.grad_clip == 1.0);
        assert_eq!(fixes[0].label, "Lower the learning rate ×10 (1 → 0.1)");
    }

    #[test]
    fn faults_behind_the_symptom_can_be_turned_off() {
        let mut config = RunConfig::default();
        config.faults.set(FaultId::NoCausalMask, None).unwrap();
        config.faults.set(FaultId::GreedyDecoding, None).unwrap();
        let fixes = fixes_for(EntryId::AttentionLooksAtFutureInCausalModel, &config, Some(29));
        assert_eq!(ids(&fixes), ["fault-off-no-causal-mask"]);
        assert_eq!(fixes[0].config.faults.active(), [(FaultId::GreedyDecoding, None)]);
        assert!(fixes_for(EntryId::AttentionLooksAtFutureInCausalModel, &RunConfig::default(), None).is_empty());
    }

    #[test]
    fn out_of_memory_offers_accumulation_that_fits() {
        let mut config = RunConfig::default();
        config.faults.set(FaultId::BatchTooLarge, Some(128.0)).unwrap();
        assert!(!estimate(&config, 29).fits());
        let fixes = fixes_for(EntryId::OutOfMemoryOom, &config, Some(29));
        assert_eq!(ids(&fixes), ["grad-accum", "smaller-batch"], "turning the fault off is the smaller batch");
        let accum = &fixes[0].config;
        assert!(estimate(accum, 29).fits());
        assert!(accum.effective_batch() * accum.grad_accum >= config.effective_batch(), "the same batch per update");
        assert_eq!(fixes[1].config.effective_batch(), 16);
        assert_eq!(fixes[1].label, "Use a smaller batch: turn batch-too-large off, 16 sequences per step");
        assert!(fixes_for(EntryId::OutOfMemoryOom, &config, None).iter().all(|f| f.id.starts_with("fault-off")));
    }

    #[test]
    fn settings_fixes_for_the_other_entries() {
        let config = RunConfig { warmup_steps: 0, ..RunConfig::default() };
        assert_eq!(ids(&fixes_for(EntryId::LossStopsDecreasing, &config, None)), ["warmup-on"]);
        assert!(fixes_for(EntryId::LossStopsDecreasing, &RunConfig::default(), None).is_empty());
        assert_eq!(fixes_for(EntryId::LossDecreasesVerySlowly, &RunConfig::default(), None)[0].config.lr, 3e-3 * 3.0);
        let mut greedy = RunConfig::default();
        greedy.sampling.greedy = true;
        assert_eq!(
            ids(&fixes_for(EntryId::ModelOutputsRepetitiveText, &greedy, None)),
            ["sample", "repetition-penalty"]
        );
        assert_eq!(
            ids(&fixes_for(EntryId::ValidationLossIncreasingWhileTrainingLossDecreases, &RunConfig::default(), None)),
            ["dropout"]
        );
    }

    #[test]
    fn at_most_three_findings_are_shown() {
        let all: Vec<Finding> = EntryId::ALL[..5].iter().map(|&e| finding(e, vec![])).collect();
        assert_eq!(shown(&all).len(), 3);
        assert_eq!(shown(&all[..1]).len(), 1);
    }
}
