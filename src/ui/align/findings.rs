//! What the detector reads in the fine-tuning run's telemetry: each finding linked to its guide entry
//! with its evidence, or why it names nothing; and what Faultline measured beside those entries.

use super::super::finding::{FindingAnnouncer, FindingCard};
use super::super::guide::measured_notes;
use crate::align_view::{percent, AlignView};
use faultline_engine::align::Method;
use faultline_engine::diagnosis::{DPO_MIN_STEPS, QUALITY_FALL, RL_MIN_STEPS};
use faultline_engine::guide::EntryId;
use leptos::prelude::*;

/// Why the detector names nothing, from the run's own numbers.
fn nothing_named(v: &AlignView) -> String {
    let steps = v.steps_done();
    let (method, needed) = match v.method() {
        Method::Dpo => ("DPO", DPO_MIN_STEPS),
        Method::Rl => ("policy-gradient", RL_MIN_STEPS),
    };
    if steps < needed {
        let more = if v.state.is_active() { "; it reads the run again at each evaluation" } else { "" };
        return format!(
            "Nothing to name: the run has {steps} {method} steps, fewer than the {needed} the detector needs{more}."
        );
    }
    if let Some(rl) = &v.rl {
        let quality = match (rl.steps.first(), rl.steps.last()) {
            (Some(first), Some(last)) => format!(
                " (the true quality of the step's samples was {} at step {} and {} at step {})",
                percent(first.quality),
                first.step,
                percent(last.quality),
                last.step
            ),
            _ => String::new(),
        };
        return format!(
            "No diagnosis: the true quality has not fallen by {} while the proxy reward rose{quality}.",
            percent(QUALITY_FALL)
        );
    }
    let falling = match (v.steps.first(), v.steps.last()) {
        (Some(first), Some(last)) => {
            format!(" (from {:.3} at step {} to {:.3} at step {})", first.loss, first.step, last.loss, last.step)
        }
        _ => String::new(),
    };
    format!("No diagnosis: the DPO loss is falling{falling}.")
}

#[component]
pub fn AlignFindings(view: RwSignal<AlignView>) -> impl IntoView {
    let findings = Memo::new(move |_| view.with(|v| v.findings.clone()));
    let announced = Signal::derive(move || view.with(|v| (v.run, v.findings.clone().unwrap_or_default())));
    let body = move || match findings.get() {
        None => view! {
            <p class="note">"The detector reads the fine-tuning telemetry, and nothing else, after each evaluation."</p>
        }
        .into_any(),
        Some(found) if found.is_empty() => {
            view! { <p id="dpo-no-diagnosis" class="align-none">{move || view.with(nothing_named)}</p> }.into_any()
        }
        Some(found) => {
            let items = found.into_iter().enumerate().map(|(rank, finding)| view! { <FindingCard finding rank /> });
            view! { <ol class="plain">{items.collect_view()}</ol> }.into_any()
        }
    };
    view! {
        <section id="dpo-findings" class="panel align-findings" aria-labelledby="dpo-findings-title">
            <h2 id="dpo-findings-title" class="section-title">"What the run shows"</h2>
            <FindingAnnouncer id="dpo-finding-announcement" findings=announced />
            {body}
        </section>
    }
}

/// What Faultline measured beside the guide entries `method`'s faults produce.
#[component]
pub fn MeasuredNotes(method: Method) -> impl IntoView {
    let mut entries: Vec<EntryId> = Vec::new();
    for spec in method.faults() {
        if !entries.contains(&spec.guide_entry) {
            entries.push(spec.guide_entry);
        }
    }
    entries.into_iter().map(measured_notes).collect_view()
}
