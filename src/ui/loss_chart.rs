//! The live loss chart: per-step training loss (faint), evaluated train and validation loss, the
//! corpus's entropy rate as a dashed floor and the compared kept runs dashed over it all (by default
//! the last healthy run), on a linear or a log axis. The pointer shows the step and the values under it.

use super::canvas::{
    compared_color, compared_line, draw_marks, fit, font, key_color, palette, px, resize_signal, stroke, GRID, INK,
    KEY, MARKS, MUTED,
};
use super::chart_access::{cursor_key, ChartReadout, DataTables, KEYS_HINT};
use crate::chart::access::DataTable;
use crate::chart::format_value;
use crate::chart::palette::{BLUE, VERMILLION};
use crate::chart::{HoverPoint, LossSeries, PlotFrame, Scale};
use crate::kept_runs::{Comparison, RunRecord};
use crate::run_view::RunView;
use faultline_engine::EvalRecord;
use leptos::ev::KeyboardEvent;
use leptos::html::Canvas;
use leptos::prelude::*;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_canvas::CanvasBackend;
use web_sys::{HtmlCanvasElement, PointerEvent};

const TRAIN: RGBColor = palette(BLUE);
const VAL: RGBColor = palette(VERMILLION);
const FLOOR: RGBColor = MUTED;

#[component]
pub fn LossChart(view: RwSignal<RunView>, comparison: Memo<Comparison>) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    let frame = StoredValue::new(None::<PlotFrame>);
    let hover_step = RwSignal::new(None::<f64>);
    let log = RwSignal::new(false);
    let resized = resize_signal();

    Effect::new(move |_| {
        resized.track();
        let hover = hover_step.get();
        let scale = if log.get() { Scale::Log } else { Scale::Linear };
        let Some(canvas) = canvas.get() else { return };
        let drawn = comparison.with(|c| {
            let empty = RunView::default();
            view.with(|v| {
                let v = if c.live { v } else { &empty };
                draw(&canvas, v, &c.runs, scale, hover.and_then(|s| HoverPoint::nearest(v, s)))
            })
        });
        frame.set_value(drawn);
    });

    let on_move = move |ev: PointerEvent| {
        let x = ev.offset_x() as f64 * super::canvas::pixel_ratio();
        hover_step.set(frame.get_value().and_then(|f| f.step_at(x)));
    };
    let focused = RwSignal::new(false);
    let on_key = move |ev: KeyboardEvent| {
        let steps = view.with(|v| v.steps.iter().map(|r| r.step as f64).collect::<Vec<_>>());
        let at = hover_step.get_untracked().and_then(|s| steps.iter().position(|&x| x == s));
        if let Some(i) = cursor_key(&ev, at, steps.len()) {
            hover_step.set(Some(steps[i]));
        }
    };
    let live = move || comparison.with(|c| c.live);
    let tooltip = move || {
        let step = hover_step.get().filter(|_| live())?;
        view.with(|v| HoverPoint::nearest(v, step)).map(|h| h.describe())
    };
    let readout = Signal::derive(move || {
        tooltip().unwrap_or_else(|| {
            "Point at the chart, or focus it and press the arrow keys, to read a step's loss.".to_string()
        })
    });
    let tables = move || comparison.with(|c| view.with(|v| loss_tables(v, &c.runs, c.live)));
    let compared = move || {
        comparison.with(|c| {
            c.runs
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let class = format!("key compared-{i}");
                    view! {
                        <span class=class style=(KEY, key_color(compared_color(i))) data-run-id=r.id>
                            {format!("{}: {}", r.name(), r.label)}
                        </span>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <figure class="chart">
            <div class="chart-head">
                <h2 class="chart-title">"Loss"</h2>
                <label class="toggle">
                    <input id="loss-log" type="checkbox" prop:checked=log on:change:target=move |ev| log.set(ev.target().checked()) />
                    " log scale"
                </label>
            </div>
            <canvas
                id="loss-chart"
                node_ref=canvas
                role="img"
                tabindex="0"
                aria-label=format!(
                    "Loss chart: training loss per step, evaluated train and validation loss, the corpus entropy rate and the compared runs. {KEYS_HINT}."
                )
                aria-describedby="chart-hover"
                on:pointermove=on_move
                on:pointerleave=move |_| hover_step.set(None)
                on:keydown=on_key
                on:focus=move |_| focused.set(true)
                on:blur=move |_| {
                    focused.set(false);
                    hover_step.set(None);
                }
            ></canvas>
            <ChartReadout id="chart-hover" focused text=readout />
            <figcaption id="loss-legend" class="legend">
                <Show when=live>
                    <span class="key swatch train-step" style=(KEY, key_color(TRAIN))>"train loss, each step"</span>
                    <span class="key swatch" data-mark=MARKS[0] style=(KEY, key_color(TRAIN))>"train loss, evaluated"</span>
                    <span class="key swatch" data-mark=MARKS[1] style=(KEY, key_color(VAL))>"validation loss"</span>
                    <span class="key floor" style=(KEY, key_color(FLOOR))>"entropy rate (the floor)"</span>
                </Show>
                {compared}
            </figcaption>
            <DataTables tables />
        </figure>
    }
}

/// The loss chart's data: the run's loss at each step, its evaluations (each with the corpus's entropy
/// rate, where known) and each compared run's training and validation loss.
fn loss_tables(view: &RunView, compared: &[RunRecord], live: bool) -> Vec<DataTable> {
    let mut tables = Vec::new();
    if live {
        let train: Vec<(f64, f64)> = view.steps.iter().map(|r| (r.step as f64, r.loss as f64)).collect();
        tables.push(DataTable::of_series("Training loss at each step", "step", &[("train loss", &train)]));
        let evals = |value: fn(&EvalRecord) -> Option<f32>| -> Vec<(f64, f64)> {
            view.evals.iter().filter_map(|e| Some((e.step as f64, value(e)? as f64))).collect()
        };
        let (eval_train, eval_val) = (evals(|e| Some(e.train_loss)), evals(|e| e.val_loss));
        let floor = view.entropy_rate().map(|f| format!(" (the entropy rate, the floor, is {})", format_value(f)));
        let title = format!("Evaluated loss{}", floor.unwrap_or_default());
        let series = [("train loss", eval_train.as_slice()), ("validation loss", eval_val.as_slice())];
        tables.push(DataTable::of_series(&title, "step", &series));
    }
    for run in compared {
        let train: Vec<(f64, f64)> = run.curves.train.iter().map(|&(s, l)| (s as f64, l as f64)).collect();
        let val: Vec<(f64, f64)> = run.curves.val.iter().map(|&(s, l)| (s as f64, l as f64)).collect();
        let name = format!("{}: {}", run.name(), run.label);
        tables.push(DataTable::of_series(&format!("{name}, training loss"), "step", &[("train loss", &train)]));
        tables.push(DataTable::of_series(&format!("{name}, validation loss"), "step", &[("validation loss", &val)]));
    }
    tables
}

/// Draws the chart and returns where the plotting area landed; `None` when the canvas cannot be drawn on.
fn draw(
    canvas: &HtmlCanvasElement,
    view: &RunView,
    compared: &[RunRecord],
    scale: Scale,
    hover: Option<HoverPoint>,
) -> Option<PlotFrame> {
    let (width, _) = fit(canvas, 240, 160);
    let root = CanvasBackend::with_canvas_object(canvas.clone())?.into_drawing_area();
    root.fill(&WHITE).ok()?;

    let series = LossSeries::from_view(view, compared, width as usize, scale);
    let (y_min, y_max) = (series.y_min, series.y_max);
    let mut chart = ChartBuilder::on(&root)
        .margin(px(12.0))
        .x_label_area_size(px(38.0))
        .y_label_area_size(px(56.0))
        .build_cartesian_2d(0f64..series.x_max, y_min..y_max)
        .ok()?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .axis_style(INK.mix(0.6))
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| scale.tick(*y))
        .label_style(font(12.0).color(&INK))
        .x_desc("step")
        .y_desc(if scale == Scale::Log { "loss (nats per token, log)" } else { "loss (nats per token)" })
        .axis_desc_style(font(12.0).color(&INK))
        .draw()
        .ok()?;

    for (i, run) in series.compared.iter().enumerate() {
        chart.draw_series(compared_line(i, run.train.iter().copied())).ok()?;
        let color = compared_color(i);
        chart.draw_series(run.val.iter().map(|&p| TriangleMarker::new(p, px(4.0), color.filled()))).ok()?;
    }
    chart.draw_series(LineSeries::new(series.train.iter().copied(), stroke(TRAIN.mix(0.45), 1.0))).ok()?;
    if let Some(floor) = series.floor {
        let points = [(0.0, floor), (series.x_max, floor)];
        chart
            .draw_series(DashedLineSeries::new(points, px(6.0) as u32, px(4.0) as u32, stroke(FLOOR.to_rgba(), 1.5)))
            .ok()?;
        let label = font(11.0).color(&FLOOR).pos(Pos::new(HPos::Right, VPos::Bottom));
        chart.draw_series(std::iter::once(Text::new("entropy rate", (series.x_max, floor), label))).ok()?;
    }
    for (mark, (points, color)) in [(&series.eval_train, TRAIN), (&series.eval_val, VAL)].into_iter().enumerate() {
        chart.draw_series(LineSeries::new(points.iter().copied(), stroke(color.to_rgba(), 2.0))).ok()?;
        draw_marks(&mut chart, mark, points, color)?;
    }
    if let Some(h) = hover {
        let x = h.step as f64;
        let guide = [(x, y_min), (x, y_max)];
        chart.draw_series(LineSeries::new(guide, stroke(INK.mix(0.35), 1.0))).ok()?;
        if let Some(y) = scale.to_axis(h.train_loss as f64) {
            chart.draw_series(std::iter::once(Circle::new((x, y), px(4.0), TRAIN.filled()))).ok()?;
        }
    }

    let (xs, ys) = chart.plotting_area().get_pixel_range();
    root.present().ok()?;
    Some(PlotFrame { left: xs.start, right: xs.end, top: ys.start, bottom: ys.end, x_max: series.x_max, y_min, y_max })
}
