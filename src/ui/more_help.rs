//! The guide's "Getting more help", with its last step made concrete: a bug report of the current
//! run, shown and copied to the clipboard.

use super::controller::Controller;
use super::link::write_clipboard;
use crate::bug_report::bug_report;
use crate::form::RunForm;
use crate::route::Route;
use crate::simplify::{self, one_batch_form};
use faultline_engine::guide::MORE_HELP;
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
