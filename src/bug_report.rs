//! "Ask with details", the guide's last piece of help, made concrete: the current run written up as
//! a Markdown bug report with what a helper asks for first (a link that reproduces it, the seed, the
//! first loss against ln V, the model's shape and size, the gradient norms, and what the detector
//! measured), every figure read from the run's own records.

use crate::form::RunForm;
use crate::run_view::RunView;
use std::fmt::Write;

/// The Markdown report of `view`'s run; `page` is the app's address without its query and hash
/// (the report's link carries the run's settings, faults and seed). `None` before a run has started.
pub fn bug_report(view: &RunView, page: &str) -> Option<String> {
    let config = view.config.as_ref()?;
    let info = view.info.as_ref()?;
    let query: Vec<String> =
        RunForm::from_config(config).to_query().into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut md = String::new();
    let m = &info.model;
    let line = |md: &mut String, text: String| {
        md.push_str(&text);
        md.push('\n');
    };
    line(&mut md, "## Training run report (Faultline)".into());
    line(&mut md, String::new());
    line(&mut md, format!("- Reproduce: {page}?{}#/", query.join("&")));
    line(&mut md, format!("- Seed: {}; backend: {}", config.seed, info.backend));
    line(
        &mut md,
        format!(
            "- Model: {} parameters; context {}, d_model {}, {} heads of {}, {} layers, vocabulary {}",
            info.param_count,
            m.context,
            m.d_model,
            m.n_heads,
            m.head_dim(),
            m.n_layers,
            m.vocab_size
        ),
    );
    let faults: Vec<&str> = config.faults.active().into_iter().map(|(id, _)| id.as_str()).collect();
    if !faults.is_empty() {
        line(&mut md, format!("- Faults on: {}", faults.join(", ")));
    }
    match (view.steps.first(), view.vocab_size()) {
        (Some(first), Some(vocab)) => {
            line(&mut md, format!("- First loss {:.3} against ln({vocab}) = {:.3}", first.loss, (vocab as f32).ln()))
        }
        _ => line(&mut md, "- First loss: no step yet".into()),
    }
    if let (Some(first), Some(last)) = (view.steps.first(), view.steps.last()) {
        line(
            &mut md,
            format!(
                "- Step {}: loss {:.4}; global gradient norm {:.3} at step {}, {:.3} at step {}",
                last.step, last.loss, first.grad_norm, first.step, last.grad_norm, last.step
            ),
        );
    }
    if let Some(eval) = view.evals.last().filter(|e| !e.tensors.is_empty()) {
        let by_norm = |a: &&faultline_engine::telemetry::TensorStats, b: &&faultline_engine::telemetry::TensorStats| {
            a.grad_norm.total_cmp(&b.grad_norm)
        };
        let smallest = eval.tensors.iter().min_by(by_norm);
        let largest = eval.tensors.iter().max_by(by_norm);
        if let (Some(s), Some(l)) = (smallest, largest) {
            line(
                &mut md,
                format!(
                    "- Per-tensor gradient norms at step {}: smallest {:.3e} ({}), largest {:.3e} ({})",
                    eval.step, s.grad_norm, s.name, l.grad_norm, l.name
                ),
            );
        }
    }
    if let Some(stop) = &view.stop {
        line(&mut md, format!("- Stopped at step {}: first non-finite tensor {}", stop.step, stop.tensor));
    }
    line(&mut md, String::new());
    match view.findings() {
        [] => line(&mut md, "The detector names no guide entry for this run.".into()),
        findings => {
            line(&mut md, "What the detector measured:".into());
            for f in findings {
                let mut item = format!("- {} ({:.0}% confident)", f.entry.as_str(), 100.0 * f.confidence);
                for e in &f.evidence {
                    write!(item, "; {e}").ok();
                }
                line(&mut md, item);
            }
        }
    }
    Some(md)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::protocol::test_support::{eval_record, run_info, step_record};
    use crate::protocol::RunEvent;
    use faultline_engine::faults::FaultId;
    use faultline_engine::RunConfig;

    #[test]
    fn nothing_to_report_before_a_run() {
        assert_eq!(bug_report(&RunView::default(), "http://127.0.0.1:8080/"), None);
    }

    #[test]
    fn the_report_carries_the_link_the_seed_the_first_loss_and_the_gradients() {
        let mut config = RunConfig { seed: 7, ..RunConfig::default() };
        config.faults.set(FaultId::NoGradClip, None).unwrap();
        let mut v = RunView::starting(1, config);
        v.apply(1, RunEvent::Started(run_info(false)));
        v.apply(1, RunEvent::Steps { records: vec![step_record(1, 3.7), step_record(2, 3.1)], tokens_per_s: None });
        let mut eval = eval_record(2, 3.1, Some(3.2), None);
        eval.tensors.iter_mut().enumerate().for_each(|(i, t)| t.grad_norm = 0.1 * (i + 1) as f32);
        let smallest = eval.tensors[0].name.clone();
        v.apply(1, RunEvent::Eval(eval));
        let md = bug_report(&v, "http://127.0.0.1:8080/").expect("a report");
        assert!(md.contains("- Reproduce: http://127.0.0.1:8080/?"), "{md}");
        assert!(md.contains("seed=7") && md.contains("fault=no-grad-clip"), "{md}");
        assert!(md.contains("- Seed: 7"), "{md}");
        assert!(md.contains("- First loss 3.700 against ln(40) = 3.689"), "{md}");
        assert!(md.contains(&format!("smallest 1.000e-1 ({smallest})")), "{md}");
        assert!(md.contains("Faults on: no-grad-clip"), "{md}");
        assert!(md.contains("The detector names no guide entry"), "{md}");
    }
}
