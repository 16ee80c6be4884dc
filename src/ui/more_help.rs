//! The guide's "Getting more help", with its last step made concrete: a bug report of the current
//! run, shown and copied to the clipboard.

use super::controller::Controller;
use super::link::write_clipboard;
use crate::bisect::{Bisect, Next};
use crate::bug_report::bug_report;
use crate::form::RunForm;
use crate::route::Route;
use crate::run_view::RunState;
use crate::simplify::{self, one_batch_form};
use faultline_engine::guide::MORE_HELP;
use faultline_engine::RunConfig;
use leptos::prelude::*;

/// The app's address without its query and hash: the report's link adds the run's own.
fn page_address() -> String {
    let Some(location) = web_sys::window().map(|w| w.location()) else { return String::new() };
    format!("{}{}", location.origin().unwrap_or_default(), location.pathname().unwrap_or_default())
}

#[component]
pub fn MoreHelp(controller: Controller, form: RwSignal<RunForm>) -> impl IntoView {
    let view = controller.view;
    let report = Memo::new(move |_| view.with(|v| bug_report(v, &page_address())));
    let said = RwSignal::new(String::new());
    let copy = move |_| {
        let Some(text) = report.get_untracked() else { return };
        let written = write_clipboard(&text);
        leptos::task::spawn_local(async move {
            said.set(if written.await {
                "Report copied".to_string()
            } else {
                "The browser refused the clipboard: select the report below and copy it".to_string()
            });
        });
    };
    let steps =
        MORE_HELP.iter().map(|(title, text)| view! { <li><strong>{*title}</strong>" — "{*text}</li> }).collect_view();
    let simplify = move |_| {
        form.update(|f| *f = one_batch_form(f.clone()));
        if let Some(w) = web_sys::window() {
            w.location().set_hash(&Route::Trainer.href()).ok();
        }
    };
    let verdict = move || {
        view.with(simplify::verdict).map(|(passed, text)| {
            view! { <p id="one-batch-verdict" data-check-state=if passed { "passed" } else { "failed" }>{text}</p> }
        })
    };
    view! {
        <section class="guide-card" id="more-help" aria-labelledby="more-help-title">
            <h2 id="more-help-title">"Getting more help"</h2>
            <ol class="more-help">{steps}</ol>
            <p>
                <button id="simplify" class="quiet" on:click=simplify>"Simplify: overfit one batch"</button>
                " Your current settings and faults, trained for "
                {simplify::STEPS}
                " steps on the same batch. The detector reads such a run as any other, so read this verdict instead."
            </p>
            {verdict}
            <BisectPanel controller />
            {move || match report.get() {
                None => view! {
                    <p class="note" id="bug-report-none">"Start a run on the trainer page and its report appears here."</p>
                }
                .into_any(),
                Some(text) => view! {
                    <div class="bug-report">
                        <p>
                            <button id="copy-report" class="quiet" on:click=copy>"Copy a bug report"</button>
                            " "
                            <span id="copy-report-status" role="status">{said}</span>
                        </p>
                        <pre id="bug-report" class="code" tabindex="0" aria-label="Bug report of the current run">{text}</pre>
                    </div>
                }
                .into_any(),
            }}
        </section>
    }
}

/// The guide's "Bisect": runs of the learner's own length and seed try half of the run's changes from
/// the defaults at a time until the one that brings the detector's finding back is left.
#[component]
fn BisectPanel(controller: Controller) -> impl IntoView {
    let view = controller.view;
    let bisect = RwSignal::new(None::<Bisect>);
    let awaiting = StoredValue::new(None::<RunConfig>);
    let advance = move || {
        let next = bisect.with_untracked(|b| b.as_ref().map(Bisect::next));
        if let Some(Next::Run(config)) = next {
            awaiting.set_value(Some((*config).clone()));
            controller.start(*config, false);
        }
    };
    Effect::new(move |_| {
        let ended = view.with(|v| {
            let over = matches!(v.state, RunState::Finished | RunState::Stopped | RunState::Error);
            let ours = awaiting.with_value(|a| a.is_some() && a.as_ref() == v.config.as_ref());
            (over && ours).then(|| v.findings().iter().map(|f| f.entry).collect::<Vec<_>>())
        });
        if let Some(findings) = ended {
            awaiting.set_value(None);
            bisect.update(|b| {
                if let Some(b) = b {
                    b.record(&findings);
                }
            });
            advance();
        }
    });
    let candidate = move || {
        view.with(|v| {
            let over = matches!(v.state, RunState::Finished | RunState::Stopped);
            let symptom = v.findings().first().map(|f| f.entry)?;
            over.then(|| Bisect::new(v.config.as_ref()?, symptom)).flatten()
        })
    };
    let start = move |_| {
        if let Some(b) = candidate() {
            bisect.set(Some(b));
            advance();
        }
    };
    let stop = move |_| {
        awaiting.set_value(None);
        bisect.set(None);
    };
    let body = move || {
        match bisect.get() {
        None => candidate().map(|b| {
            let changes = b.describe(&(0..b.pieces.len()).collect::<Vec<_>>());
            view! {
                <p>
                    <button id="bisect" class="quiet" on:click=start>"Bisect"</button>
                    {format!(
                        " Your run shows “{}” with {} changes from the defaults ({changes}). Runs of its own steps and \
                         seed try half of them at a time; each replaces the trainer's run, which is kept in the history.",
                        b.symptom.title(),
                        b.pieces.len()
                    )}
                </p>
            }
            .into_any()
        }),
        Some(b) => {
            let trials = b
                .path
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let seen = if t.symptom == Some(true) { "the symptom came back" } else { "no symptom" };
                    view! { <li>{format!("Run {}: {} → {seen}", i + 1, b.describe(&t.pieces))}</li> }
                })
                .collect_view();
            let outcome = match b.next() {
                Next::Run(_) => format!("Run {} is training…", b.path.len() + 1),
                Next::Found(piece) => format!("Found: {} alone brings “{}” back.", b.pieces[piece].label, b.symptom.title()),
                Next::Together(pieces) => format!(
                    "Neither half alone brings it back: the symptom needs changes from both of {}.",
                    b.describe(&pieces)
                ),
            };
            Some(
                view! {
                    <div id="bisect-panel">
                        <ol class="bisect-path">{trials}</ol>
                        <p id="bisect-outcome" role="status">{outcome}</p>
                        <button type="button" class="link-button" on:click=stop>"Close the bisection"</button>
                    </div>
                }
                .into_any(),
            )
        }
    }
    };
    view! { <div class="bisect">{body}</div> }
}
