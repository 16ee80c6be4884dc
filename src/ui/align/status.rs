//! Where the fine-tuning run is: one sentence, the progress of pretraining and then of fine-tuning,
//! and the run's headline numbers (the policy gradient's in `rl_status.rs`).

use super::rl_status::RlFacts;
use crate::align_view::{percent, AlignState, AlignView};
use crate::protocol::{AlignInfo, MethodInfo};
use crate::ui::stats::stat;
use faultline_engine::align::Method;
use leptos::prelude::*;

pub(super) const NONE: &str = "—";

/// The run's status; `mystery` leaves out the settings it ran with, which would name a hidden fault.
#[component]
pub fn AlignStatus(view: RwSignal<AlignView>, #[prop(optional)] mystery: bool) -> impl IntoView {
    let failed = move || view.with(|v| matches!(v.state, AlignState::Failed));
    view! {
        <section class="panel align-status" aria-label="Fine-tuning status">
            <p id="align-status" class:failed=failed aria-live="polite">{move || view.with(AlignView::status)}</p>
            {move || {
                view.with(AlignView::progress).map(|(done, of)| {
                    view! { <progress id="align-progress" max=of.max(1) value=done></progress> }
                })
            }}
            {move || match view.with(AlignView::method) {
                Method::Dpo => view! { <AlignFacts view mystery /> }.into_any(),
                Method::Rl => view! { <RlFacts view mystery /> }.into_any(),
            }}
            <p class="note" id="align-run-facts">{move || view.with(|v| v.info.as_ref().map(run_facts))}</p>
        </section>
    }
}

/// Where the run computes, and what each step and evaluation takes.
fn run_facts(i: &AlignInfo) -> String {
    match &i.method {
        MethodInfo::Dpo { pairs_per_step, .. } => format!(
            "On {}: {pairs_per_step} preference pairs a step; held-out pairs and the policy's own samples evaluated \
             every {} steps and at the end.",
            i.backend, i.eval_every
        ),
        MethodInfo::Rl(rl) => format!(
            "On {}: {} sampled responses a step, each scored by the reward models; {} fixed prompts' completions \
             evaluated every {} steps and at the end.",
            i.backend, rl.prompts_per_step, rl.quality_prompts, i.eval_every
        ),
    }
}

/// The base model's pretraining: steps done, of how many, and the last loss.
pub(super) fn pretraining(v: &AlignView) -> String {
    match (v.pretrain_total, v.pretrain_loss) {
        (0, _) => NONE.to_string(),
        (total, Some(loss)) => format!("{} / {total}, loss {loss:.3}", v.pretrained),
        (total, None) => format!("{} / {total}", v.pretrained),
    }
}

#[component]
fn AlignFacts(view: RwSignal<AlignView>, mystery: bool) -> impl IntoView {
    let pretraining = move || view.with(pretraining);
    let dpo_step = move || {
        view.with(|v| if v.info.is_some() { format!("{} / {}", v.steps_done(), v.planned) } else { NONE.to_string() })
    };
    let dpo_loss = move || view.with(|v| v.steps.last().map_or_else(|| NONE.to_string(), |s| format!("{:.4}", s.loss)));
    let accuracy = move || view.with(|v| v.after().map_or_else(|| NONE.to_string(), |e| percent(e.record.accuracy)));
    let quality = move || {
        view.with(|v| match (v.before(), v.after()) {
            (Some(b), Some(a)) => format!("{} → {}", percent(b.record.quality), percent(a.record.quality)),
            (Some(b), None) => percent(b.record.quality),
            _ => NONE.to_string(),
        })
    };
    let settings = move || {
        view.with(|v| {
            v.info.as_ref().map_or_else(
                || NONE.to_string(),
                |i| match i.method {
                    MethodInfo::Dpo { beta, .. } => format!("β {beta}, lr {:.0e}, LoRA rank {}", i.lr, i.lora_rank),
                    MethodInfo::Rl(_) => NONE.to_string(),
                },
            )
        })
    };
    view! {
        <dl class="stats align-stats">
            {stat("Pretraining", "align-pretraining", pretraining)}
            {stat("DPO step", "align-step", dpo_step)}
            {stat("DPO loss", "align-loss", dpo_loss)}
            {stat("Held-out accuracy", "align-accuracy", accuracy)}
            {stat("True quality", "align-quality", quality)}
            {(!mystery)
                .then(|| {
                    view! {
                        {stat("As run", "align-settings-used", settings)}
                    }
                })}
        </dl>
    }
}
