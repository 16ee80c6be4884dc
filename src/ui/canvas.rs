//! What every chart's canvas shares: sizing to the screen's pixel ratio, redrawing on resize, colours
//! and the style of axes and labels.

use crate::chart::palette::{Rgb, COMPARED as COMPARED_RUNS, SERIES};
use leptos::ev;
use leptos::prelude::*;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::FontDesc;
use plotters_canvas::CanvasBackend;
use web_sys::HtmlCanvasElement;

pub const INK: RGBColor = RGBColor(31, 41, 51);
pub const GRID: RGBColor = RGBColor(226, 232, 240);
pub const MUTED: RGBColor = RGBColor(100, 116, 139);
pub const DANGER: RGBColor = RGBColor(180, 35, 24);

/// A palette colour as plotters draws it.
pub const fn palette(c: Rgb) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

/// Line colours, one per block (and more), from the colour-blind-safe palette; a legend names them in
/// the same order.
pub const PALETTE: [RGBColor; 5] =
    [palette(SERIES[0]), palette(SERIES[1]), palette(SERIES[2]), palette(SERIES[3]), palette(SERIES[4])];

/// The colours of the kept runs being compared, in the order picked.
pub const COMPARED: [RGBColor; 2] = [palette(COMPARED_RUNS[0]), palette(COMPARED_RUNS[1])];

/// The dash and gap (CSS pixels) of compared run `i`'s lines: long dashes, then dots, so the two are
/// told apart without colour; the legend's keys (`key compared-i`) draw the same.
const COMPARED_DASH: [(f64, f64); 2] = [(8.0, 4.0), (2.0, 3.0)];

/// Compared run `i`'s colour.
pub fn compared_color(i: usize) -> RGBColor {
    COMPARED[i % COMPARED.len()]
}

/// Compared run `i`'s line through `points`, dashed in its colour.
pub fn compared_line<P>(i: usize, points: P) -> DashedLineSeries<P::IntoIter, u32>
where
    P: IntoIterator<Item = (f64, f64)>,
    P::IntoIter: Clone,
{
    let (dash, gap) = COMPARED_DASH[i % COMPARED_DASH.len()];
    DashedLineSeries::new(points, px(dash) as u32, px(gap) as u32, stroke(compared_color(i).to_rgba(), 2.0))
}

/// The marks that tell the series drawn together apart without colour, in the order series get them
/// (the same as [`PALETTE`]'s); each is a legend key's `data-mark`, drawn on its line.
pub const MARKS: [&str; 4] = ["●", "▲", "■", "○"];

/// A chart whose axes are both plain numbers, as every line chart here is.
pub type Chart<'a> = ChartContext<'a, CanvasBackend, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws mark `mark` (an index into [`MARKS`], wrapping) at each of `points` in `color`.
pub fn draw_marks(chart: &mut Chart, mark: usize, points: &[(f64, f64)], color: RGBColor) -> Option<()> {
    let size = px(3.0);
    let fill = color.filled();
    let points = points.iter().copied();
    match mark % MARKS.len() {
        0 => chart.draw_series(points.map(|p| Circle::new(p, size, fill))).ok()?,
        1 => chart.draw_series(points.map(|p| TriangleMarker::new(p, size + px(1.0), fill))).ok()?,
        2 => chart
            .draw_series(points.map(|p| EmptyElement::at(p) + Rectangle::new([(-size, -size), (size, size)], fill)))
            .ok()?,
        _ => chart.draw_series(points.map(|p| Circle::new(p, size, stroke(color.to_rgba(), 1.5)))).ok()?,
    };
    Some(())
}

/// The custom property that gives a legend key (`.key.swatch`, `.key.compared-i`) its colour, set
/// through the element's CSSOM style (`style=(KEY, key_color(..))`), which the page's
/// Content-Security-Policy allows where a `style` attribute would be refused.
pub const KEY: &str = "--key";

/// A legend key's colour, as the value of [`KEY`].
pub fn key_color(color: RGBColor) -> String {
    format!("rgb({}, {}, {})", color.0, color.1, color.2)
}

/// Device pixels per CSS pixel.
pub fn pixel_ratio() -> f64 {
    web_sys::window().map_or(1.0, |w| w.device_pixel_ratio()).max(1.0)
}

/// Canvas pixels for `css` CSS pixels.
pub fn px(css: f64) -> i32 {
    (css * pixel_ratio()).round() as i32
}

/// The chart font at `size` CSS pixels.
pub fn font(size: f64) -> FontDesc<'static> {
    ("sans-serif", size * pixel_ratio()).into_font()
}

/// A line style `width` CSS pixels wide.
pub fn stroke(color: RGBAColor, width: f64) -> ShapeStyle {
    color.stroke_width(px(width).max(1) as u32)
}

/// Gives the canvas a drawing buffer of its on-screen size times the pixel ratio (at least the given
/// CSS size) and returns that buffer's size.
pub fn fit(canvas: &HtmlCanvasElement, min_width: i32, min_height: i32) -> (u32, u32) {
    let ratio = pixel_ratio();
    let width = (canvas.client_width().max(min_width) as f64 * ratio).round() as u32;
    let height = (canvas.client_height().max(min_height) as f64 * ratio).round() as u32;
    if canvas.width() != width {
        canvas.set_width(width);
    }
    if canvas.height() != height {
        canvas.set_height(height);
    }
    (width, height)
}

/// A counter that changes whenever the window is resized, for effects that redraw.
pub fn resize_signal() -> RwSignal<u32> {
    let resized = RwSignal::new(0u32);
    let listener = window_event_listener(ev::resize, move |_| resized.update(|n| *n += 1));
    on_cleanup(move || listener.remove());
    resized
}
