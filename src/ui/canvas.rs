//! What every chart's canvas shares: sizing to the screen's pixel ratio, redrawing on resize, colours
//! and the style of axes and labels.

use leptos::ev;
use leptos::prelude::*;
use plotters::prelude::*;
use plotters::style::FontDesc;
use web_sys::HtmlCanvasElement;

pub const INK: RGBColor = RGBColor(31, 41, 51);
pub const GRID: RGBColor = RGBColor(226, 232, 240);
pub const MUTED: RGBColor = RGBColor(100, 116, 139);
pub const DANGER: RGBColor = RGBColor(180, 35, 24);

/// Line colours, one per block (and more), readable on white and told apart without colour vision
/// through the legend's order.
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(37, 99, 235),
    RGBColor(217, 72, 15),
    RGBColor(22, 163, 74),
    RGBColor(147, 51, 234),
    RGBColor(202, 138, 4),
    RGBColor(8, 145, 178),
];

/// The colours of the kept runs being compared, in the order picked, apart from [`PALETTE`]'s.
pub const COMPARED: [RGBColor; 2] = [RGBColor(190, 24, 93), RGBColor(68, 64, 60)];

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
