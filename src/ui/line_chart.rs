//! A small chart of per-block lines over the run (gradient norms, dead units, update sizes) and the
//! compared runs' lines dashed over them, with a readout of the values under the pointer. NaN and
//! infinities are marked × along the top edge at their steps.

use super::canvas::{
    compared_color, compared_line, draw_marks, fit, font, key_color, pixel_ratio, px, resize_signal, stroke, DANGER,
    GRID, INK, KEY, MARKS, MUTED, PALETTE,
};
use super::chart_access::{cursor_key, nearest_index, ChartReadout, DataTables, KEYS_HINT};
use crate::chart::access::DataTable;
use crate::chart::lines::{Line, LineChart};
use crate::chart::PlotFrame;
use leptos::ev::KeyboardEvent;
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
    let focused = RwSignal::new(false);
    let on_key = move |ev: KeyboardEvent| {
        let steps = data.with(LineChart::steps);
        let at = hover.get_untracked().and_then(|x| nearest_index(&steps, x));
        if let Some(i) = cursor_key(&ev, at, steps.len()) {
            hover.set(Some(steps[i]));
        }
    };
    let readout = Signal::derive(move || {
        let text = hover.get().and_then(|x| data.with(|d| d.readout(x)));
        text.unwrap_or_else(|| {
            if data.with(LineChart::is_empty) {
                "Appears at the first evaluation.".to_string()
            } else {
                "Point at the chart, or focus it and press the arrow keys, to read the values.".to_string()
            }
        })
    });
    let readout_id = format!("{id}-readout");
    let tables = move || data.with(|d| line_tables(title, d));
    let legend = move || {
        data.with(|d| {
            let lines = d
                .lines
                .iter()
                .enumerate()
                .filter(|(_, l)| !l.points.is_empty())
                .map(|(i, l)| {
                    let mark = (!l.faint).then(|| MARKS[series_index(d, i) % MARKS.len()]);
                    view! { <span class="key swatch" data-mark=mark style=(KEY, key_color(line_color(d, i)))>{l.name.clone()}</span> }
                })
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
                tabindex="0"
                aria-label=format!("{title} chart: {caption} {KEYS_HINT}.")
                aria-describedby=readout_id.clone()
                on:pointermove=on_move
                on:pointerleave=move |_| hover.set(None)
                on:keydown=on_key
                on:focus=move |_| focused.set(true)
                on:blur=move |_| {
                    focused.set(false);
                    hover.set(None);
                }
            ></canvas>
            <ChartReadout id=readout_id focused text=readout />
            <figcaption>
                <span class="legend">{legend}</span>
                <span class="chart-caption">{caption}</span>
            </figcaption>
            <DataTables tables />
        </figure>
    }
}

/// The chart's data: its lines at the steps they share (the faint line at its own), then each
/// compared run's line.
fn line_tables(title: &str, data: &LineChart) -> Vec<DataTable> {
    let table = |name: &str, lines: Vec<&Line>| {
        let series: Vec<(&str, &[(f64, f64)])> = lines.iter().map(|l| (l.name.as_str(), l.points.as_slice())).collect();
        DataTable::of_series(name, "step", &series)
    };
    let (faint, sharp): (Vec<&Line>, Vec<&Line>) = data.lines.iter().partition(|l| l.faint);
    let mut tables = vec![table(title, sharp)];
    tables.extend(faint.into_iter().chain(&data.compared).map(|l| table(&format!("{title}, {}", l.name), vec![l])));
    tables
}

/// A line of more points than this is drawn without a dot at each: they would merge into a band.
const DOTTED_POINTS: usize = 100;

/// Where line `i` stands among the lines that are not faint: the palette's colour and the mark it gets.
fn series_index(data: &LineChart, i: usize) -> usize {
    i - data.lines[..i].iter().filter(|l| l.faint).count()
}

/// The colour of line `i`: grey for a faint line, the palette in order for the others.
fn line_color(data: &LineChart, i: usize) -> RGBColor {
    if data.lines[i].faint {
        return MUTED;
    }
    PALETTE[series_index(data, i) % PALETTE.len()]
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
            draw_marks(&mut chart, series_index(data, i), &points, color)?;
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
