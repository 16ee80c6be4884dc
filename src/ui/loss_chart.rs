//! The live loss chart: per-step training loss (faint), evaluated train and validation loss, and the
//! corpus's entropy rate as a dashed floor, drawn with plotters on a canvas. The pointer shows the
//! step and the values under it.

use crate::chart::{HoverPoint, LossSeries, PlotFrame};
use crate::run_view::RunView;
use leptos::ev;
use leptos::html::Canvas;
use leptos::prelude::*;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_canvas::CanvasBackend;
use web_sys::{HtmlCanvasElement, PointerEvent};

const INK: RGBColor = RGBColor(31, 41, 51);
const GRID: RGBColor = RGBColor(226, 232, 240);
const TRAIN: RGBColor = RGBColor(37, 99, 235);
const VAL: RGBColor = RGBColor(217, 72, 15);
const FLOOR: RGBColor = RGBColor(100, 116, 139);

#[component]
pub fn LossChart(view: RwSignal<RunView>) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    let frame = StoredValue::new(None::<PlotFrame>);
    let hover_step = RwSignal::new(None::<f64>);
    let resized = RwSignal::new(0u32);
    let listener = window_event_listener(ev::resize, move |_| resized.update(|n| *n += 1));
    on_cleanup(move || listener.remove());

    Effect::new(move |_| {
        resized.track();
        let hover = hover_step.get();
        let Some(canvas) = canvas.get() else { return };
        let drawn = view.with(|v| draw(&canvas, v, hover.and_then(|s| HoverPoint::nearest(v, s))));
        frame.set_value(drawn);
    });

    let on_move = move |ev: PointerEvent| {
        let px = ev.offset_x() as f64 * pixel_ratio();
        hover_step.set(frame.get_value().and_then(|f| f.step_at(px)));
    };
    let tooltip = move || hover_step.get().and_then(|s| view.with(|v| HoverPoint::nearest(v, s))).map(|h| h.describe());

    view! {
        <figure class="chart">
            <canvas
                id="loss-chart"
                node_ref=canvas
                role="img"
                aria-label="Training loss per step, evaluated train and validation loss, and the corpus entropy rate"
                on:pointermove=on_move
                on:pointerleave=move |_| hover_step.set(None)
            ></canvas>
            <p id="chart-hover" class="chart-hover" aria-live="off">
                {move || tooltip().unwrap_or_else(|| "Point at the chart to read a step's loss.".to_string())}
            </p>
            <figcaption class="legend">
                <span class="key train-step">"train loss, each step"</span>
                <span class="key train-eval">"train loss, evaluated"</span>
                <span class="key val-eval">"validation loss"</span>
                <span class="key floor">"entropy rate (the floor)"</span>
            </figcaption>
        </figure>
    }
}

fn pixel_ratio() -> f64 {
    web_sys::window().map_or(1.0, |w| w.device_pixel_ratio()).max(1.0)
}

/// Draws the chart at the canvas's on-screen size times the pixel ratio and returns where the plotting
/// area landed; `None` when the canvas cannot be drawn on.
fn draw(canvas: &HtmlCanvasElement, view: &RunView, hover: Option<HoverPoint>) -> Option<PlotFrame> {
    let ratio = pixel_ratio();
    let px = |css: f64| (css * ratio).round() as i32;
    let width = (canvas.client_width().max(240) as f64 * ratio).round() as u32;
    let height = (canvas.client_height().max(160) as f64 * ratio).round() as u32;
    if canvas.width() != width {
        canvas.set_width(width);
    }
    if canvas.height() != height {
        canvas.set_height(height);
    }
    let root = CanvasBackend::with_canvas_object(canvas.clone())?.into_drawing_area();
    root.fill(&WHITE).ok()?;

    let series = LossSeries::from_view(view, width as usize);
    let font = |size: f64| ("sans-serif", size * ratio).into_font().color(&INK);
    let mut chart = ChartBuilder::on(&root)
        .margin(px(12.0))
        .x_label_area_size(px(38.0))
        .y_label_area_size(px(52.0))
        .build_cartesian_2d(0f64..series.x_max, 0f64..series.y_max)
        .ok()?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .axis_style(INK.mix(0.6))
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .label_style(font(12.0))
        .x_desc("step")
        .y_desc("loss (nats per token)")
        .axis_desc_style(font(12.0))
        .draw()
        .ok()?;

    let line = |color: RGBAColor, width: f64| color.stroke_width(px(width).max(1) as u32);
    chart.draw_series(LineSeries::new(series.train.iter().copied(), line(TRAIN.mix(0.45), 1.0))).ok()?;
    if let Some(floor) = series.floor {
        let points = [(0.0, floor), (series.x_max, floor)];
        chart
            .draw_series(DashedLineSeries::new(points, px(6.0) as u32, px(4.0) as u32, line(FLOOR.to_rgba(), 1.5)))
            .ok()?;
        let label = font(11.0).color(&FLOOR).pos(Pos::new(HPos::Right, VPos::Bottom));
        chart.draw_series(std::iter::once(Text::new("entropy rate", (series.x_max, floor), label))).ok()?;
    }
    for (points, color) in [(&series.eval_train, TRAIN), (&series.eval_val, VAL)] {
        chart.draw_series(LineSeries::new(points.iter().copied(), line(color.to_rgba(), 2.0))).ok()?;
        chart.draw_series(points.iter().map(|&p| Circle::new(p, px(3.0), color.filled()))).ok()?;
    }
    if let Some(h) = hover.filter(|h| h.train_loss.is_finite()) {
        let x = h.step as f64;
        let guide = [(x, 0.0), (x, series.y_max)];
        chart.draw_series(LineSeries::new(guide, line(INK.mix(0.35), 1.0))).ok()?;
        let point = (x, h.train_loss as f64);
        chart.draw_series(std::iter::once(Circle::new(point, px(4.0), TRAIN.filled()))).ok()?;
    }

    let (xs, ys) = chart.plotting_area().get_pixel_range();
    root.present().ok()?;
    Some(PlotFrame {
        left: xs.start,
        right: xs.end,
        top: ys.start,
        bottom: ys.end,
        x_max: series.x_max,
        y_max: series.y_max,
    })
}
