//! Where each step's time goes, as stacked bars of consecutive steps.

use super::canvas::{fit, font, key_color, pixel_ratio, px, resize_signal, GRID, INK, KEY, PALETTE};
use super::chart_access::{cursor_key, ChartReadout, DataTables, KEYS_HINT};
use crate::chart::access::DataTable;
use crate::chart::phases::{phase_bars, PhaseBar, PHASES};
use crate::chart::PlotFrame;
use crate::run_view::RunView;
use leptos::ev::KeyboardEvent;
use leptos::html::Canvas;
use leptos::prelude::*;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use web_sys::{HtmlCanvasElement, PointerEvent};

/// At most this many bars, however long the run.
const MAX_BARS: usize = 40;

#[component]
pub fn PhaseChart(view: RwSignal<RunView>) -> impl IntoView {
    let bars = Memo::new(move |_| view.with(|v| phase_bars(&v.steps, MAX_BARS)));
    let canvas = NodeRef::<Canvas>::new();
    let frame = StoredValue::new(None::<PlotFrame>);
    let hover = RwSignal::new(None::<usize>);
    let resized = resize_signal();

    Effect::new(move |_| {
        resized.track();
        let Some(canvas) = canvas.get() else { return };
        frame.set_value(bars.with(|b| draw(&canvas, b)));
    });
    let on_move = move |ev: PointerEvent| {
        let x = ev.offset_x() as f64 * pixel_ratio();
        let bar = frame.get_value().and_then(|f| f.step_at(x)).map(|x| x as usize);
        hover.set(bar.filter(|&i| bars.with(|b| i < b.len())));
    };
    let focused = RwSignal::new(false);
    let on_key = move |ev: KeyboardEvent| {
        if let Some(i) = cursor_key(&ev, hover.get_untracked(), bars.with(Vec::len)) {
            hover.set(Some(i));
        }
    };
    let readout = Signal::derive(move || {
        bars.with(|b| match hover.get().and_then(|i| b.get(i)) {
            Some(bar) => bar.describe(),
            None if b.is_empty() => "Appears with the first steps.".to_string(),
            None => {
                "Point at a bar, or focus the chart and press the arrow keys, to read its milliseconds.".to_string()
            }
        })
    });
    let tables = move || bars.with(|b| vec![table(b)]);
    let legend = PHASES
        .iter()
        .zip(PALETTE)
        .map(|(name, c)| view! { <span class="key block" style=(KEY, key_color(c))>{*name}</span> })
        .collect_view();
    view! {
        <figure class="chart small-chart">
            <h3 class="chart-title">"Time per step"</h3>
            <canvas
                id="phase-chart"
                node_ref=canvas
                role="img"
                tabindex="0"
                aria-label=format!(
                    "Time per step chart: milliseconds per step spent on data, forward, backward, optimizer and telemetry, over the run. {KEYS_HINT}."
                )
                aria-describedby="phase-chart-readout"
                on:pointermove=on_move
                on:pointerleave=move |_| hover.set(None)
                on:keydown=on_key
                on:focus=move |_| focused.set(true)
                on:blur=move |_| {
                    focused.set(false);
                    hover.set(None);
                }
            ></canvas>
            <ChartReadout id="phase-chart-readout" focused text=readout />
            <figcaption>
                <span class="legend">{legend}</span>
                <span class="chart-caption">
                    "The forward and backward passes should dominate; a thick data or telemetry band means the model waits."
                </span>
            </figcaption>
            <DataTables tables />
        </figure>
    }
}

/// The bars as a table: each bar's steps, then its milliseconds per phase and in all.
fn table(bars: &[PhaseBar]) -> DataTable {
    let phases = PHASES.iter().chain(&["total"]).map(|c| format!("{c} (ms)"));
    let columns = std::iter::once("steps".to_string()).chain(phases);
    let rows = bars
        .iter()
        .map(|b| {
            let steps = if b.first == b.last { b.first.to_string() } else { format!("{}–{}", b.first, b.last) };
            (steps, b.ms.iter().chain([&b.total()]).map(|ms| format!("{ms:.1}")).collect())
        })
        .collect();
    DataTable::new("Milliseconds per step, by phase", columns.collect(), rows)
}

fn draw(canvas: &HtmlCanvasElement, bars: &[PhaseBar]) -> Option<PlotFrame> {
    fit(canvas, 240, 140);
    let root = CanvasBackend::with_canvas_object(canvas.clone())?.into_drawing_area();
    root.fill(&WHITE).ok()?;
    let n = bars.len().max(1) as f64;
    let y_max = bars.iter().map(PhaseBar::total).fold(0.0, f64::max).max(1e-3) * 1.1;
    let label_of = |x: f64| bars.get(x as usize).map_or(String::new(), |b| b.first.to_string());
    let mut chart = ChartBuilder::on(&root)
        .margin(px(10.0))
        .x_label_area_size(px(30.0))
        .y_label_area_size(px(56.0))
        .build_cartesian_2d(0f64..n, 0f64..y_max)
        .ok()?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .axis_style(INK.mix(0.6))
        .x_labels(5)
        .y_labels(5)
        .x_label_formatter(&|x| label_of(*x))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(font(11.0).color(&INK))
        .x_desc("step")
        .y_desc("ms per step")
        .axis_desc_style(font(11.0).color(&INK))
        .draw()
        .ok()?;
    for (phase, color) in PALETTE.iter().enumerate().take(PHASES.len()) {
        chart
            .draw_series(bars.iter().enumerate().map(|(i, bar)| {
                let below: f64 = bar.ms[..phase].iter().sum();
                let x = i as f64;
                Rectangle::new([(x + 0.1, below), (x + 0.9, below + bar.ms[phase])], color.filled())
            }))
            .ok()?;
    }
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    root.present().ok()?;
    Some(PlotFrame { left: xs.start, right: xs.end, top: ys.start, bottom: ys.end, x_max: n, y_min: 0.0, y_max })
}
