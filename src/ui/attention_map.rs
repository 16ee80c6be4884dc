//! The attention heatmap of one layer and head at the latest evaluation: rows are query positions,
//! columns the positions they look at, and the diagonal marks where "later" begins.

use super::canvas::{fit, font, pixel_ratio, px, resize_signal, stroke, DANGER, INK};
use super::chart_access::{ChartReadout, DataTables};
use crate::chart::access::{grid_step, DataTable};
use crate::chart::attention::{cell_color, HeatMap};
use crate::chart::format_value;
use crate::chart::PlotFrame;
use crate::run_view::RunView;
use leptos::ev::KeyboardEvent;
use leptos::html::Canvas;
use leptos::prelude::*;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use web_sys::{HtmlCanvasElement, PointerEvent};

#[component]
pub fn AttentionMap(view: RwSignal<RunView>) -> impl IntoView {
    let layer = RwSignal::new(0usize);
    let head = RwSignal::new(0usize);
    let shape = Memo::new(move |_| {
        view.with(|v| v.latest_attention().map(|e| (e.attention.layers, e.attention.heads)).unwrap_or((0, 0)))
    });
    let heat = Memo::new(move |_| {
        let (l, h) = (layer.get(), head.get());
        view.with(|v| v.latest_attention().and_then(|e| HeatMap::of(&e.attention, e.step, l, h)))
    });
    let canvas = NodeRef::<Canvas>::new();
    let frame = StoredValue::new(None::<PlotFrame>);
    let hover = RwSignal::new(None::<(usize, usize)>);
    let resized = resize_signal();

    Effect::new(move |_| {
        resized.track();
        let Some(canvas) = canvas.get() else { return };
        let cell = hover.get();
        frame.set_value(heat.with(|h| draw(&canvas, h.as_ref(), cell)));
    });
    let on_move = move |ev: PointerEvent| {
        let ratio = pixel_ratio();
        let (x, y) = (ev.offset_x() as f64 * ratio, ev.offset_y() as f64 * ratio);
        let cell = frame.get_value().and_then(|f| {
            let (col, up) = (f.step_at(x)?, f.y_at(y)?);
            heat.with(|h| h.as_ref().and_then(|h| h.cell_at(col, -up)))
        });
        hover.set(cell);
    };
    let focused = RwSignal::new(false);
    let on_key = move |ev: KeyboardEvent| {
        let n = heat.with(|h| h.as_ref().map_or(0, |h| h.time));
        if let Some(cell) = grid_step(&ev.key(), hover.get_untracked(), n) {
            ev.prevent_default();
            hover.set(Some(cell));
        }
    };
    let readout = Signal::derive(move || {
        let cell = hover.get();
        heat.with(|h| match (h, cell) {
            (Some(h), Some((row, col))) if row < h.time && col < h.time => h.describe(row, col),
            (Some(h), _) => h.summary(),
            (None, _) => "The attention maps appear at the first evaluation.".to_string(),
        })
    });
    let tables = move || heat.with(|h| h.as_ref().map(table).into_iter().collect());
    let options = move |count: usize, label: &'static str| {
        (0..count).map(|i| view! { <option value=i.to_string()>{format!("{label} {i}")}</option> }).collect_view()
    };

    view! {
        <figure class="chart small-chart attention">
            <div class="chart-head">
                <h3 class="chart-title">"Attention"</h3>
                <label class="inline-select">
                    <span class="visually-hidden">"Layer"</span>
                    <select
                        id="attention-layer"
                        prop:value=move || layer.get().to_string()
                        on:change:target=move |ev| layer.set(ev.target().value().parse().unwrap_or(0))
                    >
                        {move || options(shape.get().0.max(1), "layer")}
                    </select>
                </label>
                <label class="inline-select">
                    <span class="visually-hidden">"Head"</span>
                    <select
                        id="attention-head"
                        prop:value=move || head.get().to_string()
                        on:change:target=move |ev| head.set(ev.target().value().parse().unwrap_or(0))
                    >
                        {move || options(shape.get().1.max(1), "head")}
                    </select>
                </label>
            </div>
            <canvas
                id="attention-map"
                node_ref=canvas
                role="img"
                tabindex="0"
                aria-label="Attention map: rows are query positions, columns the positions they attend to; the red diagonal marks where later positions begin. The arrow keys move over its cells, Home and End to a row's ends."
                aria-describedby="attention-hover"
                on:pointermove=on_move
                on:pointerleave=move |_| hover.set(None)
                on:keydown=on_key
                on:focus=move |_| focused.set(true)
                on:blur=move |_| {
                    focused.set(false);
                    hover.set(None);
                }
            ></canvas>
            <ChartReadout id="attention-hover" focused text=readout />
            <figcaption class="chart-caption">
                "Each row is one position of a fixed stretch of validation text; dark cells are where it looks. "
                "Everything right of the red diagonal is the future, which a causal model must never see."
            </figcaption>
            <DataTables tables />
        </figure>
    }
}

/// The map as a table, a row per query position: its token, the position it attends to most and with
/// what weight, and its weight on later positions.
fn table(h: &HeatMap) -> DataTable {
    let token = |i: usize| h.tokens.get(i).map_or("?".to_string(), |t| format!("'{t}'"));
    let columns = ["query position", "token", "attends most to", "with weight", "weight on later positions"];
    let rows = (0..h.time)
        .map(|row| {
            let top = (0..h.time).max_by(|&a, &b| h.at(row, a).total_cmp(&h.at(row, b))).unwrap_or(0);
            let later: f32 = (row + 1..h.time).map(|col| h.at(row, col)).sum();
            let cells = vec![
                token(row),
                format!("{top} {}", token(top)),
                format_value(h.at(row, top) as f64),
                format_value(later as f64),
            ];
            (row.to_string(), cells)
        })
        .collect();
    let title = format!("Attention of layer {}, head {} at step {}", h.layer, h.head, h.step);
    DataTable::new(&title, columns.map(String::from).to_vec(), rows)
}

fn draw(canvas: &HtmlCanvasElement, heat: Option<&HeatMap>, cell: Option<(usize, usize)>) -> Option<PlotFrame> {
    fit(canvas, 200, 200);
    let root = CanvasBackend::with_canvas_object(canvas.clone())?.into_drawing_area();
    root.fill(&WHITE).ok()?;
    // Rows run downwards: query position i covers y from -(i + 1) to -i.
    let t = heat.map_or(64, |h| h.time) as f64;
    let mut chart = ChartBuilder::on(&root)
        .margin(px(8.0))
        .x_label_area_size(px(40.0))
        .y_label_area_size(px(44.0))
        .build_cartesian_2d(0f64..t, -t..0f64)
        .ok()?;
    chart
        .configure_mesh()
        .disable_mesh()
        .axis_style(INK.mix(0.6))
        .x_labels(5)
        .y_labels(5)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{:.0}", 0.0 - y))
        .label_style(font(11.0).color(&INK))
        .x_desc("key position (looked at)")
        .y_desc("query position")
        .axis_desc_style(font(11.0).color(&INK))
        .draw()
        .ok()?;
    if let Some(h) = heat {
        let n = h.time;
        chart
            .draw_series((0..n * n).map(|k| {
                let (row, col) = (k / n, k % n);
                let (r, g, b) = cell_color(h.at(row, col));
                let top = -(row as f64);
                Rectangle::new([(col as f64, top - 1.0), (col as f64 + 1.0, top)], RGBColor(r, g, b).filled())
            }))
            .ok()?;
    }
    chart.draw_series(LineSeries::new([(0.0, 0.0), (t, -t)], stroke(DANGER.mix(0.85), 1.5))).ok()?;
    if let Some((row, col)) = cell {
        let (x, top) = (col as f64, -(row as f64));
        let outline = Rectangle::new([(x, top - 1.0), (x + 1.0, top)], stroke(INK.to_rgba(), 2.0));
        chart.draw_series(std::iter::once(outline)).ok()?;
    }
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    root.present().ok()?;
    Some(PlotFrame { left: xs.start, right: xs.end, top: ys.start, bottom: ys.end, x_max: t, y_min: -t, y_max: 0.0 })
}
