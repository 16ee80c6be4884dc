//! The trainer: settings, faults and controls on one side; the run's numbers, the symptom panel, the
//! charts and the kept runs beside them.

use super::checkpoint::CheckpointBar;
use super::controller::Controller;
use super::controls::{PingButton, RunControls};
use super::exercises::ExerciseStrip;
use super::export::ExportBar;
use super::faults::FaultPanel;
use super::kept_runs::RunsPanel;
use super::link::CopyLink;
use super::loss_chart::LossChart;
use super::lr_finder::LrFinder;
use super::memory::MemoryPanel;
use super::performance::PerformancePanel;
use super::sample::{GeneratePanel, SamplePanel};
use super::settings::RunSettings;
use super::stats::RunStats;
use super::symptoms::SymptomPanel;
use super::telemetry::TelemetryCharts;
use crate::form::RunForm;
use crate::route::Route;
use faultline_engine::faults::Stage;
use leptos::prelude::*;

#[component]
pub fn TrainerPage(controller: Controller, form: RwSignal<RunForm>) -> impl IntoView {
    let errors = Memo::new(move |_| form.with(|f| f.to_config().err().unwrap_or_default()));
    let config = Memo::new(move |_| form.with(|f| f.to_config().ok()));
    let has_symptoms = Memo::new(move |_| controller.view.with(|v| !v.findings().is_empty()));
    let view = controller.view;
    view! {
        <section class="intro" aria-labelledby="trainer-title">
            <h1 id="trainer-title">"Train a tiny GPT, break it, name the symptom"</h1>
            <p class="lede">
                "The model trains live in your browser. Switch on a fault, watch what it does to the measurements, "
                "and read the troubleshooting guide's entry for what you see."
            </p>
            <nav class="start-here" aria-label="Where to start">
                <a href="#/#run-settings">"1. Press Start for a healthy run"</a>
                <a href="#/#faults">"2. Switch on a fault and run again"</a>
                <a href=Route::Exercises.href()>"3. Follow the guided exercises"</a>
                <a href=Route::MYSTERY.href()>"4. Play a mystery round"</a>
                <a href=Route::GuideIndex.href()>"Read the guide"</a>
            </nav>
        </section>
        <ExerciseStrip controller />
        <main class="layout" class:has-symptoms=has_symptoms>
            <section id="run-settings" class="panel side" aria-label="Run">
                <RunSettings form errors />
                <RunControls controller form />
                <CopyLink form />
                <PingButton />
                <MemoryPanel controller config />
                <FaultPanel form errors faults=Stage::Pretraining.faults().collect() />
            </section>
            <section class="panel stats-panel" aria-label="Run status">
                <RunStats view />
            </section>
            <SymptomPanel controller form />
            <section class="panel charts-panel" aria-label="Training">
                <LossChart view comparison=controller.runs.comparison />
                <ExportBar view />
                <RunsPanel runs=controller.runs view />
                <CheckpointBar controller />
                <LrFinder controller form />
                <SamplePanel view />
                <GeneratePanel controller />
                <TelemetryCharts view comparison=controller.runs.comparison />
                <PerformancePanel view compute=controller.compute worker_threads=controller.worker_threads one_thread=controller.one_thread />
            </section>
        </main>
    }
}
