//! What the symptom panel makes of the detector's findings: which of the guide's causes the evidence
//! points to first, and which fixes are settings the page can apply and restart with.
//!
//! The detector itself reads telemetry only. The panel also knows the run's settings (what the learner
//! chose), so a fix can name the exact change; it uses the fault switches only to offer turning a
//! fault off, never to decide which cause is at work.

use crate::protocol::RunInfo;
use faultline_engine::diagnosis::Finding;
use faultline_engine::faults::FAULTS;
use faultline_engine::guide::{self, GuideEntry};
use faultline_engine::memory::estimate;
use faultline_engine::RunConfig;

/// Findings the panel shows: the top one and up to this many more.
pub const SHOWN_FINDINGS: usize = 3;

/// The findings worth showing, most likely first.
pub fn shown(findings: &[Finding]) -> &[Finding] {
    &findings[..findings.len().min(SHOWN_FINDINGS)]
}

/// The index (into `entry.causes`) of the cause the evidence points to first; `None` for an entry that
/// lists no causes.
pub fn pointed_cause(
    entry: &GuideEntry,
    finding: &Finding,
    config: Option<&RunConfig>,
    info: Option<&RunInfo>,
) -> Option<usize> {
    if entry.causes.is_empty() {
        return None;
    }
    let evidence = finding.evidence.join("\n");
    let has = |needle: &str| evidence.contains(needle);
    let clip_off = config.is_some_and(|c| c.grad_clip == 0.0);
    let cause = match entry.id {
        "loss-becomes-nan" => {
            let first = finding.evidence.first().map(String::as_str).unwrap_or_default();
            if has("gradient norm reached") {
                0
            } else if first.contains(".ln") || first.contains("lnf") {
                1
            } else if first.contains("activation loss") {
                2
            } else if first.contains("attn.probs") || first.contains("logits") {
                3
            } else {
                0
            }
        }
        "exploding-gradients" if clip_off => 0,
        "exploding-gradients" => 1,
        "gradients-are-all-zero" if has("pile up") => 0,
        "gradients-are-all-zero" if has("exactly zero gradient") => 1,
        "gradients-are-all-zero" if has("never fire") => 2,
        "model-outputs-repetitive-text" if has("with 0.00 nats of entropy") => 1,
        "model-outputs-repetitive-text" if config.is_some_and(|c| c.sampling.greedy) => 1,
        "model-outputs-nonsense" if has("jumped") => 2,
        "model-outputs-nonsense" if has("never occur") || has("not what it would write") => 1,
        "validation-loss-increasing-while-training-loss-decreases" => {
            let small_data = info.is_some_and(|i| i.corpus.train_tokens < 20_000);
            usize::from(small_data)
        }
        "training-is-very-slow" if has("reading back") => 2,
        "tokenization-doesnt-roundtrip" if has("came back") && !has_case_change(&evidence) => 1,
        _ => 0,
    };
    Some(cause.min(entry.causes.len() - 1))
}

/// Whether the round-trip evidence only differs in letter case.
fn has_case_change(evidence: &str) -> bool {
    let quoted: Vec<&str> = evidence.split('"').skip(1).step_by(2).collect();
    matches!(quoted.as_slice(), [a, b, ..] if a != b && a.to_lowercase() == b.to_lowercase())
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
pub fn fixes_for(entry_id: &str, config: &RunConfig, vocab_size: Option<usize>) -> Vec<Fix> {
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
        "loss-becomes-nan" | "exploding-gradients" => {
            add("lower-lr", format!("Lower the learning rate ×10 ({lr} → {})", lr / 10.0), &scale_lr(0.1));
            if clip_off {
                add("clip-on", "Turn gradient clipping on (max norm 1.0)".into(), &clip_on);
            }
        }
        "loss-oscillates-wildly" => {
            add("lower-lr", format!("Lower the learning rate ×3 ({lr} → {})", lr / 3.0), &scale_lr(1.0 / 3.0));
            if clip_off {
                add("clip-on", "Turn gradient clipping on (max norm 1.0)".into(), &clip_on);
            }
        }
        "loss-decreases-very-slowly" => {
            add("raise-lr", format!("Raise the learning rate ×3 ({lr} → {})", lr * 3.0), &scale_lr(3.0));
        }
        "loss-stops-decreasing" if config.warmup_steps == 0 || config.faults.no_warmup => {
            add("warmup-on", "Warm the learning rate up over 50 steps".into(), &|c| {
                c.warmup_steps = c.warmup_steps.max(50);
                c.faults.no_warmup = false;
            });
        }
        "model-outputs-repetitive-text" => {
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
        "validation-loss-increasing-while-training-loss-decreases" => {
            if config.dropout < 0.1 {
                add("dropout", "Add dropout 0.1".into(), &|c| c.dropout = 0.1);
            }
            if config.weight_decay < 0.1 {
                add("weight-decay", "Add weight decay 0.1".into(), &|c| c.weight_decay = 0.1);
            }
        }
        "out-of-memory-oom" => {
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
fn causes_entry(id: &str, entry_id: &str) -> bool {
    let Some(fault) = FAULTS.iter().find(|f| f.id == id) else { return false };
    fault.guide_entry == entry_id || guide::entry(entry_id).is_some_and(|e| e.related.contains(&fault.guide_entry))
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

    fn finding(entry: &str, evidence: &[&str]) -> Finding {
        Finding { entry: entry.into(), score: 0.9, evidence: evidence.iter().map(|e| e.to_string()).collect() }
    }

    fn cause(entry: &str, evidence: &[&str], config: Option<&RunConfig>) -> usize {
        pointed_cause(guide::entry(entry).unwrap(), &finding(entry, evidence), config, None).unwrap()
    }

    fn ids(fixes: &[Fix]) -> Vec<&str> {
        fixes.iter().map(|f| f.id.as_str()).collect()
    }

    #[test]
    fn the_evidence_picks_the_cause() {
        let nan = "loss-becomes-nan";
        let lr = [
            "NaN/Inf first appeared in activation block0.attn.branch at step 52; the run stopped",
            "the gradient norm reached 1.0e9",
        ];
        assert_eq!(cause(nan, &lr, None), 0);
        assert_eq!(cause(nan, &["NaN/Inf first appeared in activation block0.ln1 at step 1"], None), 1);
        assert_eq!(cause(nan, &["NaN/Inf first appeared in activation loss at step 2"], None), 2);
        assert_eq!(cause(nan, &["NaN/Inf first appeared in activation block1.attn.probs at step 2"], None), 3);
        let no_clip = RunConfig { grad_clip: 0.0, ..RunConfig::default() };
        assert_eq!(cause("exploding-gradients", &["gradient norm 1e5"], Some(&no_clip)), 0);
        assert_eq!(cause("exploding-gradients", &["gradient norm 1e5"], Some(&RunConfig::default())), 1);
        assert_eq!(cause("gradients-are-all-zero", &["40% of block 0's MLP units never fire"], None), 2);
        assert_eq!(cause("gradients-are-all-zero", &["3 of 9 weight matrices get exactly zero gradient"], None), 1);
        assert_eq!(cause("tokenization-doesnt-roundtrip", &["differs: \"The\" came back as \"the\""], None), 0);
        assert_eq!(cause("tokenization-doesnt-roundtrip", &["differs: \"a  b\" came back as \"a b\""], None), 1);
        let entry = guide::entry("validation-loss-increasing-while-training-loss-decreases").unwrap();
        let mut info = run_info(false);
        info.corpus.train_tokens = 2000;
        assert_eq!(pointed_cause(entry, &finding(entry.id, &["val rose"]), None, Some(&info)), Some(1));
        let lr_entry = guide::entry("finding-the-right-learning-rate").unwrap();
        assert_eq!(pointed_cause(lr_entry, &finding(lr_entry.id, &[]), None, None), None);
    }

    #[test]
    fn the_detectors_own_words_point_to_the_causes() {
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
        let nan = guide::entry("loss-becomes-nan").unwrap();
        for (tensor, peak, expected) in [
            ("activation block0.attn.branch", 1e9, 0),
            ("activation block0.ln1", 1.0, 1),
            ("activation loss", 1.0, 2),
            ("activation block1.attn.probs", 1.0, 3),
        ] {
            let findings = diagnose(&stopped(tensor, peak));
            let finding = findings.iter().find(|f| f.entry == nan.id).expect("the detector names the NaN");
            assert_eq!(pointed_cause(nan, finding, None, None), Some(expected), "{tensor}: {:?}", finding.evidence);
        }
    }

    #[test]
    fn a_nan_offers_a_lower_rate_and_clipping() {
        let mut config = RunConfig { optimizer: OptimizerKind::Sgd, lr: 1.0, ..RunConfig::default() };
        config.faults.set("no-grad-clip", None).unwrap();
        let fixes = fixes_for("loss-becomes-nan", &config, Some(29));
        assert_eq!(ids(&fixes), ["lower-lr", "clip-on"], "turning no-grad-clip off is the same as clip-on");
        assert_eq!(fixes[0].config.lr, 0.1);
        assert!(!fixes[1].config.faults.no_grad_clip && fixes[1].config.grad_clip == 1.0);
        assert_eq!(fixes[0].label, "Lower the learning rate ×10 (1 → 0.1)");
    }

    #[test]
    fn faults_behind_the_symptom_can_be_turned_off() {
        let mut config = RunConfig::default();
        config.faults.set("no-causal-mask", None).unwrap();
        config.faults.set("greedy-decoding", None).unwrap();
        let fixes = fixes_for("attention-looks-at-future-in-causal-model", &config, Some(29));
        assert_eq!(ids(&fixes), ["fault-off-no-causal-mask"]);
        assert_eq!(fixes[0].config.faults.active(), [("greedy-decoding", None)]);
        assert!(fixes_for("attention-looks-at-future-in-causal-model", &RunConfig::default(), None).is_empty());
    }

    #[test]
    fn out_of_memory_offers_accumulation_that_fits() {
        let mut config = RunConfig::default();
        config.faults.set("batch-too-large", Some(128.0)).unwrap();
        assert!(!estimate(&config, 29).fits());
        let fixes = fixes_for("out-of-memory-oom", &config, Some(29));
        assert_eq!(ids(&fixes), ["grad-accum", "smaller-batch"], "turning the fault off is the smaller batch");
        let accum = &fixes[0].config;
        assert!(estimate(accum, 29).fits());
        assert!(accum.effective_batch() * accum.grad_accum >= config.effective_batch(), "the same batch per update");
        assert_eq!(fixes[1].config.effective_batch(), 16);
        assert_eq!(fixes[1].label, "Use a smaller batch: turn batch-too-large off, 16 sequences per step");
        assert!(fixes_for("out-of-memory-oom", &config, None).iter().all(|f| f.id.starts_with("fault-off")));
    }

    #[test]
    fn settings_fixes_for_the_other_entries() {
        let config = RunConfig { warmup_steps: 0, ..RunConfig::default() };
        assert_eq!(ids(&fixes_for("loss-stops-decreasing", &config, None)), ["warmup-on"]);
        assert!(fixes_for("loss-stops-decreasing", &RunConfig::default(), None).is_empty());
        assert_eq!(fixes_for("loss-decreases-very-slowly", &RunConfig::default(), None)[0].config.lr, 3e-3 * 3.0);
        let mut greedy = RunConfig::default();
        greedy.sampling.greedy = true;
        assert_eq!(ids(&fixes_for("model-outputs-repetitive-text", &greedy, None)), ["sample", "repetition-penalty"]);
        assert_eq!(
            ids(&fixes_for("validation-loss-increasing-while-training-loss-decreases", &RunConfig::default(), None)),
            ["dropout"]
        );
    }

    #[test]
    fn at_most_three_findings_are_shown() {
        let all: Vec<Finding> = (0..5).map(|i| finding(&format!("e{i}"), &[])).collect();
        assert_eq!(shown(&all).len(), 3);
        assert_eq!(shown(&all[..1]).len(), 1);
    }
}
