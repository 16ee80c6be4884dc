//! The diagnose page (`#/diagnose`): the detector on a training log another program wrote. The files
//! are read in this browser by the training worker and never leave it.
//!
//! - `reading.rs`: [`LogReader`], the files sent to the worker a chunk at a time, and its answers.
//! - `input.rs`: the drop zone and file picker, the format and the vocabulary size.
//! - `report.rs`: the runs of the log, and one run's report: its findings linked to the guide with the
//!   fault that reproduces each, what the detector is watching, and what the log cannot tell (with the
//!   PyTorch that logs it).
//! - `charts.rs`: the run's curves on the trainer's charts, smoothed as TensorBoard does.

mod charts;
mod input;
mod reading;
mod report;

pub use reading::LogReader;

use super::controller::Controller;
use crate::form::RunForm;
use crate::log_view::LogState;
use charts::LogCharts;
use input::LogInput;
use leptos::prelude::*;
use report::{MissingSignals, RunFindings, RunPicker};

#[component]
pub fn DiagnosePage(controller: Controller, form: RwSignal<RunForm>) -> impl IntoView {
    let reader = controller.logs;
    let view = reader.view;
    let state = move || view.with(|v| v.state);
    let has_read = move || view.with(|v| v.read.is_some());
    let previous_note = move || {
        view.with(|v| {
            let shown = v.read.as_ref().filter(|_| v.state.is_busy() || v.message.is_some())?;
            Some(format!("Still showing the last log read: {}.", shown.files.join(", ")))
        })
    };
    view! {
        // A file dropped beside the drop zone is ignored rather than opened in place of the page.
        <main
            class="diagnose"
            id="diagnose"
            data-state=move || state().as_str()
            on:dragover=|ev| ev.prevent_default()
            on:drop=|ev| ev.prevent_default()
        >
            <h1>"Diagnose your own training log"</h1>
            <p class="lede">
                "Give Faultline the log of a run you trained elsewhere and the detector that watches the trainer "
                "reads it, run by run: the guide entries its curves point to, with the evidence in numbers, and "
                "what the log would need for the rest."
            </p>
            <LogInput reader />
            <div class="log-status" aria-live="polite">
                <p id="log-status" class:failed=move || state() == LogState::Failed>
                    {move || view.with(|v| v.status())}
                </p>
                {move || {
                    view.with(|v| v.progress())
                        .map(|share| view! { <progress id="log-progress" max="1" value=share></progress> })
                }}
                <p class="note">{previous_note}</p>
            </div>
            <Show when=has_read>
                <RunPicker reader />
                <RunFindings controller form reader />
                <LogCharts reader />
                <MissingSignals reader />
            </Show>
        </main>
    }
}
