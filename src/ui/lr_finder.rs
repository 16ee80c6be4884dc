//! The learning-rate range test: run the guide's sweep on a fresh copy of the model, watch the loss
//! against the rate on a log axis, and put the suggested rate into the form with one click.

use super::canvas::{fit, font, key_color, palette, px, resize_signal, stroke, DANGER, GRID, INK, KEY, MUTED};
use super::controller::Controller;
use crate::chart::lr_range::RangeChart;
use crate::chart::palette::{BLUE, GREEN};
use crate::chart::Scale;
use crate::form::RunForm;
use crate::range_view::{lr_text, RangeState, RangeView};
use crate::route::entry_href;
use faultline_engine::lr_range::GUIDE_ENTRY;
use faultline_engine::settings::SettingKey;
use leptos::html::Canvas;
use leptos::prelude::*;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_canvas::CanvasBackend;
use web_sys::HtmlCanvasElement;

const CURVE: RGBColor = palette(BLUE);
const PICK: RGBColor = palette(GREEN);

#[component]
pub fn LrFinder(controller: Controller, form: RwSignal<RunForm>) -> impl IntoView {
    let range = controller.lr_range;
    let note = RwSignal::new(None::<String>);
    let running = move || range.with(|r| r.state == RangeState::Running);
    let find = move |_| match form.with_untracked(RunForm::to_config) {
        Ok(config) => {
            note.set(None);
            controller.find_lr(config);
        }
        Err(errors) => {
            let fields: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
            note.set(Some(format!("Fix the settings marked in red first ({}).", fields.join(", "))));
        }
    };
    view! {
        <section id="lr-finder" class="lr-finder" data-state=move || range.with(|r| r.state.as_str()) aria-labelledby="lr-finder-title">
            <div class="chart-head">
                <h2 id="lr-finder-title" class="chart-title">"Learning-rate range test"</h2>
                <a class="guide-link" href=entry_href(GUIDE_ENTRY)>"the guide's recipe"</a>
                <button id="lr-find" disabled=running on:click=find>
                    {move || if running() { "Running…" } else { "Run the range test" }}
                </button>
            </div>
            <RangeChartView range />
            <p class="legend">
                <span class="key swatch" style=(KEY, key_color(CURVE))>"loss after one step at that rate"</span>
                <span class="key lowest">"lowest loss"</span>
                <span class="key pick" style=(KEY, key_color(PICK))>"suggested rate: a tenth of the lowest loss's"</span>
            </p>
            <p id="lr-status" class="lr-status" aria-live="polite">
                {move || note.get().unwrap_or_else(|| range.with(RangeView::status))}
            </p>
            <UseSuggestion range form />
        </section>
    }
}

/// The suggested rate and the button that puts it into the learning-rate field.
#[component]
fn UseSuggestion(range: RwSignal<RangeView>, form: RwSignal<RunForm>) -> impl IntoView {
    let suggested = move || range.with(RangeView::suggested_text);
    let exact = move || range.with(|r| r.suggestion().map(|s| s.lr.to_string()));
    let applied = move || {
        suggested().filter(|text| form.with(|f| f.get(SettingKey::Lr) == text.as_str())).map(|text| {
            view! { <p id="lr-used" class="lr-used" role="status">{format!("The learning rate is now {text}; the next run uses it.")}</p> }
        })
    };
    let use_it = move |_| {
        if let Some(text) = suggested() {
            form.update(|f| f.set(SettingKey::Lr, text));
        }
    };
    move || {
        suggested().map(|text| {
            view! {
                <div class="lr-pick">
                    <span>"Suggested learning rate "</span>
                    <strong id="lr-suggestion" data-lr=exact>{text.clone()}</strong>
                    <button id="lr-use" class="primary" on:click=use_it>{format!("Use {text}")}</button>
                </div>
                {applied}
            }
        })
    }
}

#[component]
fn RangeChartView(range: RwSignal<RangeView>) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    let resized = resize_signal();
    Effect::new(move |_| {
        resized.track();
        let Some(canvas) = canvas.get() else { return };
        let data = range.with(RangeChart::from_view);
        draw(&canvas, &data);
    });
    view! {
        <canvas
            id="lr-chart"
            node_ref=canvas
            role="img"
            aria-label="Training loss after one step at each learning rate, on a logarithmic rate axis, with the lowest loss and the suggested rate marked"
        ></canvas>
    }
}

/// Draws the sweep; does nothing when the canvas cannot be drawn on.
fn draw(canvas: &HtmlCanvasElement, data: &RangeChart) -> Option<()> {
    fit(canvas, 240, 160);
    let root = CanvasBackend::with_canvas_object(canvas.clone())?.into_drawing_area();
    root.fill(&WHITE).ok()?;
    let (y_min, y_max) = (data.y_min, data.y_max);
    let mut chart = ChartBuilder::on(&root)
        .margin(px(12.0))
        .x_label_area_size(px(38.0))
        .y_label_area_size(px(50.0))
        .build_cartesian_2d(data.x_min..data.x_max, y_min..y_max)
        .ok()?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .axis_style(INK.mix(0.6))
        .x_labels(8)
        .y_labels(5)
        .x_label_formatter(&|x| Scale::Log.tick(*x))
        .y_label_formatter(&|y| Scale::Linear.tick(*y))
        .label_style(font(11.0).color(&INK))
        .x_desc("learning rate (log scale)")
        .y_desc("loss after the step")
        .axis_desc_style(font(11.0).color(&INK))
        .draw()
        .ok()?;
    chart.draw_series(LineSeries::new(data.points.iter().copied(), stroke(CURVE.to_rgba(), 2.0))).ok()?;
    chart.draw_series(data.points.iter().map(|&p| Circle::new(p, px(2.0), CURVE.filled()))).ok()?;
    if let Some(lowest) = data.lowest {
        chart.draw_series(std::iter::once(Circle::new(lowest, px(5.0), DANGER.stroke_width(px(2.0) as u32)))).ok()?;
    }
    if let Some(x) = data.suggestion {
        let line = [(x, y_min), (x, y_max)];
        chart
            .draw_series(DashedLineSeries::new(line, px(6.0) as u32, px(4.0) as u32, stroke(PICK.to_rgba(), 2.0)))
            .ok()?;
        let label = format!("suggested {}", lr_text(10f64.powf(x) as f32));
        let style = font(11.0).color(&PICK).pos(Pos::new(HPos::Right, VPos::Top));
        let text = EmptyElement::at((x, y_max)) + Text::new(label, (-px(5.0), px(2.0)), style);
        chart.draw_series(std::iter::once(text)).ok()?;
    }
    if data.points.is_empty() {
        let style = font(12.0).color(&MUTED).pos(Pos::new(HPos::Center, VPos::Center));
        let middle = ((data.x_min + data.x_max) / 2.0, (y_min + y_max) / 2.0);
        chart.draw_series(std::iter::once(Text::new("Run the test to see the curve", middle, style))).ok()?;
    }
    root.present().ok()
}
