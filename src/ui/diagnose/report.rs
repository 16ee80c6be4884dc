//! One logged run's report: which run of the log is on show, the findings linked to their guide
//! entries with the fault that reproduces each in the trainer, what the detector is watching, and what
//! the log cannot tell with the few lines of PyTorch that would log it.

use super::super::controller::Controller;
use super::super::finding::FindingCard;
use super::super::guide::try_fault;
use super::super::guide_text::rich;
use super::super::link::write_clipboard;
use super::reading::LogReader;
use crate::form::RunForm;
use crate::route::Route;
use faultline_engine::diagnosis::{Finding, LogReport, Needed, Vocab, MIN_RECORDS};
use faultline_engine::faults::reproduce::{for_entry, Reproduction};
use faultline_engine::guide::EntryId;
use faultline_engine::telemetry::log::Signal;
use leptos::prelude::*;

/// The runs of a log that holds several, each a button that shows its report.
#[component]
pub fn RunPicker(reader: LogReader) -> impl IntoView {
    let runs = Memo::new(move |_| {
        reader.view.with(|v| {
            let runs = v.read.as_ref().map_or(&[][..], |r| &r.runs[..]);
            runs.iter().map(|r| (r.name.clone(), r.report.findings.first().map(|f| f.entry))).collect::<Vec<_>>()
        })
    });
    let selected = move || reader.view.with(|v| v.selected);
    view! {
        <Show when=move || runs.with(|r| r.len() > 1)>
            <nav class="log-runs" aria-label="Runs in this log">
                <p class="note">
                    {move || format!("This log holds {} runs, each diagnosed on its own:", runs.with(Vec::len))}
                </p>
                <ul class="plain log-run-list">
                    {move || {
                        runs.get()
                            .into_iter()
                            .enumerate()
                            .map(|(i, (name, top))| {
                                view! {
                                    <li>
                                        <button
                                            type="button"
                                            class="quiet"
                                            data-run=i
                                            aria-pressed=move || (selected() == i).to_string()
                                            on:click=move |_| reader.view.update(|v| v.selected = i)
                                        >
                                            <span class="log-run-name">{name}</span>
                                            <span class="log-run-top">
                                                {top.map_or("no diagnosis", EntryId::title)}
                                            </span>
                                        </button>
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
            </nav>
        </Show>
    }
}

/// Where ln V came from, in a sentence.
fn vocab_line(vocab: &Vocab) -> String {
    match vocab {
        Vocab::Given { size } => format!("ln V = {:.2}: a vocabulary of {size}, as given.", (*size as f32).ln()),
        Vocab::Estimated { size, first_loss, step } => format!(
            "ln V ≈ {first_loss:.2}, estimated from the first loss (step {step}), taking the run to start from \
             scratch (a vocabulary of about {size}). Give the vocabulary size above if it did not."
        ),
        Vocab::Unknown => "ln V is unknown: the rules that compare the loss with it abstain. Give the vocabulary \
                           size above to let them judge."
            .to_string(),
    }
}

/// The run's name, what the log holds and what the detector names in it.
#[component]
pub fn RunFindings(controller: Controller, form: RwSignal<RunForm>, reader: LogReader) -> impl IntoView {
    let shown = Memo::new(move |_| {
        reader.view.with(|v| {
            let run = v.run()?;
            let loss_records = run.curves.iter().find(|c| c.signal == Signal::Loss).map_or(0, |c| c.points.len());
            Some((run.name.clone(), run.report.clone(), loss_records))
        })
    });
    move || {
        shown.get().map(|(name, report, loss_records)| {
            let LogReport { steps, stride, signals, vocab, findings, watching, .. } = report;
            let every = if stride == 1 { "every step".to_string() } else { format!("every {stride} steps") };
            let facts = format!("Logged up to step {steps}, the loss {every}. Signals: {}.", signals.join(", "));
            let empty = if loss_records < MIN_RECORDS {
                format!(
                    "No diagnosis: the log holds {loss_records} training-loss records, fewer than the {MIN_RECORDS} \
                     any rule that reads the curve needs."
                )
            } else {
                "No diagnosis: nothing these signals show points to a guide entry.".to_string()
            };
            let named = if findings.is_empty() {
                view! { <p id="no-diagnosis" class="log-none">{empty}</p> }.into_any()
            } else {
                let items = findings
                    .into_iter()
                    .enumerate()
                    .map(|(rank, finding)| view! { <LogFinding controller form finding rank /> })
                    .collect_view();
                view! { <ol class="plain log-findings">{items}</ol> }.into_any()
            };
            view! {
                <section class="log-report guide-card" aria-labelledby="log-run-title">
                    <h2 id="log-run-title">{format!("Run: {name}")}</h2>
                    <p class="log-facts">{facts}</p>
                    <p class="log-vocab">{vocab_line(&vocab)}</p>
                    {named}
                    {(!watching.is_empty()).then(|| view! { <Watching watching /> })}
                </section>
            }
        })
    }
}

#[component]
fn LogFinding(controller: Controller, form: RwSignal<RunForm>, finding: Finding, rank: usize) -> impl IntoView {
    let entry = finding.entry;
    view! {
        <FindingCard finding rank extra="log-finding">
            <Reproduce controller form entry />
        </FindingCard>
    }
}

/// "Reproduce this in Faultline": the fault the engine's symptom matrix found to produce `entry` most
/// often, one click from the trainer, and the others that produce it beside it.
#[component]
fn Reproduce(controller: Controller, form: RwSignal<RunForm>, entry: EntryId) -> impl IntoView {
    let rows: Vec<&'static Reproduction> = for_entry(entry).collect();
    let Some((best, others)) = rows.split_first() else {
        return view! {
            <p class="note reproduce-none">
                "No fault of the trainer produced this entry in the engine's symptom matrix: there is nothing to "
                "reproduce it with here."
            </p>
        }
        .into_any();
    };
    let share = |r: &Reproduction| format!("named first in {} of its {} runs", r.named, r.runs);
    let spec = best.fault.spec();
    let settings = if spec.scenario.is_empty() { "default settings".to_string() } else { spec.scenario.to_string() };
    let fault = best.fault;
    let has_others = !others.is_empty();
    let others = others
        .iter()
        .map(|r| {
            let fault = r.fault;
            view! {
                <li>
                    <button type="button" class="link" data-reproduce=fault.as_str() title=fault.spec().summary
                        on:click=move |_| try_fault(controller, form, fault)>
                        {fault.as_str()}
                    </button>
                    {format!(" ({})", share(r))}
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="log-reproduce" role="group" aria-label="Reproduce this in Faultline">
            <div class="log-reproduce-best">
                <button type="button" class="primary" data-reproduce=fault.as_str()
                    on:click=move |_| try_fault(controller, form, fault)>
                    "Reproduce this in Faultline"
                </button>
                <p>
                    <code>{fault.as_str()}</code>
                    {format!(": {} (with {settings}); the symptom matrix's best match, {}.", spec.summary, share(best))}
                </p>
            </div>
            {has_others.then(|| view! {
                <div class="log-reproduce-others">
                    <p>"Other faults that produce it:"</p>
                    <ul class="plain">{others}</ul>
                </div>
            })}
        </div>
    }
    .into_any()
}

#[component]
fn Watching(watching: Vec<Finding>) -> impl IntoView {
    view! {
        <div class="log-watching">
            <h3>"Watching, not named"</h3>
            <ul class="watching">
                {watching
                    .into_iter()
                    .map(|f| {
                        view! {
                            <li data-watching=f.entry.as_str()>
                                <a href=Route::GuideEntry(f.entry).href()>{f.entry.title()}</a>
                                {format!(" ({:.0}% confidence: too weak to name)", f.confidence * 100.0)}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </div>
    }
}

/// What the run's log cannot tell: for each signal it lacks, the entries that need it and the PyTorch
/// that logs it.
#[component]
pub fn MissingSignals(reader: LogReader) -> impl IntoView {
    let missing = Memo::new(move |_| {
        reader.view.with(|v| {
            let Some(run) = v.run() else { return Vec::new() };
            Needed::ALL
                .into_iter()
                .filter_map(|n| {
                    let entries: Vec<EntryId> =
                        run.report.missing.iter().filter(|m| m.signal == n).map(|m| m.entry).collect();
                    (!entries.is_empty()).then_some((n, entries))
                })
                .collect::<Vec<_>>()
        })
    });
    view! {
        <Show when=move || missing.with(|m| !m.is_empty())>
            <section class="log-missing guide-card" aria-labelledby="log-missing-title">
                <h2 id="log-missing-title">"What this log cannot tell"</h2>
                <p class="note">
                    "The detector names an entry only from signals the log has. Log these as well and it can judge "
                    "the entries each one is for (open one for the PyTorch that logs it):"
                </p>
                <ul class="plain missing-list">
                    {move || {
                        missing
                            .get()
                            .into_iter()
                            .map(|(needed, entries)| view! { <MissingSignal needed entries /> })
                            .collect_view()
                    }}
                </ul>
            </section>
        </Show>
    }
}

#[component]
fn MissingSignal(needed: Needed, entries: Vec<EntryId>) -> impl IntoView {
    let links = entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| view! { {(i > 0).then_some(", ")}<a href=Route::GuideEntry(e).href()>{e.title()}</a> })
        .collect_view();
    let how = if needed == Needed::VocabSize {
        view! {
            <p>"Give the vocabulary size in the field above (your tokenizer's " <code>"len(tokenizer)"</code> ")."</p>
        }
        .into_any()
    } else {
        view! { <Snippet code=needed.snippet() /> }.into_any()
    };
    let what = if needed == Needed::VocabSize {
        "the vocabulary size, or the loss of the very first steps"
    } else {
        needed.what()
    };
    view! {
        <li>
            <details class="missing">
                <summary class="missing-what">"Log " {rich(what)}</summary>
                <p class="missing-for">"For: " {links}</p>
                {how}
            </details>
        </li>
    }
}

/// A few lines of code with a button that copies them.
#[component]
fn Snippet(code: &'static str) -> impl IntoView {
    let said = RwSignal::new("");
    let copy = move |_| {
        let written = write_clipboard(code);
        leptos::task::spawn_local(async move {
            said.set(if written.await {
                "Copied"
            } else {
                "The browser refused the clipboard: select the code instead"
            });
        });
    };
    view! {
        <div class="snippet">
            <pre class="code" tabindex="0"><code>{code}</code></pre>
            <p class="snippet-copy">
                <button type="button" class="quiet" on:click=copy>"Copy"</button>
                " "
                <span role="status">{said}</span>
            </p>
        </div>
    }
}
