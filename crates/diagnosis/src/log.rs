//! The detector on a log another program wrote: the same rules, reading only the signals the log
//! has, counting steps rather than records, and saying for every entry it cannot judge which signal
//! is missing and how to log it.

use crate::{judge, Assessment, Check, Evidence, Finding, Layers, Run, Step, Stop};
use faultline_guide::EntryId;
use faultline_telemetry::log::{LoggedRun, Point, Series, Signal};
use serde::{Deserialize, Serialize};

/// A signal the detector reads that a log may lack, with the entries it tells apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Needed {
    /// The global gradient norm before clipping, every step logged.
    GradNorm,
    /// The validation loss.
    ValLoss,
    /// The gradient norm of each layer.
    LayerGradNorms,
    /// The vocabulary size, for ln V (the loss of guessing uniformly).
    VocabSize,
    /// Each head's attention entropy and logit spread.
    AttentionEntropy,
    /// The attention a causal model puts on later positions.
    AttentionOnFuture,
    /// A generated sample with its repetition and the sampler's entropy.
    Samples,
    /// The tokenizer's `<UNK>` rate and round trip.
    Tokenizer,
    /// The size of each update relative to the weights.
    UpdateRatio,
    /// Where each step's time goes (data, forward, backward, optimiser, logging).
    StepPhases,
    /// Each weight's gradient norm (an exactly zero one is cut off) and the MLP units that never fire.
    ParamGrads,
    /// What the allocator refused.
    Memory,
}

impl Needed {
    pub const ALL: [Needed; 12] = [
        Needed::GradNorm,
        Needed::ValLoss,
        Needed::LayerGradNorms,
        Needed::VocabSize,
        Needed::AttentionEntropy,
        Needed::AttentionOnFuture,
        Needed::Samples,
        Needed::Tokenizer,
        Needed::UpdateRatio,
        Needed::StepPhases,
        Needed::ParamGrads,
        Needed::Memory,
    ];

    /// The entries that cannot be judged without it.
    pub fn entries(self) -> &'static [EntryId] {
        match self {
            Needed::GradNorm => {
                &[EntryId::ExplodingGradients, EntryId::GradientsAreAllZero, EntryId::ModelOutputsNonsense]
            }
            Needed::ValLoss => &[EntryId::ValidationLossIncreasingWhileTrainingLossDecreases],
            Needed::LayerGradNorms => &[EntryId::VanishingGradients],
            Needed::VocabSize => &[EntryId::ExplodingGradients, EntryId::LossOscillatesWildly],
            Needed::AttentionEntropy => &[EntryId::AttentionWeightsAreUniform, EntryId::LossStopsDecreasing],
            Needed::AttentionOnFuture => &[EntryId::AttentionLooksAtFutureInCausalModel],
            Needed::Samples => &[EntryId::ModelOutputsRepetitiveText, EntryId::ModelOutputsNonsense],
            Needed::Tokenizer => &[EntryId::ManyUnkTokens, EntryId::TokenizationDoesntRoundtrip],
            Needed::UpdateRatio => &[EntryId::LossDecreasesVerySlowly],
            Needed::StepPhases => &[EntryId::TrainingIsVerySlow],
            Needed::ParamGrads => &[EntryId::GradientsAreAllZero],
            Needed::Memory => &[EntryId::OutOfMemoryOom],
        }
    }

    /// What to log, in a sentence.
    pub fn what(self) -> &'static str {
        match self {
            Needed::GradNorm => "the global gradient norm before clipping, at every logged step (`grad_norm`)",
            Needed::ValLoss => "the loss on held-out data at each evaluation (`eval_loss` or `val_loss`)",
            Needed::LayerGradNorms => "each layer's gradient norm (`grad_norm/<layer>`)",
            Needed::VocabSize => "the vocabulary size (`--vocab-size V`), or the loss of the very first steps",
            Needed::AttentionEntropy => "each head's attention entropy on a fixed batch",
            Needed::AttentionOnFuture => "the attention probability above the diagonal on a fixed batch",
            Needed::Samples => "a generated sample at each evaluation, and the decoding settings",
            Needed::Tokenizer => "the share of <UNK> tokens and whether decode(encode(text)) == text",
            Needed::UpdateRatio => "‖Δw‖/‖w‖ of each weight matrix after a step",
            Needed::StepPhases => "the time of each phase of a step (data, forward, backward, optimiser)",
            Needed::ParamGrads => "each weight's gradient norm, and the share of MLP units that never fire",
            Needed::Memory => "the error that stopped the run (`CUDA out of memory`) and the peak memory",
        }
    }

    /// A few lines of PyTorch that log it.
    pub fn snippet(self) -> &'static str {
        match self {
            Needed::GradNorm => {
                "norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=float('inf'))\nlog({'step': step, 'grad_norm': norm.item()})"
            }
            Needed::ValLoss => {
                "model.eval()\nwith torch.no_grad():\n    val = sum(model(x, y).loss.item() for x, y in val_batches) / len(val_batches)\nmodel.train()\nlog({'step': step, 'val_loss': val})"
            }
            Needed::LayerGradNorms => {
                "for i, block in enumerate(model.transformer.h):\n    g = torch.cat([p.grad.flatten() for p in block.parameters() if p.grad is not None])\n    log({'step': step, f'grad_norm/h.{i}': g.norm().item()})"
            }
            Needed::VocabSize => "faultline diagnose LOG --vocab-size 50257   # the tokenizer's len(tokenizer)",
            Needed::AttentionEntropy => {
                "out = model(x, output_attentions=True)\nfor i, a in enumerate(out.attentions):   # [B, heads, T, T]\n    ent = -(a * a.clamp_min(1e-12).log()).sum(-1).mean((0, 2))\n    log({'step': step, **{f'attn_entropy/{i}.{h}': e.item() for h, e in enumerate(ent)}})"
            }
            Needed::AttentionOnFuture => {
                "out = model(x, output_attentions=True)\nfor i, a in enumerate(out.attentions):\n    future = torch.triu(torch.ones_like(a[0, 0]), 1)\n    log({'step': step, f'attn_future/{i}': (a * future).sum(-1).mean().item()})"
            }
            Needed::Samples => {
                "ids = model.generate(prompt, max_new_tokens=200, do_sample=True, temperature=1.0)\nlog({'step': step, 'sample': tokenizer.decode(ids[0])})"
            }
            Needed::Tokenizer => {
                "ids = tokenizer(text)['input_ids']\nlog({'unk_rate': ids.count(tokenizer.unk_token_id) / len(ids),\n     'roundtrip_ok': tokenizer.decode(ids) == text})"
            }
            Needed::UpdateRatio => {
                "before = {n: p.detach().clone() for n, p in model.named_parameters() if p.dim() == 2}\noptimizer.step()\nfor n, p in model.named_parameters():\n    if n in before:\n        log({f'update_ratio/{n}': ((p - before[n]).norm() / p.norm()).item()})"
            }
            Needed::StepPhases => {
                "torch.cuda.synchronize(); t0 = time.perf_counter()\nx, y = next(loader); torch.cuda.synchronize(); t1 = time.perf_counter()\nloss = model(x, y).loss; loss.backward(); optimizer.step(); torch.cuda.synchronize()\nlog({'data_ms': (t1 - t0) * 1e3, 'compute_ms': (time.perf_counter() - t1) * 1e3})"
            }
            Needed::ParamGrads => {
                "for n, p in model.named_parameters():\n    if p.grad is None or p.grad.count_nonzero() == 0:\n        print(f'step {step}: {n} gets no gradient')"
            }
            Needed::Memory => "log({'step': step, 'max_memory_mib': torch.cuda.max_memory_allocated() / 2**20})",
        }
    }
}

/// What a rule reads besides the training loss: its measurement can be made on a log only where
/// the log has these.
pub fn needs(e: &Evidence) -> &'static [Needed] {
    match e {
        Evidence::NonFinite { .. }
        | Evidence::LoggedNonFinite { .. }
        | Evidence::Oscillation { .. }
        | Evidence::EarlySpike { .. } => &[],
        Evidence::ExplodedBeforeNan { .. }
        | Evidence::GradNormBeforeNan { .. }
        | Evidence::GradNormAboveGuide { .. }
        | Evidence::GradNormSpike { .. }
        | Evidence::GradientsPileUp { .. }
        | Evidence::SpikeThrewLoss { .. }
        | Evidence::GradNormZero { .. }
        | Evidence::LossJumped { .. } => &[Needed::GradNorm],
        Evidence::OutOfMemory { .. } => &[Needed::Memory],
        Evidence::CausalLeak { .. } => &[Needed::AttentionOnFuture],
        Evidence::UnkTokens { .. } | Evidence::Roundtrip { .. } => &[Needed::Tokenizer],
        Evidence::RepeatedNgrams { .. }
        | Evidence::DecodingDiscardsEntropy { .. }
        | Evidence::SampleUnlikely { .. }
        | Evidence::UnseenBigrams { .. } => &[Needed::Samples],
        Evidence::UnscaledLogits { .. } | Evidence::SharperAttention { .. } | Evidence::Plateau { .. } => {
            &[Needed::AttentionEntropy]
        }
        Evidence::DeadUnits { .. } | Evidence::SilentWeights { .. } => &[Needed::ParamGrads],
        Evidence::LayerGradients { .. } => &[Needed::LayerGradNorms],
        Evidence::ValidationRising { .. } => &[Needed::ValLoss],
        Evidence::SmallUpdates { .. } => &[Needed::UpdateRatio],
        Evidence::FirstLossAboveLnV { .. } | Evidence::LossAboveLnV { .. } => &[Needed::VocabSize],
        Evidence::SlowSteps { .. } => &[Needed::StepPhases],
        Evidence::DpoLossFlat { .. } | Evidence::RewardHacking { .. } => &[],
    }
}

/// An entry the log cannot say anything about, and the signal it lacks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Missing {
    pub entry: EntryId,
    pub signal: Needed,
}

/// Where ln V came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "source")]
pub enum Vocab {
    /// Given by the user (`--vocab-size`).
    Given { size: usize },
    /// Estimated as e^(first loss), the first loss logged within the first steps of a run taken to
    /// start from scratch (a fine-tune starts far below ln V: then pass the size).
    Estimated { size: usize, first_loss: f32, step: u64 },
    /// Unknown: the rules that compare the loss with ln V abstain.
    Unknown,
}

/// What the detector made of one logged run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogReport {
    /// The last step the log reached.
    pub steps: u64,
    /// Optimiser steps between the loss's records (the logging interval).
    pub stride: usize,
    /// The names of the scalars the log has.
    pub signals: Vec<String>,
    pub vocab: Vocab,
    /// Entries named, most likely first.
    pub findings: Vec<Finding>,
    /// Entries watched but not named: below the reporting line.
    pub watching: Vec<Finding>,
    /// Entries the log cannot speak to, with the signal each lacks.
    pub missing: Vec<Missing>,
}

/// A first loss logged this late is not the initial weights': it cannot estimate ln V.
const ESTIMATE_WITHIN: u64 = 10;

/// Fewer loss records than this are too few for any rule that reads the curve.
pub const MIN_RECORDS: usize = 20;

/// Diagnoses one logged run. `vocab_size` is the user's; without it ln V is estimated from a first
/// loss logged within the first 10 steps, and otherwise left unknown.
pub fn diagnose_log(log: &LoggedRun, vocab_size: Option<usize>) -> LogReport {
    let loss = log.get(&Signal::Loss).map_or(&[][..], |s| &s.points[..]);
    let vocab = match (vocab_size, loss.first()) {
        (Some(size), _) => Vocab::Given { size },
        (None, Some(first)) if first.step <= ESTIMATE_WITHIN && first.value.is_finite() && first.value > 0.0 => {
            Vocab::Estimated {
                size: first.value.exp().round().max(2.0) as usize,
                first_loss: first.value,
                step: first.step,
            }
        }
        _ => Vocab::Unknown,
    };
    let ln_v = match &vocab {
        Vocab::Given { size } | Vocab::Estimated { size, .. } => Some((*size as f32).ln()),
        Vocab::Unknown => None,
    };
    let grad = log.get(&Signal::GradNorm).map(|s| &s.points[..]);
    // The log ends where a loss or gradient norm first turns non-finite, as the engine stops there.
    let bad = |points: &[Point]| points.iter().find(|p| !p.value.is_finite()).map(|p| p.step);
    let stop = [(bad(loss), "loss"), (grad.and_then(bad), "grad_norm")]
        .into_iter()
        .filter_map(|(step, signal)| step.map(|s| (s, signal)))
        .min_by_key(|&(s, _)| s);
    let end = stop.map_or(u64::MAX, |(s, _)| s);
    let steps: Vec<Step> = loss
        .iter()
        .filter(|p| p.step < end)
        .map(|p| Step { step: p.step as usize, loss: p.value, grad_norm: at(grad, p.step), times: None })
        .collect();
    let stride = {
        let mut gaps: Vec<u64> = loss.windows(2).map(|w| w[1].step - w[0].step).collect();
        gaps.sort_unstable();
        gaps.get(gaps.len() / 2).map_or(1, |&g| g.max(1) as usize)
    };
    let checks = log.get(&Signal::ValLoss).map_or_else(Vec::new, |val| {
        val.points
            .iter()
            .filter(|p| p.step < end)
            .filter_map(|p| {
                let i = steps.partition_point(|s| s.step as u64 <= p.step);
                let train = steps.get(i.checked_sub(1)?)?.loss;
                Some(Check { step: p.step as usize, train, val: Some(p.value) })
            })
            .collect()
    });
    let layers = layer_norms(log, end);
    let run = Run {
        ln_v,
        stride,
        steps,
        checks,
        evals: &[],
        stop: stop.map(|(step, signal)| Stop::Logged { signal, step: step as usize }),
        layers,
    };
    // Dated at twenty points along the run: when each finding first showed.
    let ends: Vec<usize> =
        (1..=20).map(|k| run.steps.len() * k / 20).filter(|&n| n > 0).map(|n| run.steps[n - 1].step).collect();
    let Assessment { findings, watching } = if run.steps.len() >= MIN_RECORDS || run.stop.is_some() {
        judge(&run, &ends)
    } else {
        Assessment { findings: Vec::new(), watching: Vec::new() }
    };
    let has = |n: Needed| match n {
        Needed::GradNorm => grad.is_some(),
        Needed::ValLoss => !run.checks.is_empty(),
        Needed::LayerGradNorms => !run.layers.is_empty(),
        Needed::VocabSize => vocab_size.is_some(),
        _ => false,
    };
    let named: Vec<EntryId> = findings.iter().map(|f| f.entry).collect();
    let missing = Needed::ALL
        .into_iter()
        .filter(|&n| !has(n))
        .flat_map(|n| n.entries().iter().map(move |&entry| Missing { entry, signal: n }))
        .filter(|m| !named.contains(&m.entry))
        .collect();
    LogReport {
        steps: log.series.iter().filter_map(|s| s.points.last()).map(|p| p.step).max().unwrap_or(0),
        stride,
        signals: log.series.iter().filter(|s| !s.points.is_empty()).map(|s| s.signal.name()).collect(),
        vocab,
        findings,
        watching,
        missing,
    }
}

/// The value of `series` logged at exactly `step`.
fn at(series: Option<&[Point]>, step: u64) -> Option<f32> {
    let points = series?;
    let i = points.binary_search_by_key(&step, |p| p.step).ok()?;
    Some(points[i].value)
}

/// The first and last layer's gradient norms at each step where both were logged, layers ordered by
/// the first number in their names (`h.0`, `layers.11.mlp`), then by name.
fn layer_norms(log: &LoggedRun, end: u64) -> Vec<(usize, Layers)> {
    let mut layers: Vec<(&str, &Series)> = log
        .series
        .iter()
        .filter_map(|s| match &s.signal {
            Signal::LayerGradNorm(name) => Some((name.as_str(), s)),
            _ => None,
        })
        .collect();
    if layers.len() < 2 {
        return Vec::new();
    }
    let number = |name: &str| -> Option<u64> {
        let digits: String =
            name.chars().skip_while(|c| !c.is_ascii_digit()).take_while(|c| c.is_ascii_digit()).collect();
        digits.parse().ok()
    };
    layers.sort_by(|a, b| (number(a.0), a.0).cmp(&(number(b.0), b.0)));
    let (first, last) = (layers[0], layers[layers.len() - 1]);
    first
        .1
        .points
        .iter()
        .filter(|p| p.step < end)
        .filter_map(|p| {
            let l = at(Some(&last.1.points), p.step)?;
            Some((p.step as usize, Layers { first: (first.0.to_string(), p.value), last: (last.0.to_string(), l) }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log with a record every `every` steps up to `steps`: the loss `loss(step)`, a gradient norm near 1.
    fn logged(steps: u64, every: u64, loss: impl Fn(u64) -> f32) -> LoggedRun {
        let mut run = LoggedRun { name: "run".into(), series: Vec::new() };
        for step in (every..=steps).step_by(every as usize) {
            run.push(Signal::Loss, step, loss(step));
            run.push(Signal::GradNorm, step, 1.0 + 0.2 * ((step * 7919 % 13) as f32 / 6.0 - 1.0));
        }
        run
    }

    fn entries(r: &LogReport) -> Vec<EntryId> {
        r.findings.iter().map(|f| f.entry).collect()
    }

    #[test]
    fn a_loss_above_ln_v_is_named_only_where_ln_v_is_known_and_counted_in_steps() {
        // Every 10 steps, from step 50: the loss sits above ln 30 + 1 from step 300 on.
        let high = |step: u64| if step >= 300 { 5.0 } else { 2.0 };
        let log = logged(600, 10, high);
        let given = diagnose_log(&log, Some(30));
        assert_eq!(given.stride, 10);
        assert_eq!(entries(&given), [EntryId::LossOscillatesWildly], "{given:?}");
        assert_eq!(given.findings[0].first_step.map(|s| s >= 300), Some(true));
        let unknown = diagnose_log(&LoggedRun { series: log.series.clone(), ..log.clone() }, None);
        assert_eq!(unknown.vocab, Vocab::Estimated { size: 7, first_loss: 2.0, step: 10 });
        let late = logged(600, 50, high);
        let unknown = diagnose_log(&late, None);
        assert_eq!(unknown.vocab, Vocab::Unknown, "a first record at step 50 says nothing about ln V");
        assert!(entries(&unknown).is_empty(), "{unknown:?}");
        assert!(unknown.missing.contains(&Missing { entry: EntryId::LossOscillatesWildly, signal: Needed::VocabSize }));
    }

    #[test]
    fn layer_gradient_norms_in_a_log_show_vanishing_gradients_and_their_absence_is_reported() {
        let falling = |step: u64| 3.0 - 0.5 * (step as f32 / 600.0);
        let mut log = logged(600, 10, falling);
        let plain = diagnose_log(&log, Some(30));
        assert!(plain
            .missing
            .contains(&Missing { entry: EntryId::VanishingGradients, signal: Needed::LayerGradNorms }));
        for step in (100..=600).step_by(100) {
            log.push(Signal::LayerGradNorm("h.0".into()), step, 0.001);
            log.push(Signal::LayerGradNorm("h.11".into()), step, 0.5);
            log.push(Signal::LayerGradNorm("h.2".into()), step, 0.1);
        }
        let r = diagnose_log(&log, Some(30));
        assert_eq!(entries(&r), [EntryId::VanishingGradients], "{r:?}");
        assert!(r.findings[0].evidence[0].to_string().starts_with("layer h.0's gradient norm"), "{r:?}");
        assert!(!r.missing.iter().any(|m| m.signal == Needed::LayerGradNorms));
    }

    #[test]
    fn a_log_too_short_to_read_names_nothing_but_a_nan() {
        let short = logged(50, 10, |_| 2.0);
        assert!(diagnose_log(&short, Some(30)).findings.is_empty());
        let mut nan = short.clone();
        nan.push(Signal::Loss, 60, f32::NAN);
        let r = diagnose_log(&nan, Some(30));
        assert_eq!(entries(&r), [EntryId::LossBecomesNan]);
        assert_eq!(r.findings[0].first_step, Some(60));
    }
}
