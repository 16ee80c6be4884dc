//! The alignment page (`#/align`, `#/align/rl`): a base model pretrained here, then fine-tuned with
//! DPO on preference pairs the corpus's grammar writes, or with a policy gradient against reward
//! models trained on such pairs; every number measured by the worker's real run.
//!
//! - `aligner.rs`: [`Aligner`], the page's form, the run's view and its messages to the worker.
//! - `method_switch.rs`: the switch between the two methods, kept in the address.
//! - `settings.rs`: the base model's and the chosen method's settings (rows of the settings table),
//!   its faults, Start and Stop.
//! - `status.rs`: where the run is: pretraining progress, then fine-tuning's, and the run's headline
//!   numbers (`rl_status.rs`: the policy gradient's).
//! - `charts.rs`: the DPO loss against ln 2, margin and accuracy, KL, held-out accuracy and quality;
//!   `rl_charts.rs`: the proxy reward beside the true quality, the KL and the response length.
//! - `reward_models.rs`: the policy gradient's reward models and their held-out accuracy.
//! - `fixes.rs`: the guide's fixes for reward hacking, one click each, and the run before.
//! - `samples.rs`: the policy's samples before fine-tuning and after, judged by the grammar.
//! - `memory.rs`: where a fine-tuning run's memory goes, with and without LoRA.
//! - `findings.rs`: the detector's reading linked to the guide, and what Faultline measured there.
//! - `mystery.rs`: [`AlignMysteryPage`], a mystery round: a short run with a hidden fine-tuning fault, or none.

mod aligner;
mod charts;
mod findings;
mod fixes;
mod memory;
mod method_switch;
mod mystery;
mod reward_models;
mod rl_charts;
mod rl_status;
mod samples;
mod settings;
mod status;

pub use aligner::Aligner;
pub use mystery::AlignMysteryPage;

use super::controller::Controller;
use super::exercises::ExerciseStrip;
use super::mystery::fresh_seed;
use crate::route::Route;
use charts::AlignCharts;
use faultline_engine::align::Method;
use findings::{AlignFindings, MeasuredNotes};
use fixes::RlFixes;
use leptos::prelude::*;
use memory::MemoryTable;
use method_switch::MethodSwitch;
use reward_models::RewardModelTable;
use rl_charts::RlCharts;
use samples::BeforeAfter;
use settings::AlignSettings;
use status::AlignStatus;

/// The page's heading and introduction for `method`.
fn intro(method: Method) -> (&'static str, &'static str) {
    match method {
        Method::Dpo => (
            "Align a pretrained model with DPO",
            "A base model pretrains here first, then Direct Preference Optimization fine-tunes it on pairs of \
             answers the corpus's grammar wrote: one valid, one a realistic mistake. The DPO loss starts at ln 2, \
             where the policy equals its frozen reference, and falls as the policy learns the preferences. Switch \
             on a fine-tuning fault and watch it stay there.",
        ),
        Method::Rl => (
            "Align a pretrained model with a reward model and a policy gradient",
            "A base model pretrains here first. Reward models then learn the corpus's preference pairs, and the \
             policy is fine-tuned by REINFORCE to raise their score of its own samples, with a KL penalty that \
             keeps it near its frozen reference. The reward models are a proxy: the true quality is the share of \
             samples the grammar accepts, which the run measures but never trains on. Switch off the KL penalty \
             and watch the proxy reward climb while the quality collapses.",
        ),
    }
}

#[component]
pub fn AlignPage(controller: Controller, method: Method) -> impl IntoView {
    let view = controller.align.view;
    let state = move || view.with(|v| v.state.as_str());
    let (title, lede) = intro(method);
    view! {
        <main class="align" id="align" data-state=state data-method=method.command()>
            <h1>{title}</h1>
            <MethodSwitch method />
            <p class="lede">{lede}</p>
            <ExerciseStrip controller />
            <p>
                <a id="align-mystery" class="button-link" href=Route::AlignMystery(Some(fresh_seed())).href()>
                    "Mystery round"
                </a>
                " A short run with a hidden fine-tuning fault, or none: say what it shows."
            </p>
            <div class="align-layout">
                <section id="align-settings" class="panel align-side" aria-label="Fine-tuning run">
                    <AlignSettings controller method />
                </section>
                <div class="align-results">
                    <AlignStatus view />
                    <AlignFindings view />
                    <AlignResults controller method />
                    <MeasuredNotes method />
                </div>
            </div>
        </main>
    }
}

/// The run's charts, samples and memory, once it reaches fine-tuning with this page's method; and,
/// on the policy-gradient page, the guide's fixes.
#[component]
fn AlignResults(controller: Controller, method: Method) -> impl IntoView {
    let view = controller.align.view;
    let begun = move || view.with(|v| v.info.is_some() && v.method() == method);
    let other = move || view.with(|v| v.info.is_some() && v.method() != method);
    let other_note =
        move || format!("The run above is {}: press Start to run this method.", view.with(|v| v.method().name()));
    let results = move || match method {
        Method::Dpo => view! { <AlignCharts view /> }.into_any(),
        Method::Rl => view! { <RlCharts view /> <RewardModelTable view /> }.into_any(),
    };
    view! {
        <Show when=other>
            <p class="note" id="align-other-method">{other_note}</p>
        </Show>
        <Show when=begun>
            {results}
            <BeforeAfter view />
            <MemoryTable view />
        </Show>
        {(method == Method::Rl).then(|| view! { <RlFixes controller /> })}
    }
}
