//! One finding of the detector as a card: its guide entry linked, how confident it is, when it first
//! showed and the evidence in numbers. The pages that read runs the trainer did not draw (a log, a
//! fine-tuning run) show their findings with it.

use crate::protocol::RunId;
use crate::route::Route;
use faultline_engine::diagnosis::Finding;
use faultline_engine::guide::EntryId;
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

/// A visually hidden live region, `id`, that says in words each guide entry the detector names in a
/// run for the first time, e.g. "Finding: Loss goes to NaN — first at step 212." `findings` is the run
/// and the findings the page shows. Each entry is spoken once a run; those already named when the region
/// appears are not.
#[component]
pub fn FindingAnnouncer(id: &'static str, findings: Signal<(RunId, Vec<Finding>)>) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let entries = |found: &[Finding]| found.iter().map(|f| f.entry).collect::<Vec<EntryId>>();
    let heard = StoredValue::new(findings.with_untracked(|(run, found)| (*run, entries(found))));
    Effect::new(move |_| {
        findings.with(|(run, found)| {
            let (heard_in, mut known) = heard.get_value();
            if heard_in != *run {
                known.clear();
                text.set(String::new());
            }
            let mut fresh = Vec::new();
            for f in found {
                if known.contains(&f.entry) {
                    continue;
                }
                let when =
                    f.first_step.map_or_else(|| "before the first step".to_string(), |s| format!("first at step {s}"));
                fresh.push(format!("Finding: {} — {when}.", f.entry.title()));
                known.push(f.entry);
            }
            heard.set_value((*run, known));
            if !fresh.is_empty() {
                text.set(fresh.join(" "));
            }
        })
    });
    view! { <p id=id class="visually-hidden" aria-live="polite">{text}</p> }
}
