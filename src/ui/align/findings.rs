//! What the detector reads in the fine-tuning run's telemetry: each finding linked to its guide entry
//! with its evidence, or why it names nothing; and what Faultline measured beside those entries.

use super::super::finding::FindingCard;
use super::super::guide::measured_notes;
use crate::align_view::AlignView;
use faultline_engine::diagnosis::DPO_MIN_STEPS;
use faultline_engine::faults::Stage;
use faultline_engine::guide::EntryId;
use leptos::prelude::*;

/// Why the detector names nothing, from the run's own numbers.
fn nothing_named(v: &AlignView) -> String {
    let steps = v.steps_done();
    if steps < DPO_MIN_STEPS {
        let more = if v.state.is_active() { "; it reads the run again at each evaluation" } else { "" };
        return format!(
            "Nothing to name: the run has {steps} DPO steps, fewer than the {DPO_MIN_STEPS} the detector needs{more}."
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
    let body = move || match findings.get() {
        None => view! {
            <p class="note">"The detector reads the DPO telemetry, and nothing else, after each evaluation."</p>
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
            {body}
        </section>
    }
}

/// What Faultline measured beside the guide entries the fine-tuning faults produce.
#[component]
pub fn MeasuredNotes() -> impl IntoView {
    let mut entries: Vec<EntryId> = Vec::new();
    for spec in Stage::FineTuning.faults() {
        if !entries.contains(&spec.guide_entry) {
            entries.push(spec.guide_entry);
        }
    }
    entries.into_iter().map(measured_notes).collect_view()
}
