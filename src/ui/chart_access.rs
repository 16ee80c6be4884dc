//! What every chart gives a reader who does not use a pointer or cannot see the canvas: the readout the
//! pointer fills, spoken while the chart has the keyboard's focus, and the chart's data as tables
//! behind a "Data table" toggle.

use crate::chart::access::{cursor_step, DataTable};
use leptos::ev::KeyboardEvent;
use leptos::prelude::*;

/// How to read a chart from the keyboard, added to its name.
pub const KEYS_HINT: &str = "Left and Right arrow keys, Home and End move along its points";

/// Where a key pressed on a chart moves its cursor over `len` points from `at`; keeps the key from
/// scrolling the page when it moves the cursor.
pub fn cursor_key(ev: &KeyboardEvent, at: Option<usize>, len: usize) -> Option<usize> {
    let next = cursor_step(&ev.key(), at, len)?;
    ev.prevent_default();
    Some(next)
}

/// Which of `xs` (in order) lies nearest `x`.
pub fn nearest_index(xs: &[f64], x: f64) -> Option<usize> {
    (0..xs.len()).min_by(|&a, &b| (xs[a] - x).abs().total_cmp(&(xs[b] - x).abs()))
}

/// A chart's readout under `id`: silent while the pointer moves over the chart, polite while the chart
/// has the focus, so that the keys' moves are spoken.
#[component]
pub fn ChartReadout(
    #[prop(into)] id: String,
    focused: RwSignal<bool>,
    #[prop(into)] text: Signal<String>,
) -> impl IntoView {
    view! {
        <p id=id class="chart-hover" aria-live=move || if focused.get() { "polite" } else { "off" }>
            {move || text.get()}
        </p>
    }
}

/// A "Data table" toggle holding `tables`, built only while it is open; each scrolls in a region the
/// keyboard can reach.
#[component]
pub fn DataTables<F>(tables: F) -> impl IntoView
where
    F: Fn() -> Vec<DataTable> + Send + Sync + 'static,
{
    let open = RwSignal::new(false);
    let shown = move || {
        open.get().then(|| {
            tables()
                .into_iter()
                .map(|t| {
                    let head = t.columns.into_iter().map(|c| view! { <th scope="col">{c}</th> }).collect_view();
                    let rows = t
                        .rows
                        .into_iter()
                        .map(|(header, cells)| {
                            let cells = cells.into_iter().map(|c| view! { <td>{c}</td> }).collect_view();
                            view! {
                                <tr>
                                    <th scope="row">{header}</th>
                                    {cells}
                                </tr>
                            }
                        })
                        .collect_view();
                    let label = t.caption.clone();
                    view! {
                        <div class="data-table" role="region" tabindex="0" aria-label=label>
                            <table>
                                <caption>{t.caption}</caption>
                                <thead>
                                    <tr>{head}</tr>
                                </thead>
                                <tbody>{rows}</tbody>
                            </table>
                        </div>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <details class="chart-data" on:toggle:target=move |ev| open.set(ev.target().open())>
            <summary>"Data table"</summary>
            {shown}
        </details>
    }
}
