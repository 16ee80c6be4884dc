//! The charts' series colours, defined once: the Okabe–Ito palette, which stays apart for readers with
//! any of the three kinds of dichromacy, less the three of its colours too light for a white chart
//! (orange, sky blue and yellow have under 3:1 contrast against it). The canvas code and the legends'
//! keys both take their colours from here.

/// An sRGB colour, 8 bits a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

pub const BLUE: Rgb = Rgb(0x00, 0x72, 0xB2);
pub const VERMILLION: Rgb = Rgb(0xD5, 0x5E, 0x00);
pub const GREEN: Rgb = Rgb(0x00, 0x9E, 0x73);
pub const PURPLE: Rgb = Rgb(0xCC, 0x79, 0xA7);
pub const BLACK: Rgb = Rgb(0x00, 0x00, 0x00);

/// The charts' background.
pub const BACKGROUND: Rgb = Rgb(0xFF, 0xFF, 0xFF);

/// The series colours in the order charts hand them out: one per block, phase or curve.
pub const SERIES: [Rgb; 5] = [BLUE, VERMILLION, GREEN, PURPLE, BLACK];

/// The kept runs being compared, in the order picked; their lines are also dashed and dotted.
pub const COMPARED: [Rgb; 2] = [PURPLE, BLACK];

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    /// Machado, Oliveira & Fernandes (2009), "A Physiologically-based Model for Simulation of Color
    /// Vision Deficiency", the matrices at severity 1.0 (protanopia, deuteranopia, tritanopia), applied
    /// to linear RGB.
    const PROTANOPIA: [[f64; 3]; 3] =
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]];
    const DEUTERANOPIA: [[f64; 3]; 3] =
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]];
    const TRITANOPIA: [[f64; 3]; 3] =
        [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]];
    const NORMAL: [[f64; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

    const VISIONS: [(&str, [[f64; 3]; 3]); 4] =
        [("normal", NORMAL), ("protanopia", PROTANOPIA), ("deuteranopia", DEUTERANOPIA), ("tritanopia", TRITANOPIA)];

    /// The least CIE76 colour difference two series drawn together must keep under every vision.
    /// One just-noticeable difference is about 2.3 (Sharma, "Digital Color Imaging Handbook", 2003),
    /// measured on large patches side by side; a chart's lines are 2 px wide and a reader matches them
    /// to a legend key elsewhere, and differences between small marks look several times smaller
    /// (Stone, Szafir & Setlur, "An Engineering Model for Color Difference as a Function of Size",
    /// 2014). So a pair must stay at least about four JNDs apart: 10.
    const MIN_DELTA_E: f64 = 10.0;

    /// WCAG 2's least contrast for graphical objects (success criterion 1.4.11).
    const MIN_CONTRAST: f64 = 3.0;

    fn linear(c: u8) -> f64 {
        let c = c as f64 / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    }

    fn linear_rgb(c: Rgb) -> [f64; 3] {
        [linear(c.0), linear(c.1), linear(c.2)]
    }

    /// How a dichromat (or, with the identity, anyone) sees `c`, in linear RGB.
    fn simulate(m: &[[f64; 3]; 3], c: Rgb) -> [f64; 3] {
        let l = linear_rgb(c);
        m.map(|row| (row[0] * l[0] + row[1] * l[1] + row[2] * l[2]).clamp(0.0, 1.0))
    }

    /// CIE L*a*b* (D65 white) of a linear RGB colour.
    fn lab(rgb: [f64; 3]) -> [f64; 3] {
        let [r, g, b] = rgb;
        let x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047;
        let y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b;
        let z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883;
        let f = |t: f64| if t > 216.0 / 24389.0 { t.cbrt() } else { (24389.0 / 27.0 * t + 16.0) / 116.0 };
        let (fx, fy, fz) = (f(x), f(y), f(z));
        [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
    }

    fn delta_e(a: [f64; 3], b: [f64; 3]) -> f64 {
        let (la, lb) = (lab(a), lab(b));
        ((la[0] - lb[0]).powi(2) + (la[1] - lb[1]).powi(2) + (la[2] - lb[2]).powi(2)).sqrt()
    }

    fn contrast(a: Rgb, b: Rgb) -> f64 {
        let luminance = |c: Rgb| {
            let [r, g, b] = linear_rgb(c);
            0.2126 * r + 0.7152 * g + 0.0722 * b
        };
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    }

    /// Every pair of `colors` whose difference falls under [`MIN_DELTA_E`] for some vision, named.
    fn confusable(colors: &[Rgb]) -> Vec<String> {
        let mut found = Vec::new();
        for (name, m) in &VISIONS {
            for (i, &a) in colors.iter().enumerate() {
                for &b in &colors[i + 1..] {
                    let d = delta_e(simulate(m, a), simulate(m, b));
                    if d < MIN_DELTA_E {
                        found.push(format!("{a:?} and {b:?} under {name}: ΔE {d:.1}"));
                    }
                }
            }
        }
        found
    }

    #[test]
    fn the_series_colours_stay_apart_for_every_kind_of_dichromacy() {
        assert_eq!(confusable(&SERIES), Vec::<String>::new());
        assert!(COMPARED.iter().all(|c| SERIES.contains(c)), "the compared runs' colours are series colours");
    }

    #[test]
    fn the_check_catches_a_red_and_a_green() {
        let red_green = [Rgb(0xD6, 0x27, 0x28), Rgb(0x2C, 0xA0, 0x2C)];
        let found = confusable(&red_green);
        assert!(found.iter().any(|f| f.contains("deuteranopia")), "{found:?}");
        assert!(delta_e(simulate(&NORMAL, red_green[0]), simulate(&NORMAL, red_green[1])) > 50.0);
    }

    #[test]
    fn every_series_colour_stands_out_from_the_background() {
        for c in SERIES {
            assert!(contrast(c, BACKGROUND) >= MIN_CONTRAST, "{c:?}: {:.2}:1", contrast(c, BACKGROUND));
        }
        assert!(contrast(Rgb(0xE6, 0x9F, 0x00), BACKGROUND) < MIN_CONTRAST, "Okabe–Ito's orange is too light");
    }
}
