//! The guide's content as markup, shared by the guide pages and the symptom panel.

use crate::markup::{spans, Span};
use faultline_engine::guide::Snippet;
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
                            {s.code.map(|code| view! { <pre class="code"><code>{code}</code></pre> })}
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
}

/// The causes, most common first; the one the evidence points to, if any, comes first and is marked.
pub fn causes(items: &'static [&'static str], pointed: Option<usize>) -> impl IntoView {
    let mut order: Vec<usize> = (0..items.len()).collect();
    if let Some(p) = pointed.filter(|&p| p < items.len()) {
        order.retain(|&i| i != p);
        order.insert(0, p);
    }
    view! {
        <ul class="guide-list causes">
            {order
                .into_iter()
                .map(|i| {
                    let marked = pointed == Some(i);
                    view! {
                        <li class:pointed=marked data-cause=i>
                            {marked.then(|| view! { <span class="badge">"the evidence points here"</span> " " })}
                            {rich(items[i])}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}
