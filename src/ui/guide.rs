//! The guide's pages: the index (Quick Diagnosis, the Quick Checklist ticked from the current run, every
//! section and entry) and one entry in full, with the faults that reproduce it.

use super::controller::Controller;
use super::guide_text::{bullets, causes, rich, snippets};
use super::more_help::MoreHelp;
use crate::checklist::run_checklist;
use crate::exercises::EXERCISES;
use crate::form::{FormKind, RunForm};
use crate::route::{entry_href, section_href, Route};
use faultline_engine::faults::reproduce::symptom_test;
use faultline_engine::faults::{measured, FaultId, Stage, FAULTS};
use faultline_engine::guide::{EntryId, GuideEntry, QUICK_DIAGNOSIS, SECTIONS};
use leptos::prelude::*;

/// Sets the form of the page where fault `id` lives up for its scenario, starts the run and shows
/// that page: the trainer (`form`), or the alignment page for a fine-tuning fault.
pub(super) fn try_fault(controller: Controller, form: RwSignal<RunForm>, id: FaultId) {
    let shown = RunForm::show_me(id);
    let page = match shown.kind() {
        FormKind::Trainer => {
            let config = shown.to_config();
            form.update(|f| *f = shown.keeping_own_text(f));
            if let Ok(config) = config {
                controller.start(config, false);
            }
            Route::Trainer
        }
        FormKind::Alignment(method) => {
            controller.align.form.set(shown);
            controller.start_alignment();
            Route::Align(method)
        }
    };
    if let Some(w) = web_sys::window() {
        w.location().set_hash(&page.href()).ok();
    }
}

#[component]
pub fn GuideIndex(controller: Controller, form: RwSignal<RunForm>) -> impl IntoView {
    let view = controller.view;
    let runs = controller.runs;
    let checks = Memo::new(move |_| view.with(|v| runs.list.with(|kept| run_checklist(v, &kept.runs, runs.on_page()))));
    let run_note = move || {
        view.with(|v| match (&v.info, v.steps_done) {
            (None, _) => "No run yet: start one on the trainer page and these items tick themselves.".to_string(),
            (Some(info), steps) => format!("Measured on the current run: {steps} of {} steps so far.", info.steps),
        })
    };
    let rows = QUICK_DIAGNOSIS
        .iter()
        .map(|row| {
            let section = row.section.title();
            let links =
                row.entries.iter().map(|&id| view! { <li><a href=entry_href(id)>{id.title()}</a></li> }).collect_view();
            // The row matches when the detector names one of its entries on the current run.
            let matched =
                Memo::new(move |_| view.with(|v| v.findings().iter().any(|f| row.entries.contains(&f.entry))));
            view! {
                <tr class:matched=move || matched.get() data-matched=move || matched.get().to_string()>
                    <td>
                        {row.symptom}
                        <Show when=move || matched.get()>
                            <span class="matched-note">" — your current run shows this"</span>
                        </Show>
                    </td>
                    <td>{row.stage}</td>
                    <td>
                        <a href=section_href(row.section) class="section-link">{section}</a>
                        <ul class="plain">{links}</ul>
                    </td>
                </tr>
            }
        })
        .collect_view();
    let sections = SECTIONS
        .iter()
        .map(|s| {
            let entries =
                s.id.entries()
                    .map(|e| {
                        let faults = FAULTS.iter().filter(|f| f.guide_entry == e.id).count();
                        let reproduce = match faults {
                            0 => String::new(),
                            1 => " · 1 fault reproduces it".to_string(),
                            n => format!(" · {n} faults reproduce it"),
                        };
                        view! {
                            <li>
                                <a href=entry_href(e.id)>{e.title}</a>
                                <span class="muted">{reproduce}</span>
                                <p>{e.summary}</p>
                            </li>
                        }
                    })
                    .collect_view();
            view! {
                <section class="guide-section" id=s.id.as_str()>
                    <h2>{s.title}</h2>
                    <ul class="entry-list">{entries}</ul>
                </section>
            }
        })
        .collect_view();
    view! {
        <main class="guide" id="guide-index">
            <h1>"Troubleshooting guide"</h1>
            <p class="lede">
                "Every entry below is one symptom a language model in training can show: what you see, why it happens, "
                "how to find out which cause is at work and how to fix it. The trainer reproduces them with real faults."
            </p>
            <section class="guide-card" aria-labelledby="quick-diagnosis">
                <h2 id="quick-diagnosis">"Quick diagnosis"</h2>
                <div class="table-scroll">
                    <table class="quick">
                        <thead>
                            <tr><th scope="col">"Symptom"</th><th scope="col">"Usually starts in"</th><th scope="col">"Read"</th></tr>
                        </thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            </section>
            <section class="guide-card" aria-labelledby="quick-checklist">
                <h2 id="quick-checklist">"Quick checklist"</h2>
                <p class="note">{run_note}</p>
                <ol id="checklist" class="checklist">
                    <For
                        each=move || checks.get()
                        key=|c| (c.id, c.check, c.detail.clone())
                        children=|c| {
                            view! {
                                <li data-item=c.id.as_str() data-check-state=c.check.as_str()>
                                    <span class="tick" aria-hidden="true"></span>
                                    <div>
                                        <p class="check-text">{c.text}</p>
                                        <p class="check-detail">
                                            <span class="visually-hidden">{format!("{}: ", c.check.as_str())}</span>
                                            {c.detail}
                                        </p>
                                        <p class="hint">{c.how_checked}</p>
                                    </div>
                                </li>
                            }
                        }
                    />
                </ol>
            </section>
            <MoreHelp controller form />
            {sections}
        </main>
    }
}

#[component]
pub fn GuideEntryPage(controller: Controller, form: RwSignal<RunForm>, entry: &'static GuideEntry) -> impl IntoView {
    let view = controller.view;
    let live = Memo::new(move |_| view.with(|v| v.findings().iter().find(|f| f.entry == entry.id).cloned()));
    let related = entry
        .related
        .iter()
        .map(|id| id.entry())
        .map(|e| view! { <li><a href=entry_href(e.id)>{e.title}</a>" — "{e.summary}</li> })
        .collect_view();
    let faults: Vec<_> = FAULTS.iter().filter(|f| f.guide_entry == entry.id).collect();
    let reproduce = if faults.is_empty() {
        view! {
            <p class="note">
                "No fault reproduces this entry: it describes a method rather than a symptom. The exercises below "
                "practise it."
            </p>
        }
        .into_any()
    } else {
        let items = faults
            .into_iter()
            .map(|f| {
                let settings = match (f.stage, f.scenario.is_empty()) {
                    (Stage::FineTuning, _) => "the alignment page's default settings".to_string(),
                    (Stage::Pretraining, true) => "default settings".to_string(),
                    (Stage::Pretraining, false) => f.scenario.to_string(),
                };
                view! {
                    <li class="reproduce">
                        <div>
                            <code>{f.id.as_str()}</code>
                            <p>{f.summary}" (with "{settings}")"</p>
                            <p class="tested-by">"Tested by " <code>{symptom_test(f.id)}</code></p>
                        </div>
                        <button type="button" class="primary" data-try=f.id.as_str() on:click=move |_| try_fault(controller, form, f.id)>
                            "Try it"
                        </button>
                    </li>
                }
            })
            .collect_view();
        view! { <ul class="plain reproduce-list">{items}</ul> }.into_any()
    };
    view! {
        <main class="guide" id="guide-entry" data-entry-page=entry.id.as_str()>
            <nav class="breadcrumb" aria-label="Breadcrumb">
                <a href=Route::GuideIndex.href()>"Guide"</a>
                " › "
                <a href=section_href(entry.section)>{entry.section.title()}</a>
            </nav>
            <h1>{entry.title}</h1>
            <p class="lede">{rich(entry.summary)}</p>
            {move || {
                live.get().map(|f| {
                    view! {
                        <aside class="live-finding">
                            <h2>"Your current run shows this"</h2>
                            <ul class="evidence">{f.evidence.iter().map(|e| view! { <li>{e.to_string()}</li> }).collect_view()}</ul>
                        </aside>
                    }
                })
            }}
            <div class="guide-columns">
                <section class="guide-card">
                    <h2>"Symptoms"</h2>
                    {bullets(entry.symptoms)}
                    <Show when=move || !entry.causes.is_empty()>
                        <h2>"Causes"</h2>
                        {causes(entry.causes, None)}
                    </Show>
                </section>
                <section class="guide-card">
                    <h2>"Reproduce it"</h2>
                    {reproduce}
                    {practise(entry.id)}
                </section>
            </div>
            {measured_notes(entry.id)}
            <section class="guide-card">
                <h2>"Diagnosis"</h2>
                {snippets(entry.diagnosis)}
            </section>
            <section class="guide-card">
                <h2>"Fixes"</h2>
                {snippets(entry.fixes)}
            </section>
            <section class="guide-card">
                <h2>"Related"</h2>
                <ul class="guide-list">{related}</ul>
            </section>
        </main>
    }
}

/// The exercises that teach `entry`, linked: break, observe, diagnose, fix and verify it yourself.
fn practise(entry: EntryId) -> impl IntoView {
    let items: Vec<_> = EXERCISES
        .iter()
        .filter(|e| e.entries.contains(&entry))
        .map(|e| view! { <li><a href=Route::Exercise(e.id).href() data-exercise-id=e.id.as_str()>{e.title}</a></li> })
        .collect();
    (!items.is_empty()).then(|| {
        view! {
            <h3>"Practise it"</h3>
            <ul class="plain exercise-links">{items}</ul>
        }
    })
}

/// Where Faultline's measurements disagree with the guide's text: said plainly, with the numbers.
pub(super) fn measured_notes(entry: EntryId) -> impl IntoView {
    let notes: Vec<_> = measured::for_entry(entry).collect();
    (!notes.is_empty()).then(|| {
        let items = notes
            .into_iter()
            .map(|m| {
                view! {
                    <li data-measured=m.fault.as_str()>
                        <p>
                            <strong>"The guide says "</strong>
                            {m.guide_says}
                            ". "
                            <strong>"Faultline measured "</strong>
                            {m.measured}
                        </p>
                        <p class="reproduce-cmd">
                            "Reproduce: " <code>{m.reproduce}</code>
                        </p>
                    </li>
                }
            })
            .collect_view();
        view! {
            <section class="guide-card measured" id="measured">
                <h2>"What Faultline measured"</h2>
                <ul class="plain">{items}</ul>
            </section>
        }
    })
}

#[component]
pub fn NotFound(hash: String) -> impl IntoView {
    view! {
        <main class="guide">
            <h1>"No such page"</h1>
            <p>{format!("Nothing lives at {hash}. ")}<a href=Route::Trainer.href()>"Back to the trainer"</a>" or "<a href=Route::GuideIndex.href()>"open the guide"</a>"."</p>
        </main>
    }
}
