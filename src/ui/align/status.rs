//! Where the fine-tuning run is: one sentence, the progress of pretraining and then of DPO, and the
//! run's headline numbers.

use crate::align_view::{percent, AlignState, AlignView};
use leptos::prelude::*;

const NONE: &str = "—";

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
            <AlignFacts view mystery />
            <p class="note" id="align-run-facts">
                {move || {
                    view.with(|v| {
                        v.info.as_ref().map(|i| {
                            format!(
                                "On {}: {} preference pairs a step; held-out pairs and the policy's own samples \
                                 evaluated every {} steps and at the end.",
                                i.backend, i.pairs_per_step, i.eval_every
                            )
                        })
                    })
                }}
            </p>
        </section>
    }
}

#[component]
fn AlignFacts(view: RwSignal<AlignView>, mystery: bool) -> impl IntoView {
    let pretraining = move || {
        view.with(|v| match (v.pretrain_total, v.pretrain_loss) {
            (0, _) => NONE.to_string(),
            (total, Some(loss)) => format!("{} / {total}, loss {loss:.3}", v.pretrained),
            (total, None) => format!("{} / {total}", v.pretrained),
        })
    };
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
                |i| format!("β {}, lr {:.0e}, LoRA rank {}", i.beta, i.lr, i.lora_rank),
            )
        })
    };
    view! {
        <dl class="stats align-stats">
            <div class="stat">
                <dt>"Pretraining"</dt>
                <dd id="align-pretraining">{pretraining}</dd>
            </div>
            <div class="stat">
                <dt>"DPO step"</dt>
                <dd id="align-step">{dpo_step}</dd>
            </div>
            <div class="stat">
                <dt>"DPO loss"</dt>
                <dd id="align-loss">{dpo_loss}</dd>
            </div>
            <div class="stat">
                <dt>"Held-out accuracy"</dt>
                <dd id="align-accuracy">{accuracy}</dd>
            </div>
            <div class="stat">
                <dt>"True quality"</dt>
                <dd id="align-quality">{quality}</dd>
            </div>
            {(!mystery)
                .then(|| {
                    view! {
                        <div class="stat">
                            <dt>"As run"</dt>
                            <dd id="align-settings-used">{settings}</dd>
                        </div>
                    }
                })}
        </dl>
    }
}
