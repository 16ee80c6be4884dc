//! The exercises' checks: pure functions of what the learner did ([`Lab`]), each saying why it does not
//! pass yet in words the learner can act on, or what it measured when it does. [`checks`] names which
//! pair each exercise uses; its match is exhaustive, so an exercise without checks does not compile.

use super::measure::*;
use super::progress::Evidence;
use super::{Check, CheckFn, ExerciseId, Lab};
use crate::align_view::AlignView;
use crate::generation::GENERATION_KEYS;
use crate::run_view::{RunState, RunView};
use faultline_engine::faults::FaultId;
use faultline_engine::guide::EntryId;
use faultline_engine::sampling::SamplingConfig;
use faultline_engine::RunConfig;

/// The checks of an exercise's two stages.
pub(super) struct Checks {
    pub reproduce: CheckFn,
    pub fix: CheckFn,
}

/// Exercise `id`'s checks.
pub(super) fn checks(id: ExerciseId) -> Checks {
    let (reproduce, fix): (CheckFn, CheckFn) = match id {
        ExerciseId::FirstRun => (first_run_starts_at_ln_v, first_run_learns),
        ExerciseId::Overfit => (overfits, generalises),
        ExerciseId::Explode => (explodes, calmed),
        ExerciseId::FindLr => (crawls, found_by_range_test),
        ExerciseId::Warmup => (stalls, ramped),
        ExerciseId::Temperature => (repeats, resampled),
        ExerciseId::Tokenization => (unknowns, all_known),
        ExerciseId::Roundtrip => (lossy, all_known),
        ExerciseId::Nonsense => (garbles, readable),
        ExerciseId::Oom => (out_of_memory, accumulated),
        ExerciseId::Slow => (slow, fast),
        ExerciseId::Clip => (explodes_unclipped, clipped),
        ExerciseId::ZeroGrad => (piles_up, cleared),
        ExerciseId::DeadRelu => (dead, alive),
        ExerciseId::Stuck => (no_gradient, gradient_arrives),
        ExerciseId::Vanishing => (vanishing, flowing),
        ExerciseId::PostNorm => (post_norm_stalls, post_norm_trains),
        ExerciseId::Nan => (nan, stable),
        ExerciseId::Cheating => (cheats, masked),
        ExerciseId::AttnScale => (unscaled, scaled),
        ExerciseId::Dpo => (dpo_stalls, dpo_learns),
        ExerciseId::RewardHacking => (hacks, stays_honest),
    };
    Checks { reproduce, fix }
}

fn pass(value: f32, text: String) -> Check {
    Ok(Evidence { value, text })
}

fn missing(what: &str) -> String {
    format!("this run has no {what} yet")
}

/// The fix run's final loss `last` is more than `margin` below the reproduce run's `before`; that loss.
fn below(last: f32, before: Option<f32>, margin: f32) -> Result<f32, String> {
    let b = before.ok_or_else(|| "reproduce the symptom first: the fix is compared with that run".to_string())?;
    require(last < b - margin, || {
        format!("the loss ended at {last:.2}, not more than {margin} below your reproduce run's {b:.2}")
    })?;
    Ok(b)
}

/// The first of `faults` the run has switched on, or which to switch on.
fn one_of(v: &RunView, faults: &[FaultId]) -> Result<FaultId, String> {
    faults.iter().copied().find(|&id| has_fault(v, id)).ok_or_else(|| {
        let names: Vec<&str> = faults.iter().map(|id| id.as_str()).collect();
        format!("this run has none of {} switched on: apply a setup first", names.join(", "))
    })
}

/// The first characters of the run's latest sample, for quoting.
fn excerpt(v: &RunView) -> String {
    let text = v.evals.last().and_then(|e| e.sample.as_ref()).map_or("", |s| s.text.as_str());
    let short: String = text.chars().take(40).collect();
    short.replace('\n', " ")
}

// 1. The first run, read against ln V.

fn first_run_starts_at_ln_v(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    over(v)?;
    require(v.is_fault_free(), || "this run has a fault switched on; the first run has none".into())?;
    let ln_v = ln_v(v).ok_or_else(|| missing("vocabulary size"))?;
    let first = first_loss(v).ok_or_else(|| missing("step"))?;
    require((first - ln_v).abs() < 0.5, || format!("the first loss was {first:.2}, not near ln V = {ln_v:.2}"))?;
    pass(
        first,
        format!(
            "your first loss was {first:.2}, next to ln V = {ln_v:.2} (V = {}): the untrained model spreads its guesses evenly",
            v.vocab_size().unwrap_or(0)
        ),
    )
}

fn first_run_learns(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    finished(v)?;
    require(v.is_fault_free(), || "this run has a fault switched on; the first run has none".into())?;
    let ln_v = ln_v(v).ok_or_else(|| missing("vocabulary size"))?;
    let last = final_loss(v).ok_or_else(|| missing("loss"))?;
    require(last < ln_v - 1.0, || format!("the loss ended at {last:.2}, less than 1 nat below ln V = {ln_v:.2}"))?;
    let floor = v.entropy_rate().map(|h| format!("; the text's own floor is {h:.2}")).unwrap_or_default();
    pass(
        last,
        format!(
            "after {} steps your loss was {last:.2}, {:.2} below ln V = {ln_v:.2}{floor}",
            v.steps_done,
            ln_v - last
        ),
    )
}

// 2. Make it explode, then fix it with a lower learning rate and clipping.

fn explodes(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    with_fault(v, FaultId::LrTooHigh)?;
    over(v)?;
    let ln_v = ln_v(v).ok_or_else(|| missing("vocabulary size"))?;
    if let Some(stop) = &v.stop {
        return Err(format!(
            "your run hit a non-finite value in {} at step {}: that is a NaN, the next entry's symptom, not a swing; \
             use the setup's factor (×300)",
            stop.tensor, stop.step
        ));
    }
    let peak = peak_loss(v).ok_or_else(|| missing("loss"))?;
    require(peak > ln_v + 1.0, || format!("the loss peaked at {peak:.2}, not above ln V + 1 = {:.2}", ln_v + 1.0))?;
    let lr = v.config.as_ref().map_or(0.0, |c| c.lr * c.faults.lr_too_high.unwrap_or(1.0));
    pass(peak, format!("at lr {lr} your loss peaked at {peak:.2}, above ln V = {ln_v:.2}: worse than guessing"))
}

fn calmed(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    finished(v)?;
    let ln_v = ln_v(v).ok_or_else(|| missing("vocabulary size"))?;
    let last = final_loss(v).ok_or_else(|| missing("loss"))?;
    require(last < ln_v - 1.0, || format!("the loss ended at {last:.2}, not 1 nat below ln V = {ln_v:.2}"))?;
    require(!named(v, EntryId::LossOscillatesWildly), || "the detector still sees the loss oscillating".into())?;
    let lr = v.config.as_ref().map_or(0.0, |c| c.faults.apply_lr(c.lr));
    let before = before.map(|b| format!(", where the ×300 rate peaked at {b:.2}")).unwrap_or_default();
    pass(last, format!("at lr {lr} your loss ended at {last:.2}, {:.2} below ln V{before}", ln_v - last))
}

// 3. Find the learning rate with the range test.

fn crawls(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    with_fault(v, FaultId::LrTooLow)?;
    finished(v)?;
    let ln_v = ln_v(v).ok_or_else(|| missing("vocabulary size"))?;
    let (first, last) = first_loss(v).zip(final_loss(v)).ok_or_else(|| missing("loss"))?;
    let fell = first - last;
    require(fell < 0.5, || format!("the loss fell {fell:.2} nats, from {first:.2} to {last:.2}: not a crawl"))?;
    let lr = v.config.as_ref().map_or(0.0, |c| c.lr / c.faults.lr_too_low.unwrap_or(1.0));
    pass(
        last,
        format!(
            "at an effective lr of {lr:.1e} the loss fell only {fell:.2} nats in {} steps, from {first:.2} to {last:.2} (ln V = {ln_v:.2})",
            v.steps_done
        ),
    )
}

fn found_by_range_test(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    let suggestion = lab.range.suggestion().ok_or_else(|| {
        "no suggestion from the range test yet: run it on the trainer page and wait for it to finish".to_string()
    })?;
    without_fault(v, FaultId::LrTooLow)?;
    let c = v.config.as_ref().ok_or_else(|| missing("settings"))?;
    require((c.lr / suggestion.lr - 1.0).abs() < 0.01, || {
        format!("this run's lr is {}, not the suggested {:.3e}: press Use, then Start", c.lr, suggestion.lr)
    })?;
    finished(v)?;
    let ln_v = ln_v(v).ok_or_else(|| missing("vocabulary size"))?;
    let last = final_loss(v).ok_or_else(|| missing("loss"))?;
    require(last < ln_v - 1.0, || format!("the loss ended at {last:.2}, not 1 nat below ln V = {ln_v:.2}"))?;
    let before = before.map(|b| format!(", against {b:.2} with the crawling rate")).unwrap_or_default();
    pass(
        last,
        format!(
            "the range test's loss was lowest ({:.2}) at lr {:.1e}; a tenth of that, {:.1e}, took your run to {last:.2}{before}",
            suggestion.lowest_loss, suggestion.lowest_lr, c.lr
        ),
    )
}

// 4. The cheating model: no causal mask.

fn cheats(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    with_fault(v, FaultId::NoCausalMask)?;
    over(v)?;
    let above = last_eval(v)?.max_attention_above_diagonal();
    require(above > 0.3, || format!("at most {:.0}% of a head's attention is on later positions", above * 100.0))?;
    let loss = final_loss(v).unwrap_or(f32::NAN);
    pass(above, format!("{:.0}% of one head's attention went to later positions (loss {loss:.2})", above * 100.0))
}

fn masked(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    without_fault(v, FaultId::NoCausalMask)?;
    finished(v)?;
    let above = last_eval(v)?.max_attention_above_diagonal();
    require(above == 0.0, || format!("{:.0}% of attention still lands on later positions", above * 100.0))?;
    let before = before.map(|b| format!(" instead of {:.0}%", b * 100.0)).unwrap_or_default();
    let loss = final_loss(v).unwrap_or(f32::NAN);
    pass(above, format!("with the mask back no head looked ahead (0%{before}); loss {loss:.2}"))
}

// 5. Sampling temperature and repetition.

fn sample_of(v: &RunView) -> Result<&faultline_engine::telemetry::SampleStats, String> {
    last_eval(v)?.sample.as_ref().ok_or_else(|| missing("sample"))
}

/// How many more of a sample's 4-grams may repeat than of the text's own before it counts as
/// repetitive: the detector's line (healthy samples repeat up to 11 points more, cold decoding 10–53).
const REPEAT_EXCESS: f32 = 0.15;

fn repeats(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    one_of(v, &[FaultId::TemperatureTooLow, FaultId::GreedyDecoding])?;
    over(v)?;
    let s = sample_of(v)?;
    require(s.repeated_ngram_rate > s.reference_ngram_rate + REPEAT_EXCESS, || {
        format!(
            "{:.0}% of the sample's 4-grams repeat, against {:.0}% of the text's own: not yet repetitive",
            s.repeated_ngram_rate * 100.0,
            s.reference_ngram_rate * 100.0
        )
    })?;
    pass(
        s.repeated_ngram_rate,
        format!(
            "the sampler kept {:.2} of the model's {:.2} nats of choice and {:.0}% of the sample's 4-grams repeated (the text itself: {:.0}%)",
            s.sampler_entropy,
            s.model_entropy,
            s.repeated_ngram_rate * 100.0,
            s.reference_ngram_rate * 100.0
        ),
    )
}

/// The decoding settings `new` changes from `old`, each with both values (`repetition-penalty 1 → 1.3`).
fn decoding_changes(old: &SamplingConfig, new: &SamplingConfig) -> Vec<String> {
    let with = |sampling: &SamplingConfig| RunConfig { sampling: sampling.clone(), ..RunConfig::default() };
    let (old, new) = (with(old), with(new));
    GENERATION_KEYS
        .iter()
        .filter(|&&key| old.get(key) != new.get(key))
        .map(|&key| format!("{key} {} → {}", old.get(key), new.get(key)))
        .collect()
}

/// The fix of a decoding fault: the model the run trained, sampled again (the Generate panel) with
/// decoding settings of the learner's own, repeats no more than the text's own 4-grams allow, and less
/// than the run's own samples (`before`). No new run: whether this is the reproduce run's model is
/// [`super::check_fix`]'s to say.
fn resampled(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    over(v)?;
    let own = v.config.as_ref().ok_or_else(|| missing("settings"))?.decoding();
    let generated = v.generated.as_ref().ok_or_else(|| {
        "no new run is needed: in the trainer's Generate panel, sample this model again decoded another way (a \
         repetition penalty, a warmer temperature, top-p) and press Generate"
            .to_string()
    })?;
    require(generated.step == v.steps_done, || {
        format!(
            "that text came from the model after {} steps; generate again from the trained model ({} steps)",
            generated.step, v.steps_done
        )
    })?;
    let s = generated.sample.as_ref().map_err(|e| format!("the text could not be generated: {e}"))?;
    let changes = decoding_changes(&own, &generated.sampling);
    require(!changes.is_empty(), || {
        "that text was decoded exactly as the run decodes its own samples: change how it decodes (a repetition \
         penalty, a warmer temperature, top-p) and generate again"
            .into()
    })?;
    let changed = changes.join(", ");
    require(s.repeated_ngram_rate <= s.reference_ngram_rate + REPEAT_EXCESS, || {
        format!(
            "decoded with {changed}, {:.0}% of the text's 4-grams still repeat, against {:.0}% of the validation \
             text's own",
            s.repeated_ngram_rate * 100.0,
            s.reference_ngram_rate * 100.0
        )
    })?;
    if let Some(b) = before {
        require(s.repeated_ngram_rate < b, || {
            format!(
                "decoded with {changed}, {:.0}% of the text's 4-grams repeat: not fewer than the {:.0}% of your \
                 reproduce run's own samples",
                s.repeated_ngram_rate * 100.0,
                b * 100.0
            )
        })?;
    }
    let before = before.map(|b| format!(", where its own samples repeated {:.0}%", b * 100.0)).unwrap_or_default();
    let still = if named(v, EntryId::ModelOutputsRepetitiveText) {
        ". The detector, which reads the run's own samples, still names repetitive text: the weights never changed"
    } else {
        ""
    };
    pass(
        s.repeated_ngram_rate,
        format!(
            "the same weights, after {} steps, decoded with {changed} repeated {:.0}% of their 4-grams{before}; the \
             validation text {:.0}%; the sampler kept {:.2} of the model's {:.2} nats{still}",
            v.steps_done,
            s.repeated_ngram_rate * 100.0,
            s.reference_ngram_rate * 100.0,
            s.sampler_entropy,
            s.model_entropy
        ),
    )
}

// 6. Tokenization: <UNK> and the roundtrip.

fn unknowns(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    with_fault(v, FaultId::WordLevelVocab)?;
    over(v)?;
    let unk = last_eval(v)?.tokenizer.unk_rate;
    require(unk > 0.01, || format!("only {:.1}% of tokens are <UNK>", unk * 100.0))?;
    let size = v.vocab_size().unwrap_or(0);
    pass(unk, format!("{:.1}% of the validation tokens were <UNK> with a vocabulary of {size}", unk * 100.0))
}

fn lossy(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    with_fault(v, FaultId::LossyNormalization)?;
    over(v)?;
    let t = &last_eval(v)?.tokenizer;
    require(!t.roundtrip_ok, || "decode(encode(text)) gave the text back unchanged".into())?;
    let change = t
        .roundtrip_mismatch
        .as_ref()
        .map(|(original, decoded)| format!(": {original:?} came back as {decoded:?}"))
        .unwrap_or_default();
    pass(0.0, format!("decode(encode(text)) did not give the text back{change}"))
}

fn all_known(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    finished(v)?;
    let t = &last_eval(v)?.tokenizer;
    require(t.unk_rate == 0.0 && t.roundtrip_ok, || "some text still does not survive encode and decode".into())?;
    let before = before.filter(|b| *b > 0.0).map(|b| format!(" (was {:.1}%)", b * 100.0)).unwrap_or_default();
    pass(0.0, format!("the character tokenizer had 0% <UNK>{before} and decode(encode(text)) gave the text back"))
}

// 7. Out of memory, and gradient accumulation.

fn out_of_memory(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    with_fault(v, FaultId::BatchTooLarge)?;
    over(v)?;
    require(v.state == RunState::Error && named(v, EntryId::OutOfMemoryOom), || {
        "this run did not fail to allocate; the detector does not name out-of-memory".into()
    })?;
    let batch = v.config.as_ref().map_or(0.0, |c| c.batch_size as f32 * c.faults.batch_too_large.unwrap_or(1.0));
    pass(batch, format!("a batch of {batch} sequences failed: {}", v.message.as_deref().unwrap_or("out of memory")))
}

fn accumulated(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    without_fault(v, FaultId::BatchTooLarge)?;
    let c = v.config.as_ref().ok_or_else(|| missing("settings"))?;
    require(c.grad_accum > 1, || "this run does not accumulate gradients (grad-accum 1)".into())?;
    let effective = (c.batch_size * c.grad_accum) as f32;
    if let Some(b) = before {
        require(effective >= b, || {
            format!("each update sees {effective} sequences, fewer than the {b} your failed run asked for")
        })?;
    }
    finished(v)?;
    let last = final_loss(v).ok_or_else(|| missing("loss"))?;
    pass(
        (c.batch_size * c.grad_accum) as f32,
        format!(
            "{} micro-batches of {} made each update see {} sequences, and the run finished at loss {last:.2}",
            c.grad_accum,
            c.batch_size,
            c.batch_size * c.grad_accum
        ),
    )
}

// 8. A slow run and its timing breakdown.

fn slow(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    with_fault(v, FaultId::SyncEveryStep)?;
    over(v)?;
    let (share, ms) = telemetry_share(v).ok_or_else(|| missing("timed step"))?;
    require(share > 0.3, || format!("telemetry took only {:.0}% of the step time", share * 100.0))?;
    pass(ms as f32, format!("reading telemetry back took {:.0}% of each step; {ms:.1} ms per step", share * 100.0))
}

fn fast(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    without_fault(v, FaultId::SyncEveryStep)?;
    finished(v)?;
    let (share, ms) = telemetry_share(v).ok_or_else(|| missing("timed step"))?;
    require(share < 0.1, || format!("telemetry still takes {:.0}% of the step time", share * 100.0))?;
    let before = before.map(|b| format!(" (was {b:.1} ms)")).unwrap_or_default();
    pass(ms as f32, format!("telemetry took {:.0}% of each step; {ms:.1} ms per step{before}", share * 100.0))
}

// 9. The three ways to get NaN.

const UNSTABLE: [FaultId; 3] = [FaultId::SoftmaxNoMaxShift, FaultId::NaiveLogSoftmax, FaultId::LayernormNoEps];

fn nan(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    let on = UNSTABLE.iter().copied().find(|&id| has_fault(v, id));
    let on = on.ok_or_else(|| "this run has none of the three unstable formulas switched on".to_string())?;
    over(v)?;
    let stop = v.stop.as_ref().ok_or_else(|| "this run ended without a NaN or Inf".to_string())?;
    pass(
        stop.step as f32,
        format!("with {on} the run stopped at step {}: a non-finite value in {}", stop.step, stop.tensor),
    )
}

fn stable(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    if let Some(on) = UNSTABLE.iter().copied().find(|&id| has_fault(v, id)) {
        return Err(format!("this run still has {on} switched on"));
    }
    over(v)?;
    require(v.stop.is_none() && v.state != RunState::Error, || "this run did not end normally".into())?;
    require(v.steps_done >= 20, || "run at least 20 steps".into())?;
    let before = before.map(|b| format!(" where the unstable form stopped at step {b}")).unwrap_or_default();
    let last = final_loss(v).unwrap_or(f32::NAN);
    pass(last, format!("the stable form ran all {} steps{before}; loss {last:.2}, finite", v.steps_done))
}

// 10. The forgotten zero_grad.

fn piles_up(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    with_fault(v, FaultId::NoZeroGrad)?;
    over(v)?;
    let early = median_grad(v, 0.05, 0.2).ok_or_else(|| missing("steps"))?;
    let late = median_grad(v, 0.75, 1.0).ok_or_else(|| missing("steps"))?;
    require(named(v, EntryId::GradientsAreAllZero) || late > 2.0 * early, || {
        format!("the gradient norm went from {early:.1} to {late:.1}; it did not pile up")
    })?;
    pass(late, format!("the gradient norm grew from {early:.1} early on to {late:.1} late in the run"))
}

fn cleared(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    without_fault(v, FaultId::NoZeroGrad)?;
    finished(v)?;
    let late = median_grad(v, 0.75, 1.0).ok_or_else(|| missing("steps"))?;
    require(!named(v, EntryId::GradientsAreAllZero), || "the detector still names gradients-are-all-zero".into())?;
    require(before.is_none_or(|b| late < 0.5 * b), || {
        format!("the late gradient norm is {late:.1}, not well below before")
    })?;
    let before = before.map(|b| format!(" instead of {b:.1}")).unwrap_or_default();
    pass(late, format!("with gradients cleared every step the late gradient norm was {late:.2}{before}"))
}

// 11. Dead ReLUs.

fn dead(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    with_fault(v, FaultId::DeadRelu)?;
    over(v)?;
    let d = last_eval(v)?.max_dead_fraction();
    require(d > 0.5, || format!("only {:.0}% of units are dead", d * 100.0))?;
    pass(d, format!("{:.0}% of one block's MLP units never fired", d * 100.0))
}

fn alive(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    without_fault(v, FaultId::DeadRelu)?;
    finished(v)?;
    let d = last_eval(v)?.max_dead_fraction();
    require(d < 0.05, || format!("{:.0}% of units are still dead", d * 100.0))?;
    let before = before.map(|b| format!(" instead of {:.0}%", b * 100.0)).unwrap_or_default();
    pass(d, format!("with GELU and the normal bias {:.0}% of units were dead{before}", d * 100.0))
}

// 12. Vanishing gradients without residuals.

fn vanishing(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    with_fault(v, FaultId::NoResidual)?;
    over(v)?;
    let ratio = last_eval(v)?.first_to_last_grad().ok_or_else(|| missing("block gradients"))?;
    require(named(v, EntryId::VanishingGradients) || ratio < 0.01, || {
        format!("block 0 gets {ratio:.1e} of the last block's gradient; not vanishing")
    })?;
    pass(ratio, format!("block 0 got {ratio:.1e} of the last block's gradient norm"))
}

fn flowing(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    without_fault(v, FaultId::NoResidual)?;
    finished(v)?;
    let ratio = last_eval(v)?.first_to_last_grad().ok_or_else(|| missing("block gradients"))?;
    require(!named(v, EntryId::VanishingGradients), || "the detector still names vanishing-gradients".into())?;
    require(before.is_none_or(|b| ratio > 10.0 * b), || {
        format!("block 0 gets {ratio:.1e} of the last block's gradient")
    })?;
    let before = before.map(|b| format!(", up from {b:.1e}")).unwrap_or_default();
    pass(ratio, format!("with residuals block 0 got {ratio:.2} of the last block's gradient{before}"))
}

// 13. What 1/sqrt(d_k) really does.

fn unscaled(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    with_fault(v, FaultId::NoAttnScale)?;
    finished(v)?;
    let e = last_eval(v)?.mean_attention_entropy();
    pass(e, format!("without the scale the mean attention entropy was {e:.2} nats"))
}

fn scaled(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    without_fault(v, FaultId::NoAttnScale)?;
    finished(v)?;
    let e = last_eval(v)?.mean_attention_entropy();
    let b = before.ok_or_else(|| "run the unscaled model first".to_string())?;
    require(e > b + 0.3, || format!("the scaled run's entropy {e:.2} is not clearly above the unscaled {b:.2}"))?;
    pass(
        e,
        format!(
            "with 1/√d_k it was {e:.2} nats, {:.2} more than without: unscaled attention was sharper, not uniform",
            e - b
        ),
    )
}

// 14. Overfitting a tiny corpus, and the cure.

fn val_losses(v: &RunView) -> Vec<f32> {
    v.evals.iter().filter_map(|e| e.val_loss).collect()
}

fn overfits(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    with_fault(v, FaultId::TinyDataset)?;
    finished(v)?;
    let vals = val_losses(v);
    let best = vals.iter().copied().fold(f32::INFINITY, f32::min);
    let e = last_eval(v)?;
    let val = e.val_loss.ok_or_else(|| missing("validation loss"))?;
    require(val > best + 0.1 && val - e.train_loss > 0.3, || {
        format!("validation {val:.2} (best {best:.2}), training {:.2}: no clear overfitting", e.train_loss)
    })?;
    let gap = val - e.train_loss;
    pass(
        gap,
        format!(
            "validation loss rose from {best:.2} to {val:.2} while training loss fell to {:.2}: a gap of {gap:.2}",
            e.train_loss
        ),
    )
}

fn generalises(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    finished(v)?;
    let e = last_eval(v)?;
    let val = e.val_loss.ok_or_else(|| missing("validation loss"))?;
    let best = val_losses(v).into_iter().fold(f32::INFINITY, f32::min);
    require(val <= best + 0.05, || format!("validation loss still turns up: from its best {best:.2} to {val:.2}"))?;
    require(!named(v, EntryId::ValidationLossIncreasingWhileTrainingLossDecreases), || {
        "the detector still sees validation loss rise while training loss falls".into()
    })?;
    let gap = val - e.train_loss;
    let b = before.ok_or_else(|| "reproduce the symptom first: the fix is compared with that run".to_string())?;
    require(gap < b, || {
        format!("validation ends {gap:.2} above training, no closer than your reproduce run's {b:.2}")
    })?;
    let c = v.config.as_ref().ok_or_else(|| missing("settings"))?;
    let how = if !has_fault(v, FaultId::TinyDataset) {
        "the whole corpus".to_string()
    } else if c.dropout > 0.0 {
        format!("dropout {} and weight decay {}", c.dropout, c.weight_decay)
    } else {
        format!("weight decay {} over {} steps", c.weight_decay, c.steps)
    };
    pass(
        gap,
        format!(
            "with {how} validation ended at {val:.2}, its best, {gap:.2} above training ({:.2}) instead of {b:.2}",
            e.train_loss
        ),
    )
}

// 15. Full speed from step one: warmup.

fn stalls(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    with_fault(v, FaultId::NoWarmup)?;
    finished(v)?;
    let last = final_loss(v).ok_or_else(|| missing("loss"))?;
    require(named(v, EntryId::LossStopsDecreasing), || {
        format!("the loss ended at {last:.2} and the detector does not see it stall")
    })?;
    let lr = v.config.as_ref().map_or(0.0, |c| c.lr);
    pass(
        last,
        format!(
            "at lr {lr} from the first step the loss stalled at {last:.2} after {} steps: the detector names loss-stops-decreasing",
            v.steps_done
        ),
    )
}

fn ramped(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    finished(v)?;
    require(!named(v, EntryId::LossStopsDecreasing), || "the detector still sees the loss stall".into())?;
    let last = final_loss(v).ok_or_else(|| missing("loss"))?;
    let b = below(last, before, 0.5)?;
    let warmup = v.config.as_ref().map_or(0, |c| if c.faults.no_warmup { 0 } else { c.warmup_steps });
    pass(last, format!("with {warmup} warmup steps the same run reached {last:.2} instead of stalling at {b:.2}"))
}

// 16. Nonsense from a model that learned.

const NONSENSE: [FaultId; 3] = [FaultId::TokenizerMismatch, FaultId::CorruptEmbeddings, FaultId::WrongCheckpoint];

fn garbles(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    let on = one_of(v, &NONSENSE)?;
    over(v)?;
    let s = sample_of(v)?;
    require(named(v, EntryId::ModelOutputsNonsense), || {
        format!("the detector does not find the sample unlikely yet: \"{}\"", excerpt(v))
    })?;
    let reread = s.reread_loss.unwrap_or(f32::NAN);
    let loss = final_loss(v).unwrap_or(f32::NAN);
    pass(
        reread,
        format!(
            "with {on} the model's loss was {loss:.2}, yet it gave its own sample a loss of {reread:.2} on rereading: \"{}\"",
            excerpt(v)
        ),
    )
}

fn readable(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    finished(v)?;
    let s = sample_of(v)?;
    require(!named(v, EntryId::ModelOutputsNonsense), || "the detector still finds the sample nonsense".into())?;
    let reread = s.reread_loss.ok_or_else(|| missing("sample to reread"))?;
    let before = before.filter(|b| b.is_finite()).map(|b| format!(" (was {b:.2})")).unwrap_or_default();
    pass(reread, format!("rereading its own sample now costs the model {reread:.2}{before}: \"{}\"", excerpt(v)))
}

// 17. Exploding gradients and clipping.

fn explodes_unclipped(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    with_fault(v, FaultId::NoGradClip)?;
    over(v)?;
    let peak = peak_grad(v).ok_or_else(|| missing("step"))?;
    require(named(v, EntryId::ExplodingGradients), || {
        format!("the gradient norm peaked at {peak:.1}; the detector does not call it exploding")
    })?;
    let last = final_loss(v).unwrap_or(f32::NAN);
    pass(last, format!("unclipped, the gradient norm spiked to {peak:.1} and the loss ended at {last:.2}"))
}

fn clipped(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    without_fault(v, FaultId::NoGradClip)?;
    let clip = v.config.as_ref().map_or(0.0, |c| c.grad_clip);
    require(clip > 0.0, || "this run has clipping off (grad-clip 0)".into())?;
    finished(v)?;
    let last = final_loss(v).ok_or_else(|| missing("loss"))?;
    let b = below(last, before, 0.3)?;
    let peak = peak_grad(v).unwrap_or(f32::NAN);
    let still = if named(v, EntryId::ExplodingGradients) {
        ": the detector still names exploding gradients, since it reads the norm before clipping"
    } else {
        ""
    };
    pass(
        last,
        format!(
            "clipped at {clip}, the same run ended at {last:.2} instead of {b:.2}; the gradient still reached {peak:.1} before clipping{still}"
        ),
    )
}

// 18. Gradients that never arrive.

const NO_GRADIENT: [FaultId; 2] = [FaultId::InitZero, FaultId::DetachedBlock];

/// The blocks whose gradient norm was exactly zero at the latest evaluation.
fn gradientless_blocks(v: &RunView) -> Result<Vec<usize>, String> {
    Ok(last_eval(v)?.blocks.iter().filter(|b| b.grad_norm == 0.0).map(|b| b.block).collect())
}

fn no_gradient(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    let on = one_of(v, &NO_GRADIENT)?;
    over(v)?;
    require(named(v, EntryId::GradientsAreAllZero), || "the detector does not find gradients missing".into())?;
    let blocks = gradientless_blocks(v)?;
    let last = final_loss(v).unwrap_or(f32::NAN);
    let which = if blocks.is_empty() {
        "the detector found gradients that are zero".to_string()
    } else {
        let names: Vec<String> = blocks.iter().map(|b| b.to_string()).collect();
        format!("block {} got a gradient norm of exactly 0", names.join(" and "))
    };
    pass(last, format!("with {on} {which}; the loss ended at {last:.2}"))
}

fn gradient_arrives(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    finished(v)?;
    require(!named(v, EntryId::GradientsAreAllZero), || "the detector still finds gradients missing".into())?;
    let blocks = gradientless_blocks(v)?;
    require(blocks.is_empty(), || format!("{} block(s) still get no gradient", blocks.len()))?;
    let last = final_loss(v).ok_or_else(|| missing("loss"))?;
    let b = below(last, before, 0.0)?;
    pass(last, format!("every block got a gradient and the same run ended at {last:.2} instead of {b:.2}"))
}

// 19. Post-norm needs a warmup.

fn post_norm_stalls(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    with_fault(v, FaultId::PostNorm)?;
    finished(v)?;
    require(named(v, EntryId::VanishingGradients), || "the detector does not see the gradients vanish".into())?;
    let last = final_loss(v).ok_or_else(|| missing("loss"))?;
    let ratio = last_eval(v)?
        .first_to_last_grad()
        .map(|r| format!("block 0 got {r:.1e} of the last block's gradient and "))
        .unwrap_or_default();
    pass(last, format!("post-norm without warmup: {ratio}the loss ended at {last:.2}"))
}

fn post_norm_trains(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    finished(v)?;
    require(!named(v, EntryId::VanishingGradients), || "the detector still sees the gradients vanish".into())?;
    let last = final_loss(v).ok_or_else(|| missing("loss"))?;
    let b = below(last, before, 0.5)?;
    let how = v.config.as_ref().map_or(String::new(), |c| {
        if c.faults.post_norm {
            format!("post-norm with a {}-step warmup", c.warmup_steps)
        } else {
            "pre-norm".to_string()
        }
    });
    pass(last, format!("{how} reached {last:.2} instead of {b:.2}"))
}

// 20. DPO that learns nothing.

const DPO_FAULTS: [FaultId; 4] =
    [FaultId::DpoReferenceNotFrozen, FaultId::DpoLrTooLow, FaultId::DpoBetaTooHigh, FaultId::DpoLogprobBug];

/// The last DPO step's loss and preference accuracy.
fn last_dpo(v: &AlignView) -> Result<(f32, f32), String> {
    v.steps.last().map(|s| (s.loss, s.accuracy)).ok_or_else(|| missing("DPO step"))
}

fn dpo_stalls(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.align;
    let on = DPO_FAULTS.iter().copied().find(|&id| align_has_fault(v, id));
    let on =
        on.ok_or_else(|| "this fine-tuning run has no DPO fault switched on: apply the setup first".to_string())?;
    align_done(v)?;
    let (loss, accuracy) = last_dpo(v)?;
    require(align_named(v, EntryId::DpoLossNotDecreasing), || {
        format!("the DPO loss ended at {loss:.3} and the detector does not see it stuck")
    })?;
    pass(
        loss,
        format!(
            "with {on} the DPO loss ended at {loss:.3}, against ln 2 = 0.693 for a policy equal to its reference, with {:.0}% of pairs ranked right",
            accuracy * 100.0
        ),
    )
}

fn dpo_learns(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.align;
    align_done(v)?;
    require(!align_named(v, EntryId::DpoLossNotDecreasing), || "the detector still sees the DPO loss stuck".into())?;
    let (loss, accuracy) = last_dpo(v)?;
    let b = below(loss, before, 0.1)?;
    pass(
        loss,
        format!(
            "the same run's DPO loss fell to {loss:.3} instead of {b:.3}, with {:.0}% of pairs ranked right",
            accuracy * 100.0
        ),
    )
}

// 21. Reward hacking without a KL penalty.

/// An evaluation's proxy reward and true quality.
type Reading = (f32, f32);

/// The policy-gradient run's proxy reward and true quality at its first and last evaluations.
fn reward_and_quality(v: &AlignView) -> Result<(Reading, Reading), String> {
    let rl =
        v.rl.as_ref()
            .ok_or_else(|| "this fine-tuning run is DPO, not the policy gradient: apply the setup".to_string())?;
    let first = rl.evals.first().ok_or_else(|| missing("evaluation"))?;
    let last = rl.evals.last().ok_or_else(|| missing("evaluation"))?;
    Ok(((first.record.reward, first.record.quality), (last.record.reward, last.record.quality)))
}

fn hacks(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.align;
    require(align_has_fault(v, FaultId::NoKlPenalty), || {
        "this fine-tuning run does not have no-kl-penalty switched on: apply the setup first".into()
    })?;
    align_done(v)?;
    let ((r0, q0), (r1, q1)) = reward_and_quality(v)?;
    require(align_named(v, EntryId::RewardIncreasesButQualityDecreases), || {
        format!(
            "reward {r0:.2} → {r1:.2}, quality {:.0}% → {:.0}%: the detector does not see reward hacking",
            q0 * 100.0,
            q1 * 100.0
        )
    })?;
    pass(
        q1,
        format!(
            "without the KL penalty the proxy reward rose from {r0:.2} to {r1:.2} while the share of samples the grammar accepts fell from {:.0}% to {:.0}%",
            q0 * 100.0,
            q1 * 100.0
        ),
    )
}

fn stays_honest(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.align;
    align_done(v)?;
    require(!align_named(v, EntryId::RewardIncreasesButQualityDecreases), || {
        "the detector still sees the reward rise while quality falls".into()
    })?;
    let ((r0, q0), (r1, q1)) = reward_and_quality(v)?;
    let b = before.ok_or_else(|| "reproduce the symptom first: the fix is compared with that run".to_string())?;
    require(q1 > b, || {
        format!("the true quality ended at {:.0}%, no better than your reproduce run's {:.0}%", q1 * 100.0, b * 100.0)
    })?;
    pass(
        q1,
        format!(
            "with the KL penalty the reward went from {r0:.2} to {r1:.2} and the true quality from {:.0}% to {:.0}%, instead of {:.0}%",
            q0 * 100.0,
            q1 * 100.0,
            b * 100.0
        ),
    )
}
