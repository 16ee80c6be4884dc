//! The policy's own completions of held-out prompts before fine-tuning (the step-0 evaluation) and at
//! the latest evaluation, side by side, each judged by the corpus's grammar, with the true quality
//! of all the completions scored.

use crate::align_view::{percent, AlignView, SampleSet};
use crate::protocol::MethodInfo;
use faultline_engine::align::QUALITY_PROMPTS;
use leptos::prelude::*;

#[component]
pub fn BeforeAfter(view: RwSignal<AlignView>) -> impl IntoView {
    let before = Memo::new(move |_| view.with(AlignView::samples_before));
    let after = Memo::new(move |_| view.with(AlignView::samples_after));
    let every = move || view.with(|v| v.info.as_ref().map_or(0, |i| i.eval_every));
    let method = move || view.with(AlignView::method);
    let scored = move || {
        view.with(|v| match v.info.as_ref().map(|i| &i.method) {
            Some(MethodInfo::Rl(rl)) => rl.quality_prompts,
            _ => QUALITY_PROMPTS,
        })
    };
    view! {
        <section id="dpo-samples" class="panel" aria-labelledby="dpo-samples-title">
            <h2 id="dpo-samples-title" class="section-title">"Samples, before and after"</h2>
            <p class="note">
                {move || {
                    format!(
                        "Completions of held-out prompts, sampled at temperature 1. The true quality is the share of \
                         all {} completions the corpus's grammar accepts; a few are shown, each marked valid or not.",
                        scored()
                    )
                }}
            </p>
            <div class="sample-columns">
                {move || match before.get() {
                    Some(set) => view! { <SampleColumn id="samples-before" title="Before fine-tuning".to_string() set /> }.into_any(),
                    None => view! { <p class="hint">"The base model's samples appear once fine-tuning begins."</p> }.into_any(),
                }}
                {move || match after.get() {
                    Some(set) => {
                        let title = format!("After {} {} steps", set.step, method().name());
                        view! { <SampleColumn id="samples-after" title set /> }.into_any()
                    }
                    None => {
                        let when = format!("The fine-tuned model's samples appear at the next evaluation (every {} steps, and at the end).", every());
                        view! { <p class="hint">{when}</p> }.into_any()
                    }
                }}
            </div>
        </section>
    }
}

#[component]
fn SampleColumn(id: &'static str, title: String, set: SampleSet) -> impl IntoView {
    let quality = format!("true quality {}", percent(set.quality));
    let samples = set
        .samples
        .into_iter()
        .zip(set.valid.into_iter().map(Some).chain(std::iter::repeat(None)))
        .map(|((prompt, completion), valid)| {
            let (class, mark) = match valid {
                Some(true) => ("valid", "✓ valid"),
                Some(false) => ("invalid", "✗ invalid"),
                None => ("", ""),
            };
            let shown = completion.trim_end_matches('\n').to_string();
            view! {
                <li class=class>
                    <code class="sample-prompt">{prompt}</code>
                    <code class="sample-completion">{shown}</code>
                    <span class="sample-mark">{mark}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="sample-column" id=id>
            <h3>{title}" "<span class="sample-quality">{quality}</span></h3>
            <ul class="plain sample-list">{samples}</ul>
        </div>
    }
}
