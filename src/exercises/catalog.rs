//! The exercises, in order from the first run to the hardest. Each breaking setup starts from the fault
//! table's scenario for its fault (the settings under which `crates/engine/tests/symptoms.rs` shows the
//! symptom), shortened where the symptom appears sooner.

use super::measure::*;
use super::progress::Evidence;
use super::{Check, Exercise, Lab, Prediction, Setup, Stage};
use crate::run_view::{RunState, RunView};
use faultline_engine::faults::FaultId;
use faultline_engine::guide::{EntryId, SectionId};
use faultline_engine::settings::{Change, SettingKey};

fn pass(value: f32, text: String) -> Check {
    Ok(Evidence { value, text })
}

fn missing(what: &str) -> String {
    format!("this run has no {what} yet")
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
        return pass(f32::NAN, format!("your run hit a non-finite value in {} at step {}", stop.tensor, stop.step));
    }
    let peak = peak_loss(v).ok_or_else(|| missing("loss"))?;
    require(peak > ln_v + 1.0, || format!("the loss peaked at {peak:.2}, not above ln V + 1 = {:.2}", ln_v + 1.0))?;
    let lr = v.config.as_ref().map_or(0.0, |c| c.lr * c.faults.lr_too_high.unwrap_or(1.0));
    pass(peak, format!("at lr {lr} your loss peaked at {peak:.2}, above ln V = {ln_v:.2}: worse than guessing"))
}

fn calmed(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    without_fault(v, FaultId::LrTooHigh)?;
    let c = v.config.as_ref().ok_or_else(|| missing("settings"))?;
    require(c.lr <= 0.003, || format!("this run's lr is {}; use 0.003 or lower", c.lr))?;
    require(c.grad_clip > 0.0, || "this run has clipping off (grad-clip 0)".into())?;
    finished(v)?;
    let ln_v = ln_v(v).ok_or_else(|| missing("vocabulary size"))?;
    let last = final_loss(v).ok_or_else(|| missing("loss"))?;
    require(last < ln_v - 1.0, || format!("the loss ended at {last:.2}, not 1 nat below ln V = {ln_v:.2}"))?;
    require(!named(v, EntryId::LossOscillatesWildly), || "the detector still sees the loss oscillating".into())?;
    pass(last, format!("with lr {} and clipping at {} your loss ended at {last:.2}", c.lr, c.grad_clip))
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
    let above = max_above_diag(last_eval(v)?);
    require(above > 0.3, || format!("at most {:.0}% of a head's attention is on later positions", above * 100.0))?;
    let loss = final_loss(v).unwrap_or(f32::NAN);
    pass(above, format!("{:.0}% of one head's attention went to later positions (loss {loss:.2})", above * 100.0))
}

fn masked(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    without_fault(v, FaultId::NoCausalMask)?;
    finished(v)?;
    let above = max_above_diag(last_eval(v)?);
    require(above == 0.0, || format!("{:.0}% of attention still lands on later positions", above * 100.0))?;
    let before = before.map(|b| format!(" instead of {:.0}%", b * 100.0)).unwrap_or_default();
    let loss = final_loss(v).unwrap_or(f32::NAN);
    pass(above, format!("with the mask back no head looked ahead (0%{before}); loss {loss:.2}"))
}

// 5. Sampling temperature and repetition.

fn sample_of(v: &RunView) -> Result<&faultline_engine::telemetry::SampleStats, String> {
    last_eval(v)?.sample.as_ref().ok_or_else(|| missing("sample"))
}

fn repeats(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    with_fault(v, FaultId::TemperatureTooLow)?;
    over(v)?;
    let s = sample_of(v)?;
    require(s.sampler_entropy < 0.6 * s.model_entropy, || {
        format!("the sampler kept {:.2} of the model's {:.2} nats", s.sampler_entropy, s.model_entropy)
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

fn varied(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    without_fault(v, FaultId::TemperatureTooLow)?;
    finished(v)?;
    let s = sample_of(v)?;
    require(s.sampler_entropy >= 0.8 * s.model_entropy, || {
        format!("the sampler still keeps only {:.2} of the model's {:.2} nats", s.sampler_entropy, s.model_entropy)
    })?;
    pass(
        s.repeated_ngram_rate,
        format!(
            "at temperature {} the sampler kept {:.2} of {:.2} nats and {:.0}% of 4-grams repeated",
            v.config.as_ref().map_or(1.0, |c| c.sampling.temperature),
            s.sampler_entropy,
            s.model_entropy,
            s.repeated_ngram_rate * 100.0
        ),
    )
}

// 6. Tokenization: <UNK> and the roundtrip.

fn unknowns(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    let word = has_fault(v, FaultId::WordLevelVocab);
    require(word || has_fault(v, FaultId::LossyNormalization), || {
        "this run has neither word-level-vocab nor lossy-normalization switched on".into()
    })?;
    over(v)?;
    let t = &last_eval(v)?.tokenizer;
    if word {
        let unk = t.unk_rate;
        require(unk > 0.01, || format!("only {:.1}% of tokens are <UNK>", unk * 100.0))?;
        let size = v.vocab_size().unwrap_or(0);
        return pass(
            unk,
            format!("{:.1}% of the validation tokens were <UNK> with a vocabulary of {size}", unk * 100.0),
        );
    }
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
    without_fault(v, FaultId::WordLevelVocab)?;
    without_fault(v, FaultId::LossyNormalization)?;
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

fn accumulated(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    without_fault(v, FaultId::BatchTooLarge)?;
    let c = v.config.as_ref().ok_or_else(|| missing("settings"))?;
    require(c.grad_accum > 1, || "this run does not accumulate gradients (grad-accum 1)".into())?;
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
    let d = max_dead(last_eval(v)?);
    require(d > 0.5, || format!("only {:.0}% of units are dead", d * 100.0))?;
    pass(d, format!("{:.0}% of one block's MLP units never fired", d * 100.0))
}

fn alive(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    without_fault(v, FaultId::DeadRelu)?;
    finished(v)?;
    let d = max_dead(last_eval(v)?);
    require(d < 0.05, || format!("{:.0}% of units are still dead", d * 100.0))?;
    let before = before.map(|b| format!(" instead of {:.0}%", b * 100.0)).unwrap_or_default();
    pass(d, format!("with GELU and the normal bias {:.0}% of units were dead{before}", d * 100.0))
}

// 12. Vanishing gradients without residuals.

fn vanishing(lab: &Lab, _: Option<f32>) -> Check {
    let v = lab.run;
    with_fault(v, FaultId::NoResidual)?;
    over(v)?;
    let ratio = first_to_last_grad(last_eval(v)?).ok_or_else(|| missing("block gradients"))?;
    require(named(v, EntryId::VanishingGradients) || ratio < 0.01, || {
        format!("block 0 gets {ratio:.1e} of the last block's gradient; not vanishing")
    })?;
    pass(ratio, format!("block 0 got {ratio:.1e} of the last block's gradient norm"))
}

fn flowing(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    without_fault(v, FaultId::NoResidual)?;
    finished(v)?;
    let ratio = first_to_last_grad(last_eval(v)?).ok_or_else(|| missing("block gradients"))?;
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
    let e = mean_entropy(last_eval(v)?);
    pass(e, format!("without the scale the mean attention entropy was {e:.2} nats"))
}

fn scaled(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    without_fault(v, FaultId::NoAttnScale)?;
    finished(v)?;
    let e = mean_entropy(last_eval(v)?);
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
    pass(
        val - e.train_loss,
        format!("validation loss rose from {best:.2} to {val:.2} while training loss fell to {:.2}", e.train_loss),
    )
}

fn generalises(lab: &Lab, before: Option<f32>) -> Check {
    let v = lab.run;
    without_fault(v, FaultId::TinyDataset)?;
    finished(v)?;
    let e = last_eval(v)?;
    let val = e.val_loss.ok_or_else(|| missing("validation loss"))?;
    let best = val_losses(v).into_iter().fold(f32::INFINITY, f32::min);
    let gap = val - e.train_loss;
    require(val <= best + 0.05 && gap < 0.2, || format!("validation {val:.2} against training {:.2}", e.train_loss))?;
    let before = before.map(|b| format!(", where the tiny corpus left a gap of {b:.2}")).unwrap_or_default();
    pass(gap, format!("with the full corpus validation ended at {val:.2} and training at {:.2}{before}", e.train_loss))
}

const fn setup(label: &'static str, show_me: Option<FaultId>, changes: &'static [Change<'static>]) -> Setup {
    Setup { label, show_me, changes, off: &[] }
}

pub const EXERCISES: &[Exercise] = &[
    Exercise {
        id: "first-run",
        title: "Your first run, read against ln V",
        section: SectionId::LossPlateau,
        goal: "Train the healthy model once and read its loss against the one number that needs no training: ln V, the loss of a uniform guess over V tokens.",
        prediction: Prediction {
            question: "Before any training, what loss will the model have at step 1?",
            options: &["About 0: it has not made any mistakes yet", "About ln V: it guesses every token equally", "About 10: untrained models are terrible"],
            answer: 1,
            why: "Small random weights give nearly equal probability 1/V to every token, and the loss of that guess is ln V.",
        },
        entries: &[EntryId::LossStopsDecreasing, EntryId::LossDecreasesVerySlowly],
        reproduce: Stage {
            title: "Start at ln V",
            instructions: "Apply the healthy setup (60 steps, no fault), start it, and watch the first loss.",
            setups: &[setup("Healthy run, 60 steps", None, &[Change::Setting(SettingKey::Steps, "60")])],
            check: first_run_starts_at_ln_v,
        },
        fix: Stage {
            title: "Learn well below it",
            instructions: "The same run should end more than 1 nat below ln V. A run that stays at ln V has learned nothing.",
            setups: &[setup("Healthy run, 60 steps", None, &[Change::Setting(SettingKey::Steps, "60")])],
            check: first_run_learns,
        },
    },
    Exercise {
        id: "explode",
        title: "Make it explode, then calm it down",
        section: SectionId::LearningRateIssues,
        goal: "Multiply the learning rate by 300 and watch the loss climb above ln V; then train with a sane rate and clipping.",
        prediction: Prediction {
            question: "With AdamW and clipping on (the defaults), what does a 300× learning rate do?",
            options: &["The loss becomes NaN within a few steps", "The loss spikes above ln V and stays high, but finite", "Training is just faster"],
            answer: 1,
            why: "AdamW's normalised steps and clipping bound every update, so Faultline measures a spike far above ln V and a high plateau, not NaN.",
        },
        entries: &[EntryId::LossOscillatesWildly, EntryId::ExplodingGradients],
        reproduce: Stage {
            title: "Explode it",
            instructions: "Apply the setup (learning rate ×300) and start. Watch the loss chart against ln V.",
            setups: &[setup("Learning rate ×300, 60 steps", Some(FaultId::LrTooHigh), &[Change::Setting(SettingKey::Steps, "60")])],
            check: explodes,
        },
        fix: Stage {
            title: "Lower rate, clipping on",
            instructions: "Turn the fault off, keep lr at 0.003 or lower and grad-clip above 0, and run again.",
            setups: &[setup("lr 0.003, clip 1, 60 steps", None, &[Change::Setting(SettingKey::Steps, "60"), Change::Setting(SettingKey::Lr, "0.003"), Change::Setting(SettingKey::GradClip, "1")])],
            check: calmed,
        },
    },
    Exercise {
        id: "find-lr",
        title: "Find the learning rate with the range test",
        section: SectionId::LearningRateIssues,
        goal: "Train with a rate a hundred times too small and watch the loss crawl; then let the range test pick the rate instead of guessing.",
        prediction: Prediction {
            question: "The range test raises the rate a little at every step and records the loss. Which rate does the guide tell you to train with?",
            options: &["The rate where the loss was lowest", "A tenth of the rate where the loss was lowest", "The largest rate that did not give NaN"],
            answer: 1,
            why: "At the lowest point the loss is about to turn upward, so that rate is already at the edge of stability; a tenth of it trains fast with room to spare.",
        },
        entries: &[EntryId::FindingTheRightLearningRate, EntryId::LossDecreasesVerySlowly],
        reproduce: Stage {
            title: "Crawl with a tiny rate",
            instructions: "Apply the setup (learning rate ÷100) and start. Compare the loss at the end with where it began.",
            setups: &[setup("Learning rate ÷100, 60 steps", Some(FaultId::LrTooLow), &[Change::Setting(SettingKey::Steps, "60")])],
            check: crawls,
        },
        fix: Stage {
            title: "Let the range test choose",
            instructions: "Apply the setup (fault off), run the learning-rate range test on the trainer page, press Use on its suggestion, then Start.",
            setups: &[setup("Fault off, 60 steps", None, &[Change::Setting(SettingKey::Steps, "60")])],
            check: found_by_range_test,
        },
    },
    Exercise {
        id: "cheating",
        title: "The cheating model: no causal mask",
        section: SectionId::AttentionIssues,
        goal: "Let every position see the future and find the cheat in the attention maps, then put the mask back.",
        prediction: Prediction {
            question: "Without the causal mask, where does some of the attention go?",
            options: &["Nowhere different: the model ignores it", "To later positions, the very tokens it must predict", "Evenly to every position"],
            answer: 1,
            why: "The next token is right there to copy, so heads learn to look above the diagonal of the attention map.",
        },
        entries: &[EntryId::AttentionLooksAtFutureInCausalModel],
        reproduce: Stage {
            title: "Remove the mask",
            instructions: "Apply the setup and start; look at the attention maps above their diagonal.",
            setups: &[setup("No causal mask, 60 steps", Some(FaultId::NoCausalMask), &[Change::Setting(SettingKey::Steps, "60")])],
            check: cheats,
        },
        fix: Stage {
            title: "Mask it again",
            instructions: "Turn the fault off and train again: nothing may lie above the diagonal.",
            setups: &[setup("Causal mask on, 60 steps", None, &[Change::Setting(SettingKey::Steps, "60")])],
            check: masked,
        },
    },
    Exercise {
        id: "temperature",
        title: "Sampling temperature and repetition",
        section: SectionId::OutputQualityIssues,
        goal: "Sample at a very low temperature and see the text repeat itself; then sample at the default temperature.",
        prediction: Prediction {
            question: "What does a very low sampling temperature do to the generated text?",
            options: &["It becomes more creative", "It repeats the same phrases", "Nothing: temperature only matters in training"],
            answer: 1,
            why: "Dividing the logits by a small temperature makes the distribution nearly one-hot: the sampler always picks the top token and loops.",
        },
        entries: &[EntryId::ModelOutputsRepetitiveText],
        reproduce: Stage {
            title: "Freeze the sampler",
            instructions: "Apply the setup and start; read the sample beside the charts.",
            setups: &[setup("Temperature too low, 60 steps", Some(FaultId::TemperatureTooLow), &[Change::Setting(SettingKey::Steps, "60")])],
            check: repeats,
        },
        fix: Stage {
            title: "Sample at the default temperature",
            instructions: "Turn the fault off and train again.",
            setups: &[setup("Default temperature 0.8, 60 steps", None, &[Change::Setting(SettingKey::Steps, "60")])],
            check: varied,
        },
    },
    Exercise {
        id: "tokenization",
        title: "Tokenization: <UNK> and the roundtrip",
        section: SectionId::TokenizationIssues,
        goal: "Build a word vocabulary from a small sample and count the <UNK> tokens; then go back to characters.",
        prediction: Prediction {
            question: "A word vocabulary built from a small sample meets new text. What happens to unseen words?",
            options: &["They are spelled out letter by letter", "They all become <UNK>, and the text cannot be decoded back", "The tokenizer adds them on the fly"],
            answer: 1,
            why: "A closed word vocabulary maps every unseen word to one <UNK> id, so decode(encode(text)) loses them.",
        },
        entries: &[EntryId::ManyUnkTokens, EntryId::TokenizationDoesntRoundtrip],
        reproduce: Stage {
            title: "Word vocabulary",
            instructions: "Apply the setup and start; the tokenizer's statistics show the <UNK> rate.",
            setups: &[
                setup("Word vocabulary, 60 steps", Some(FaultId::WordLevelVocab), &[Change::Setting(SettingKey::Steps, "60")]),
                setup("Variation: lossy normalisation", Some(FaultId::LossyNormalization), &[Change::Setting(SettingKey::Steps, "60")]),
            ],
            check: unknowns,
        },
        fix: Stage {
            title: "Characters again",
            instructions: "Turn the fault off: every character of the corpus is in the vocabulary.",
            setups: &[setup("Character tokenizer, 60 steps", None, &[Change::Setting(SettingKey::Steps, "60")])],
            check: all_known,
        },
    },
    Exercise {
        id: "oom",
        title: "Out of memory, and gradient accumulation",
        section: SectionId::MemoryIssues,
        goal: "Ask for a batch far beyond the memory budget; then get a large effective batch by accumulating small ones.",
        prediction: Prediction {
            question: "How do you train with a large batch that does not fit in memory?",
            options: &["Lower the learning rate", "Sum the gradients of several small micro-batches before each update", "Turn off the causal mask"],
            answer: 1,
            why: "Gradient accumulation keeps one micro-batch's activations in memory at a time and steps once per several of them.",
        },
        entries: &[EntryId::OutOfMemoryOom],
        reproduce: Stage {
            title: "Run out of memory",
            instructions: "Apply the setup and start: the run fails before its first step.",
            setups: &[setup("Batch ×4096", Some(FaultId::BatchTooLarge), &[])],
            check: out_of_memory,
        },
        fix: Stage {
            title: "Accumulate",
            instructions: "Turn the fault off and accumulate 4 micro-batches per update.",
            setups: &[setup("grad-accum 4, 20 steps", None, &[Change::Setting(SettingKey::Steps, "20"), Change::Setting(SettingKey::GradAccum, "4")])],
            check: accumulated,
        },
    },
    Exercise {
        id: "slow",
        title: "A slow run and its timing breakdown",
        section: SectionId::PerformanceIssues,
        goal: "Read every weight back after every step, as heavy logging does, and find the cost in the phase chart.",
        prediction: Prediction {
            question: "Which phase of the step grows when every statistic is read back each step?",
            options: &["The forward pass", "Telemetry: copying and summarising what was computed", "The optimizer"],
            answer: 1,
            why: "The math is unchanged; the extra time is spent reading values back, which the phase chart shows as telemetry.",
        },
        entries: &[EntryId::TrainingIsVerySlow],
        reproduce: Stage {
            title: "Sync every step",
            instructions: "Apply the setup and start; compare the phases in the timing chart.",
            setups: &[setup("Sync every step, 40 steps", Some(FaultId::SyncEveryStep), &[Change::Setting(SettingKey::Steps, "40")])],
            check: slow,
        },
        fix: Stage {
            title: "Read back only at evaluations",
            instructions: "Turn the fault off and run again.",
            setups: &[setup("Normal telemetry, 40 steps", None, &[Change::Setting(SettingKey::Steps, "40")])],
            check: fast,
        },
    },
    Exercise {
        id: "nan",
        title: "The three ways to get NaN",
        section: SectionId::NumericalIssues,
        goal: "Break the numerics three ways: softmax without the max shift, log(softmax(x)), LayerNorm without epsilon. See where the run stops, then use the stable form.",
        prediction: Prediction {
            question: "Where does a NaN first appear when softmax skips subtracting the row maximum?",
            options: &["In the optimizer state", "In the attention probabilities: exp of a large score overflows", "In the tokenizer"],
            answer: 1,
            why: "exp(x) overflows to Inf for x above about 88 in f32; Inf/Inf is NaN, and the run stops at the first tensor holding it.",
        },
        entries: &[EntryId::LossBecomesNan],
        reproduce: Stage {
            title: "Overflow",
            instructions: "Apply a setup and start; the run stops at the first non-finite value and names the tensor. Try all three.",
            setups: &[
                setup("Softmax without the max shift", Some(FaultId::SoftmaxNoMaxShift), &[Change::Setting(SettingKey::Steps, "60")]),
                setup("log(softmax(x))", Some(FaultId::NaiveLogSoftmax), &[Change::Setting(SettingKey::Steps, "60")]),
                setup("LayerNorm without epsilon", Some(FaultId::LayernormNoEps), &[Change::Setting(SettingKey::Steps, "60")]),
            ],
            check: nan,
        },
        fix: Stage {
            title: "The stable forms",
            instructions: "Keep the rest of the scenario but turn the unstable formula off.",
            setups: &[
                setup("Max-shifted softmax", Some(FaultId::SoftmaxNoMaxShift), &[Change::Setting(SettingKey::Steps, "60")]).turning_off(&[FaultId::SoftmaxNoMaxShift]),
                setup("x − logsumexp(x)", Some(FaultId::NaiveLogSoftmax), &[Change::Setting(SettingKey::Steps, "60")]).turning_off(&[FaultId::NaiveLogSoftmax]),
                setup("LayerNorm with epsilon", Some(FaultId::LayernormNoEps), &[Change::Setting(SettingKey::Steps, "60")]).turning_off(&[FaultId::LayernormNoEps]),
            ],
            check: stable,
        },
    },
    Exercise {
        id: "zero-grad",
        title: "The forgotten zero_grad",
        section: SectionId::GradientIssues,
        goal: "Never clear the gradients (with clipping off, so it shows) and watch the gradient norm pile up.",
        prediction: Prediction {
            question: "With clipping off and zero_grad forgotten, what does the gradient norm do?",
            options: &["Stays the same", "Keeps growing: every step adds onto all earlier gradients", "Drops to zero"],
            answer: 1,
            why: "The stored gradient is the sum of every step's so far. Faultline also measured that clipping hides this: with clip 1 only the loss shows it.",
        },
        entries: &[EntryId::GradientsAreAllZero, EntryId::ExplodingGradients],
        reproduce: Stage {
            title: "Forget to clear",
            instructions: "Apply the setup (clipping off too) and start; watch the gradient-norm chart.",
            setups: &[setup("No zero_grad, no clipping, 150 steps", Some(FaultId::NoZeroGrad), &[Change::Setting(SettingKey::Steps, "150")])],
            check: piles_up,
        },
        fix: Stage {
            title: "Clear every step",
            instructions: "Turn only no-zero-grad off; clipping may stay off.",
            setups: &[setup("zero_grad back, 150 steps", Some(FaultId::NoZeroGrad), &[Change::Setting(SettingKey::Steps, "150")]).turning_off(&[FaultId::NoZeroGrad])],
            check: cleared,
        },
    },
    Exercise {
        id: "dead-relu",
        title: "Dead ReLUs",
        section: SectionId::GradientIssues,
        goal: "Use ReLU with a negative starting bias and count the units that never fire.",
        prediction: Prediction {
            question: "A ReLU unit whose input is always negative: what gradient does it pass back?",
            options: &["A small one", "Exactly zero, so it can never recover", "A large one"],
            answer: 1,
            why: "ReLU's slope is 0 for negative inputs, so a unit that never fires never gets the update that could revive it.",
        },
        entries: &[EntryId::GradientsAreAllZero],
        reproduce: Stage {
            title: "Kill the units",
            instructions: "Apply the setup and start; read the dead-unit fraction.",
            setups: &[setup("Dead ReLUs, 60 steps", Some(FaultId::DeadRelu), &[Change::Setting(SettingKey::Steps, "60")])],
            check: dead,
        },
        fix: Stage {
            title: "GELU again",
            instructions: "Turn the fault off and train again.",
            setups: &[setup("GELU, 60 steps", None, &[Change::Setting(SettingKey::Steps, "60")])],
            check: alive,
        },
    },
    Exercise {
        id: "vanishing",
        title: "Vanishing gradients without residuals",
        section: SectionId::GradientIssues,
        goal: "Remove the residual connections and compare the gradient reaching the first block with the last.",
        prediction: Prediction {
            question: "Without residual connections, which layers get the smallest gradients?",
            options: &["The last ones, next to the loss", "The first ones, far from the loss", "All get the same"],
            answer: 1,
            why: "Each block multiplies the gradient on its way down; the residual path is what carries it to the early layers unshrunk.",
        },
        entries: &[EntryId::VanishingGradients],
        reproduce: Stage {
            title: "Cut the residuals",
            instructions: "Apply the setup and start; compare block 0's gradient norm with the last block's.",
            setups: &[setup("No residuals, 150 steps", Some(FaultId::NoResidual), &[Change::Setting(SettingKey::Steps, "150")])],
            check: vanishing,
        },
        fix: Stage {
            title: "Residuals back",
            instructions: "Turn the fault off and train again.",
            setups: &[setup("Residuals on, 150 steps", None, &[Change::Setting(SettingKey::Steps, "150")])],
            check: flowing,
        },
    },
    Exercise {
        id: "attn-scale",
        title: "What 1/√d_k really does",
        section: SectionId::AttentionIssues,
        goal: "Leave the attention scores unscaled and measure the attention entropy against the scaled model's.",
        prediction: Prediction {
            question: "Without dividing the scores by √d_k, attention becomes…",
            options: &["more uniform (higher entropy)", "sharper (lower entropy)", "exactly the same"],
            answer: 1,
            why: "The guide's text says uniform, but Faultline measured the opposite: the scores reach the softmax √d_k times larger, so attention turns sharper (see the measured note on the guide entry).",
        },
        entries: &[EntryId::AttentionWeightsAreUniform],
        reproduce: Stage {
            title: "Unscaled scores",
            instructions: "Apply the setup and start; note the attention entropy.",
            setups: &[setup("No 1/√d_k, 150 steps", Some(FaultId::NoAttnScale), &[Change::Setting(SettingKey::Steps, "150")])],
            check: unscaled,
        },
        fix: Stage {
            title: "Scaled scores",
            instructions: "Turn the fault off and train the same steps: compare the entropy.",
            setups: &[setup("With 1/√d_k, 150 steps", None, &[Change::Setting(SettingKey::Steps, "150")])],
            check: scaled,
        },
    },
    Exercise {
        id: "overfit",
        title: "Overfitting a tiny corpus, and the cure",
        section: SectionId::Overfitting,
        goal: "Train long on a few thousand tokens until validation loss turns up; then give the model the whole corpus.",
        prediction: Prediction {
            question: "Training long on a tiny corpus: what does the validation loss do?",
            options: &["Falls with the training loss all the way", "Falls, then rises while the training loss keeps falling", "Stays at ln V"],
            answer: 1,
            why: "The model memorises the few sequences it sees; what it learns stops transferring to unseen text.",
        },
        entries: &[EntryId::ValidationLossIncreasingWhileTrainingLossDecreases],
        reproduce: Stage {
            title: "Memorise",
            instructions: "Apply the setup (800 steps: a few minutes) and start; watch the validation curve.",
            setups: &[setup("Tiny dataset, 800 steps", Some(FaultId::TinyDataset), &[])],
            check: overfits,
        },
        fix: Stage {
            title: "More data",
            instructions: "Turn the fault off: the same steps on the whole corpus.",
            setups: &[setup("Whole corpus, 800 steps", Some(FaultId::TinyDataset), &[]).turning_off(&[FaultId::TinyDataset])],
            check: generalises,
        },
    },
];
