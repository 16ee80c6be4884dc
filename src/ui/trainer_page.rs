//! The main screen: settings and controls on one side, the run's numbers, loss chart and sample on the
//! other.

use super::controller::Controller;
use super::controls::{PingButton, RunControls};
use super::loss_chart::LossChart;
use super::sample::SamplePanel;
use super::settings::RunSettings;
use super::stats::RunStats;
use crate::form::RunForm;
use leptos::prelude::*;

#[component]
pub fn TrainerPage() -> impl IntoView {
    let controller = Controller::new();
    let form = RwSignal::new(RunForm::default());
    let errors = Memo::new(move |_| form.with(|f| f.to_config().err().unwrap_or_default()));
    view! {
        <header class="masthead">
            <h1>"Faultline"</h1>
            <p class="lede">
                "A tiny GPT trains live in your browser. Watch its loss fall, read what it writes, and "
                "soon break it on purpose to see each symptom from the troubleshooting guide for real."
            </p>
        </header>
        <main class="layout">
            <section class="panel side" aria-label="Run">
                <RunSettings form errors />
                <RunControls controller form />
                <PingButton />
            </section>
            <section class="panel main" aria-label="Training">
                <RunStats view=controller.view />
                <LossChart view=controller.view />
                <SamplePanel view=controller.view />
            </section>
        </main>
    }
}
