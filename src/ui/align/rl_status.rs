//! A policy-gradient run's headline numbers: its step, the proxy reward and the true quality before
//! and now, the KL to the reference and the settings it ran with.

use super::status::{pretraining, NONE};
use crate::align_view::{percent, AlignView, RlEvaluation};
use crate::protocol::MethodInfo;
use crate::ui::stats::stat;
use leptos::prelude::*;

/// `show` of the step-0 evaluation and of the latest one, as "before → now".
fn before_now(v: &AlignView, show: fn(&RlEvaluation) -> String) -> String {
    let Some(rl) = &v.rl else { return NONE.to_string() };
    match (rl.before(), rl.after()) {
        (Some(b), Some(a)) => format!("{} → {}", show(b), show(a)),
        (Some(b), None) => show(b),
        _ => NONE.to_string(),
    }
}

/// The settings the run used, after its faults.
pub(super) fn as_run(v: &AlignView) -> String {
    match v.info.as_ref().map(|i| (i, &i.method)) {
        Some((i, MethodInfo::Rl(rl))) => format!(
            "KL coefficient {}, entropy bonus {}, {} reward model(s) × {} pairs, lr {:.0e}, LoRA rank {}",
            rl.kl_coef, rl.entropy_bonus, rl.reward_models, rl.reward_pairs, i.lr, i.lora_rank
        ),
        _ => NONE.to_string(),
    }
}

#[component]
pub fn RlFacts(view: RwSignal<AlignView>, mystery: bool) -> impl IntoView {
    let step = move || {
        view.with(|v| if v.info.is_some() { format!("{} / {}", v.steps_done(), v.planned) } else { NONE.to_string() })
    };
    let reward = move || view.with(|v| before_now(v, |e| format!("{:+.3}", e.record.reward)));
    let quality = move || view.with(|v| before_now(v, |e| percent(e.record.quality)));
    let kl = move || {
        view.with(|v| {
            v.rl.as_ref()
                .and_then(|rl| rl.steps.last())
                .map_or_else(|| NONE.to_string(), |s| format!("{:.3} nats", s.kl))
        })
    };
    view! {
        <dl class="stats align-stats">
            {stat("Pretraining", "align-pretraining", move || view.with(pretraining))}
            {stat("Policy-gradient step", "align-step", step)}
            {stat("Proxy reward", "rl-reward", reward)}
            {stat("True quality", "align-quality", quality)}
            {stat("KL to the reference", "rl-kl", kl)}
            {(!mystery)
                .then(|| {
                    view! {
                        {stat("As run", "align-settings-used", move || view.with(as_run))}
                    }
                })}
        </dl>
    }
}
