//! The guide's content as markup, shared by the guide pages and the symptom panel.

use crate::markup::{spans, Span};
use faultline_engine::guide::{Cause, CauseId, Snippet};
use leptos::prelude::*;

/// A sentence with its `code` spans.
pub fn rich(text: &'static str) -> impl IntoView {
    spans(text)
        .into_iter()
        .map(|s| match s {
            Span::Text(t) => t.into_any(),
            Span::Code(c) => view! { <code>{c}</code> }.into_any(),
        })
        .collect_view()
}

/// A bulleted list of sentences.
pub fn bullets(items: &'static [&'static str]) -> impl IntoView {
    view! { <ul class="guide-list">{items.iter().map(|&t| view! { <li>{rich(t)}</li> }).collect_view()}</ul> }
}

/// Numbered steps, each with its code.
pub fn snippets(items: &'static [Snippet]) -> impl IntoView {
    view! {
        <ol class="guide-steps">
            {items
                .iter()
                .map(|s| {
                    view! {
                        <li>
                            <p>{rich(s.text)}</p>
                            {s.code.map(|code| view! { <pre class="code" tabindex="0"><code>{code}</code></pre> })}
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
}

/// The causes, most common first; the one the evidence points to, if any, comes first and is marked.
pub fn causes(items: &'static [Cause], pointed: Option<CauseId>) -> impl IntoView {
    let mut order: Vec<&'static Cause> = items.iter().collect();
    if let Some(p) = order.iter().position(|c| Some(c.id) == pointed) {
        let first = order.remove(p);
        order.insert(0, first);
    }
    view! {
        <ul class="guide-list causes">
            {order
                .into_iter()
                .map(|cause| {
                    let marked = pointed == Some(cause.id);
                    view! {
                        <li class:pointed=marked data-cause=cause.id.as_str()>
                            {marked.then(|| view! { <span class="badge">"the evidence points here"</span> " " })}
                            {rich(cause.text)}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}
