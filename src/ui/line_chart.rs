//! A small chart of per-block lines over the run (gradient norms, dead units, update sizes) and the
//! compared runs' lines dashed over them, with a readout of the values under the pointer. NaN and
//! infinities are marked × along the top edge at their steps.

use super::canvas::{
    compared_color, compared_line, fit, font, key_color, pixel_ratio, px, resize_signal, stroke, DANGER, GRID, INK,
    KEY, MUTED, PALETTE,
};
use crate::chart::lines::LineChart;
use crate::chart::PlotFrame;
use leptos::html::Canvas;
use leptos::prelude::*;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_canvas::CanvasBackend;
use web_sys::{HtmlCanvasElement, PointerEvent};

#[component]
pub fn LineChartView(
    /// The canvas's id.
    id: &'static str,
    title: &'static str,
    /// What the chart shows and what to look for, one sentence.
    caption: &'static str,
    y_label: &'static str,
    data: Memo<LineChart>,
) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    let frame = StoredValue::new(None::<PlotFrame>);
    let hover = RwSignal::new(None::<f64>);
    let resized = resize_signal();

    Effect::new(move |_| {
        resized.track();
        let at = hover.get();
        let Some(canvas) = canvas.get() else { return };
        frame.set_value(data.with(|d| draw(&canvas, d, y_label, at)));
    });
    let on_move = move |ev: PointerEvent| {
        let x = ev.offset_x() as f64 * pixel_ratio();
        hover.set(frame.get_value().and_then(|f| f.step_at(x)));
    };
    let readout = move || {
        let text = hover.get().and_then(|x| data.with(|d| d.readout(x)));
        text.unwrap_or_else(|| {
            if data.with(LineChart::is_empty) {
                "Appears at the first evaluation.".to_string()
            } else {
                "Point at the chart to read the values.".to_string()
            }
        })
    };
    let legend = move || {
        data.with(|d| {
            let lines = d
                .lines
                .iter()
                .enumerate()
                .filter(|(_, l)| !l.points.is_empty())
                .map(|(i, l)| view! { <span class="key swatch" style=(KEY, key_color(line_color(d, i)))>{l.name.clone()}</span> })
                .collect_view();
            let compared = d.compared.iter().enumerate().map(|(i, l)| {
                let class = format!("key compared-{i}");
                view! { <span class=class style=(KEY, key_color(compared_color(i)))>{l.name.clone()}</span> }
            });
            let non_finite = (!d.non_finite().is_empty())
                .then(|| view! { <span class="key non-finite">"NaN or Inf, at its step"</span> });
            (lines, compared.collect_view(), non_finite)
        })
    };
    view! {
        <figure class="chart small-chart">
            <h3 class="chart-title">{title}</h3>
            <canvas
                id=id
                node_ref=canvas
                role="img"
                aria-label=caption
                on:pointermove=on_move
                on:pointerleave=move |_| hover.set(None)
            ></canvas>
            <p class="chart-hover" aria-live="off">{readout}</p>
            <figcaption>
                <span class="legend">{legend}</span>
                <span class="chart-caption">{caption}</span>
            </figcaption>
        </figure>
    }
}

/// A line of more points than this is drawn without a dot at each: they would merge into a band.
const DOTTED_POINTS: usize = 100;

/// The colour of line `i`: grey for a faint line, the palette in order for the others.
fn line_color(data: &LineChart, i: usize) -> RGBColor {
    if data.lines[i].faint {
        return MUTED;
    }
    let faint_before = data.lines[..i].iter().filter(|l| l.faint).count();
    PALETTE[(i - faint_before) % PALETTE.len()]
}

fn draw(canvas: &HtmlCanvasElement, data: &LineChart, y_label: &str, hover: Option<f64>) -> Option<PlotFrame> {
    fit(canvas, 240, 140);
    let root = CanvasBackend::with_canvas_object(canvas.clone())?.into_drawing_area();
    root.fill(&WHITE).ok()?;
    let (y_min, y_max) = (data.y_min, data.y_max);
    let scale = data.scale;
    let mut chart = ChartBuilder::on(&root)
        .margin(px(10.0))
        .x_label_area_size(px(30.0))
        .y_label_area_size(px(56.0))
        .build_cartesian_2d(0f64..data.x_max, y_min..y_max)
        .ok()?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .axis_style(INK.mix(0.6))
        .x_labels(5)
        .y_labels(5)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| scale.tick(*y))
        .label_style(font(11.0).color(&INK))
        .y_desc(y_label)
        .axis_desc_style(font(11.0).color(&INK))
        .draw()
        .ok()?;
    if let Some(reference) = &data.reference {
        if let Some(y) = scale.to_axis(reference.value).filter(|y| (y_min..=y_max).contains(y)) {
            let points = [(0.0, y), (data.x_max, y)];
            chart
                .draw_series(DashedLineSeries::new(
                    points,
                    px(5.0) as u32,
                    px(4.0) as u32,
                    stroke(MUTED.to_rgba(), 1.0),
                ))
                .ok()?;
            let label = font(10.0).color(&MUTED).pos(Pos::new(HPos::Right, VPos::Bottom));
            chart.draw_series(std::iter::once(Text::new(reference.label, (data.x_max, y), label))).ok()?;
        }
    }
    for (i, line) in data.lines.iter().enumerate() {
        let points = data.plotted(line);
        if line.faint {
            chart.draw_series(LineSeries::new(points, stroke(MUTED.mix(0.45), 1.0))).ok()?;
            continue;
        }
        let color = line_color(data, i);
        chart.draw_series(LineSeries::new(points.iter().copied(), stroke(color.to_rgba(), 2.0))).ok()?;
        if points.len() <= DOTTED_POINTS {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, px(3.0), color.filled()))).ok()?;
        }
    }
    for (i, line) in data.compared.iter().enumerate() {
        chart.draw_series(compared_line(i, data.plotted(line))).ok()?;
    }
    let top = y_max - (y_max - y_min) * 0.04;
    let marks = data.non_finite().into_iter().map(|x| Cross::new((x, top), px(4.0), stroke(DANGER.to_rgba(), 1.5)));
    chart.draw_series(marks).ok()?;
    if let Some(x) = hover {
        chart.draw_series(LineSeries::new([(x, y_min), (x, y_max)], stroke(INK.mix(0.3), 1.0))).ok()?;
    }
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    root.present().ok()?;
    Some(PlotFrame { left: xs.start, right: xs.end, top: ys.start, bottom: ys.end, x_max: data.x_max, y_min, y_max })
}
