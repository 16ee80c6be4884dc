//! What the next run will need in memory, by purpose, against its budget: known before anything is
//! allocated, so a run that cannot fit says so before Start.

use super::controller::Controller;
use crate::protocol::EstimateResult;
use faultline_engine::memory::MemoryEstimate;
use faultline_engine::RunConfig;
use leptos::prelude::*;

fn mib(bytes: u64) -> String {
    let m = bytes as f64 / 1_048_576.0;
    if m >= 100.0 {
        format!("{m:.0} MiB")
    } else if m >= 0.1 {
        format!("{m:.1} MiB")
    } else {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    }
}

/// The parts of an estimate, with their share of the budget (in percent, for the bar).
fn parts(m: &MemoryEstimate) -> [(&'static str, u64, f64); 4] {
    let scale = m.budget.max(m.total).max(1) as f64;
    let share = |b: u64| b as f64 / scale * 100.0;
    [
        ("parameters", m.parameters, share(m.parameters)),
        ("gradients", m.gradients, share(m.gradients)),
        ("optimizer", m.optimizer, share(m.optimizer)),
        ("activations", m.activations, share(m.activations)),
    ]
}

#[component]
pub fn MemoryPanel(controller: Controller, config: Memo<Option<RunConfig>>) -> impl IntoView {
    Effect::new(move |_| {
        if let Some(config) = config.get() {
            controller.request_estimate(config);
        }
    });
    let body = move || {
        let current = config.get();
        controller.estimate.with(|e| {
            let Some(current) = current else {
                return view! { <p class="hint">"Fix the settings above to see what the run needs."</p> }.into_any();
            };
            match e {
                Some(e) if e.config == current => match &e.result {
                    EstimateResult::Known { vocab_size, memory } => estimate_view(memory, *vocab_size).into_any(),
                    EstimateResult::Unavailable { message } => {
                        view! { <p class="hint">{format!("No estimate: {message}")}</p> }.into_any()
                    }
                },
                _ => view! { <p class="hint">"Estimating…"</p> }.into_any(),
            }
        })
    };
    let fits = move || {
        controller.estimate.with(|e| match e.as_ref().map(|e| &e.result) {
            Some(EstimateResult::Known { memory, .. }) => {
                if memory.fits() {
                    "true"
                } else {
                    "false"
                }
            }
            _ => "unknown",
        })
    };
    view! {
        <section id="memory-estimate" class="memory" data-fits=fits aria-labelledby="memory-title">
            <h2 id="memory-title" class="side-title">"Memory the run needs"</h2>
            {body}
        </section>
    }
}

fn estimate_view(m: &MemoryEstimate, vocab_size: usize) -> impl IntoView {
    let percent = m.total as f64 / m.budget.max(1) as f64 * 100.0;
    let segments = parts(m)
        .into_iter()
        .map(|(name, _, share)| {
            view! { <span class=format!("segment {name}") style:width=format!("{share:.2}%")></span> }
        })
        .collect_view();
    let rows = parts(m)
        .into_iter()
        .map(
            |(name, bytes, _)| view! { <li><span class=format!("dot {name}")></span>{name}" "<b>{mib(bytes)}</b></li> },
        )
        .collect_view();
    let verdict = if m.fits() {
        format!("{} of the {} budget ({percent:.1}%)", mib(m.total), mib(m.budget))
    } else {
        format!("{} needed but the budget is {}: this run will fail with out of memory", mib(m.total), mib(m.budget))
    };
    // The bar spans the budget, or everything needed when that is more; then a mark shows the budget.
    let budget_mark = (!m.fits()).then(|| {
        let at = m.budget as f64 / m.total.max(1) as f64 * 100.0;
        view! { <span class="budget-mark" style:left=format!("{at:.2}%") title="the budget"></span> }
    });
    view! {
        <div class="memory-bar" role="img" aria-label=verdict.clone()>{segments}{budget_mark}</div>
        <ul class="memory-parts">{rows}</ul>
        <p class="memory-total" class:over=!m.fits()>{verdict}</p>
        <p class="hint">{format!("Vocabulary {vocab_size}; activations are those of one micro-batch.")}</p>
    }
}
