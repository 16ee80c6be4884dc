//! The alignment page (`#/align`): a base model pretrained here, then fine-tuned with DPO on
//! preference pairs the corpus's grammar writes, every number measured by the worker's real run.
//!
//! - `aligner.rs`: [`Aligner`], the page's form, the run's view and its messages to the worker.
//! - `settings.rs`: the base model's and the fine-tuning settings (rows of the settings table), the
//!   fine-tuning faults, Start and Stop.
//! - `status.rs`: where the run is: pretraining progress, then DPO's, and the run's headline numbers.
//! - `charts.rs`: the DPO loss against ln 2, margin and accuracy, KL, held-out accuracy and quality.
//! - `samples.rs`: the policy's samples before fine-tuning and after, judged by the grammar.
//! - `memory.rs`: where a fine-tuning run's memory goes, with and without LoRA.
//! - `findings.rs`: the detector's reading linked to the guide, and what Faultline measured there.
//! - `mystery.rs`: [`AlignMysteryPage`], a mystery round: a short run with a hidden fine-tuning fault, or none.

mod aligner;
mod charts;
mod findings;
mod memory;
mod mystery;
mod samples;
mod settings;
mod status;

pub use aligner::Aligner;
pub use mystery::AlignMysteryPage;

use super::controller::Controller;
use super::mystery::fresh_seed;
use crate::route::Route;
use charts::AlignCharts;
use findings::{AlignFindings, MeasuredNotes};
use leptos::prelude::*;
use memory::MemoryTable;
use samples::BeforeAfter;
use settings::AlignSettings;
use status::AlignStatus;

#[component]
pub fn AlignPage(controller: Controller) -> impl IntoView {
    let view = controller.align.view;
    let state = move || view.with(|v| v.state.as_str());
    let begun = move || view.with(|v| v.info.is_some());
    view! {
        <main class="align" id="align" data-state=state>
            <h1>"Align a pretrained model with DPO"</h1>
            <p class="lede">
                "A base model pretrains here first, then Direct Preference Optimization fine-tunes it on pairs "
                "of answers the corpus's grammar wrote: one valid, one a realistic mistake. The DPO loss starts "
                "at ln 2, where the policy equals its frozen reference, and falls as the policy learns the "
                "preferences. Switch on a fine-tuning fault and watch it stay there."
            </p>
            <p>
                <a id="align-mystery" class="button-link" href=Route::AlignMystery(Some(fresh_seed())).href()>
                    "Mystery round"
                </a>
                " A short run with a hidden fine-tuning fault, or none: say what it shows."
            </p>
            <div class="align-layout">
                <section id="align-settings" class="panel align-side" aria-label="Fine-tuning run">
                    <AlignSettings controller />
                </section>
                <div class="align-results">
                    <AlignStatus view />
                    <AlignFindings view />
                    <Show when=begun>
                        <AlignCharts view />
                        <BeforeAfter view />
                        <MemoryTable view />
                    </Show>
                    <MeasuredNotes />
                </div>
            </div>
        </main>
    }
}
