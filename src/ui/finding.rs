//! One finding of the detector as a card: its guide entry linked, how confident it is, when it first
//! showed and the evidence in numbers. The pages that read runs the trainer did not draw (a log, a
//! fine-tuning run) show their findings with it.

use crate::route::Route;
use faultline_engine::diagnosis::Finding;
use leptos::prelude::*;

/// What a finding's confidence means, as its tooltip says.
const CONFIDENCE_MEANS: &str =
    "on runs the detector was not tuned on, findings this confident were right about this often";

/// A finding ranked `rank` (0: the detector's first), with `extra` classes beside `finding`, and
/// whatever the page adds after its evidence.
#[component]
pub fn FindingCard(
    finding: Finding,
    rank: usize,
    #[prop(optional)] extra: &'static str,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let entry = finding.entry.entry();
    let when = finding.first_step.map(|step| format!("First seen at step {step}."));
    let evidence = finding.evidence.iter().map(|e| view! { <li>{e.to_string()}</li> }).collect_view();
    view! {
        <li class=format!("finding {extra}") class:top=rank == 0 data-entry=entry.id.as_str()>
            <header class="finding-head">
                <h3>
                    <a href=Route::GuideEntry(entry.id).href()>{entry.title}</a>
                </h3>
                <span class="score" title=CONFIDENCE_MEANS>
                    {format!("{:.0}% confidence", finding.confidence * 100.0)}
                </span>
            </header>
            <p class="finding-section">{entry.section.title()}</p>
            {when.map(|w| view! { <p class="finding-when">{w}</p> })}
            <h4>"Measured"</h4>
            <ul class="evidence">{evidence}</ul>
            {children.map(|c| c())}
        </li>
    }
}
