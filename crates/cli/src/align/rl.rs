//! `faultline align rl`: policy-gradient fine-tuning against a learned reward, with a KL penalty to
//! the frozen reference; the proxy reward and the true quality step by step, and a summary the
//! detector reads.

use super::{ended, event_line, start_failure, FineTuneArgs};
use crate::args::Failure;
use crate::out;
use faultline_engine::align::{Method, RlRun, RlSettings, RL_DEFAULT_CORPUS};
use faultline_engine::diagnosis::diagnose_rl;
use serde_json::json;
use std::io::Write;

pub(super) fn rl(rest: &[String]) -> Result<(), Failure> {
    let args = FineTuneArgs::parse(rest, "rl", &["prompts", "text-file", "prefer-word"])?;
    let json = args.json;
    let prompts = args.count("prompts")?;
    let mut settings = None;
    let base = args.prepare(Method::Rl, RL_DEFAULT_CORPUS, |cfg| {
        let mut s = RlSettings::from_config(cfg);
        s.prefer_word = args.extra("prefer-word").map(String::from);
        s.steps = args.steps.unwrap_or(s.steps);
        s.prompts_per_step = prompts.unwrap_or(s.prompts_per_step);
        s.eval_every = args.eval_every.unwrap_or(s.eval_every);
        s.validate()?;
        settings = Some(s);
        Ok(())
    })?;
    let settings = settings.expect("prepare checks the settings before it pretrains");
    let pretrained = base.steps_done();
    let mut run = RlRun::new(base, settings).map_err(start_failure)?;
    if json {
        for (k, record) in run.history().reward_models.iter().enumerate() {
            let mut line = serde_json::to_value(record).expect("a reward model's record serialises");
            line["model"] = json!(k);
            event_line("reward_model", &line)?;
        }
    } else {
        let s = run.settings();
        out!(
            "faultline: policy-gradient fine-tuning on '{}' from a base model of {pretrained} steps ({} trainable \
             parameters, KL coefficient {}, entropy bonus {}, lr {:.1e})",
            run.source().name(),
            run.trainable_params(),
            s.effective_kl_coef(),
            s.entropy_bonus,
            s.lr
        )?;
        out!(
            "reward: {} model(s) of {} pairs each, held-out pair accuracy {:.2}",
            s.reward_models,
            s.reward_pairs,
            run.reward_accuracy()
        )?;
    }
    let mut stopped = None;
    let mut evals_seen = 0;
    loop {
        for eval in &run.history().evals[evals_seen..] {
            if json {
                event_line("eval", eval)?;
            } else {
                let recent = run.history().steps.last();
                out!(
                    "step {:>5} | proxy reward {:+.3} | true quality {:.3} | length {:.1} | KL {:.3} | entropy {:.3}",
                    eval.step,
                    eval.reward,
                    eval.quality,
                    eval.length,
                    recent.map_or(0.0, |s| s.kl),
                    recent.map_or(0.0, |s| s.entropy),
                )?;
            }
        }
        evals_seen = run.history().evals.len();
        if run.is_done() {
            break;
        }
        match run.step() {
            Ok(step) if json => event_line("step", &step)?,
            Ok(_) => {}
            Err(e) => {
                stopped = Some(e);
                break;
            }
        }
    }
    let h = run.history();
    let diagnosis: Vec<_> = diagnose_rl(h).into_iter().map(|f| f.entry).collect();
    let summary = json!({
        "event": "summary",
        "method": "rl",
        "steps_run": run.steps_done(),
        "reward_first": h.evals.first().map(|e| e.reward),
        "reward_last": h.evals.last().map(|e| e.reward),
        "quality_first": h.evals.first().map(|e| e.quality),
        "quality_last": h.evals.last().map(|e| e.quality),
        "length_first": h.evals.first().map(|e| e.length),
        "length_last": h.evals.last().map(|e| e.length),
        "kl_last": h.steps.last().map(|s| s.kl),
        "reward_accuracy": run.reward_accuracy(),
        "first_loss": null,
        "last_loss": null,
        "pref_accuracy": null,
        "trainable_params": run.trainable_params(),
        "diagnosis": diagnosis,
        "backend": run.backend_name(),
    });
    if json {
        out!("{summary}")?;
    } else {
        for (when, eval) in [("before", h.evals.first()), ("after", h.evals.last())] {
            for (prompt, completion) in eval.map(|e| e.samples.clone()).unwrap_or_default() {
                out!("sample {when}: {prompt:?} → {completion:?}")?;
            }
        }
        out!(
            "done: {} steps, proxy reward {} → {}, true quality {} → {}, KL {}{}",
            summary["steps_run"],
            summary["reward_first"],
            summary["reward_last"],
            summary["quality_first"],
            summary["quality_last"],
            summary["kl_last"],
            if diagnosis.is_empty() { String::new() } else { format!(", diagnosis: {diagnosis:?}") }
        )?;
    }
    ended(stopped)
}
