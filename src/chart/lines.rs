//! Per-block telemetry over the run, one line per block: gradient norms, the fraction of dead MLP
//! units, and the size of each update relative to the weights; kept runs being compared add one
//! line each.

use super::{downsample, format_value, Scale, MIN_STEPS_SHOWN};
use crate::kept_runs::{Curve, Curves, RunRecord};
use crate::run_view::RunView;
use faultline_engine::EvalRecord;

/// One named line, in raw values (step, value).
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Drawn thin and faint (a dense per-step line behind the evaluated ones).
    pub faint: bool,
}

/// A value the guide calls healthy, drawn as a dashed line with its label.
#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    pub value: f64,
    pub label: &'static str,
}

/// Everything one line chart draws.
#[derive(Clone, Debug, PartialEq)]
pub struct LineChart {
    pub lines: Vec<Line>,
    /// One line for each kept run being compared, named after it, in the order picked.
    pub compared: Vec<Line>,
    pub scale: Scale,
    pub reference: Option<Reference>,
    pub x_max: f64,
    /// The y range in axis units.
    pub y_min: f64,
    pub y_max: f64,
}

impl LineChart {
    /// The chart of `lines` and, over them, `curve` of each of the `compared` runs, named after the run
    /// and what the curve measures; the axes show them all.
    fn new(
        view: &RunView,
        lines: Vec<Line>,
        compared: (&[RunRecord], fn(&Curves) -> &Curve, &str),
        scale: Scale,
        reference: Option<Reference>,
    ) -> Self {
        let (runs, curve, measures) = compared;
        let compared: Vec<Line> = runs
            .iter()
            .map(|r| Line {
                name: format!("{}, {measures}", r.name()),
                points: curve(&r.curves).iter().map(|&(x, y)| (x as f64, y as f64)).collect(),
                faint: false,
            })
            .collect();
        let planned = view.info.as_ref().map_or(0, |i| i.steps).max(view.steps_done).max(MIN_STEPS_SHOWN);
        let last_compared = compared.iter().filter_map(|l| l.points.last()).map(|p| p.0).fold(0.0, f64::max);
        let values: Vec<f64> = lines.iter().chain(&compared).flat_map(|l| l.points.iter().map(|p| p.1)).collect();
        // The reference joins the range only beside real values; alone it would make a degenerate axis.
        let reference_value = reference.as_ref().filter(|_| !values.is_empty()).map(|r| r.value);
        let (y_min, y_max) = scale.range(values.into_iter().chain(reference_value));
        Self { lines, compared, scale, reference, x_max: (planned as f64).max(last_compared), y_min, y_max }
    }

    /// The chart of `lines` alone (a logged run's): the axes show every value and reach the last step.
    pub fn of_lines(lines: Vec<Line>, scale: Scale) -> Self {
        let x_max = lines.iter().filter_map(|l| l.points.last()).map(|p| p.0).fold(MIN_STEPS_SHOWN as f64, f64::max);
        let (y_min, y_max) = scale.range(lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)));
        Self { lines, compared: Vec::new(), scale, reference: None, x_max, y_min, y_max }
    }

    /// The steps at which some line holds NaN or an infinity, in order, each once: the chart marks them
    /// rather than leave a silent gap.
    pub fn non_finite(&self) -> Vec<f64> {
        let mut steps: Vec<f64> = self
            .lines
            .iter()
            .chain(&self.compared)
            .flat_map(|l| l.points.iter().filter(|p| !p.1.is_finite()).map(|p| p.0))
            .collect();
        steps.sort_by(f64::total_cmp);
        steps.dedup();
        steps
    }

    /// The points of `line` in axis units. Values the scale cannot show (a gradient of exactly zero on a
    /// log axis) sit on the bottom edge, so a silent layer is visible rather than missing.
    pub fn plotted(&self, line: &Line) -> Vec<(f64, f64)> {
        line.points
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|&(x, y)| (x, self.scale.to_axis(y).unwrap_or(self.y_min).max(self.y_min)))
            .collect()
    }

    /// The steps the readout stops at, in order: those of the solid lines and the compared runs', or
    /// the faint line's while nothing else has a point; the keyboard's cursor moves over them.
    pub fn steps(&self) -> Vec<f64> {
        let of = |faint: bool| {
            let lines = self.lines.iter().chain(&self.compared).filter(|l| l.faint == faint);
            let mut steps: Vec<f64> = lines.flat_map(|l| l.points.iter().map(|p| p.0)).collect();
            steps.sort_by(f64::total_cmp);
            steps.dedup();
            steps
        };
        let solid = of(false);
        if solid.is_empty() {
            of(true)
        } else {
            solid
        }
    }

    /// Whether there is anything to draw.
    pub fn is_empty(&self) -> bool {
        self.lines.iter().chain(&self.compared).all(|l| l.points.is_empty())
    }

    /// The readout for the pointer at step `x`: the nearest recorded step and each line's value there.
    pub fn readout(&self, x: f64) -> Option<String> {
        let nearest = |l: &Line| l.points.iter().copied().min_by(|a, b| (a.0 - x).abs().total_cmp(&(b.0 - x).abs()));
        let closest = |faint: bool| {
            self.lines
                .iter()
                .chain(&self.compared)
                .filter(|l| l.faint == faint)
                .filter_map(nearest)
                .min_by(|a, b| (a.0 - x).abs().total_cmp(&(b.0 - x).abs()))
        };
        let anchor = closest(false).or_else(|| closest(true))?;
        let step = anchor.0;
        let mut parts = vec![format!("step {step:.0}")];
        for line in self.lines.iter().chain(&self.compared) {
            let Some(p) = line.points.iter().find(|p| (p.0 - step).abs() < 0.5) else { continue };
            parts.push(format!("{} {}", line.name, format_value(p.1)));
        }
        Some(parts.join(" · "))
    }
}

fn per_block(view: &RunView, value: impl Fn(&EvalRecord, usize) -> Option<f64>) -> Vec<Line> {
    let blocks = view.evals.iter().map(|e| e.blocks.len()).max().unwrap_or(0);
    (0..blocks)
        .map(|b| Line {
            name: format!("block {b}"),
            points: view.evals.iter().filter_map(|e| Some((e.step as f64, value(e, b)?))).collect(),
            faint: false,
        })
        .collect()
}

/// The global gradient norm of every step (faint) and each block's at every evaluation, on a log axis;
/// the `compared` runs' global norms over them.
pub fn grad_norms(view: &RunView, max_points: usize, compared: &[RunRecord]) -> LineChart {
    let global: Vec<(usize, f32)> = view.steps.iter().map(|r| (r.step, r.grad_norm)).collect();
    let mut lines = vec![Line { name: "all parameters".into(), points: downsample(&global, max_points), faint: true }];
    lines.extend(per_block(view, |e, b| e.blocks.get(b).map(|s| s.grad_norm as f64)));
    let reference = Reference { value: 10.0, label: "10: the top of the healthy range" };
    LineChart::new(view, lines, (compared, |c| &c.grad_norm, "all parameters"), Scale::Log, Some(reference))
}

/// The fraction of each block's MLP units that never fire on the evaluation batch; the `compared` runs'
/// averages over the blocks.
pub fn dead_fractions(view: &RunView, compared: &[RunRecord]) -> LineChart {
    let lines = per_block(view, |e, b| e.blocks.get(b).map(|s| s.dead_fraction as f64));
    let mut chart = LineChart::new(view, lines, (compared, |c| &c.dead, "mean of the blocks"), Scale::Linear, None);
    chart.y_max = 1.0;
    chart
}

/// The median of ‖Δw‖/‖w‖ over each block's weight matrices, and over the embeddings and head; the
/// `compared` runs' medians over all weight matrices.
pub fn update_ratios(view: &RunView, compared: &[RunRecord]) -> LineChart {
    let median_of = |e: &EvalRecord, block: Option<usize>| e.median_update_ratio(|b| b == block).map(f64::from);
    let mut lines = per_block(view, |e, b| median_of(e, Some(b)));
    lines.push(Line {
        name: "embeddings & head".into(),
        points: view.evals.iter().filter_map(|e| Some((e.step as f64, median_of(e, None)?))).collect(),
        faint: false,
    });
    let reference = Reference { value: 1e-3, label: "1e-3: a typical healthy update" };
    LineChart::new(view, lines, (compared, |c| &c.update, "all matrices"), Scale::Log, Some(reference))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::protocol::test_support::{eval_record, step_record};

    fn view() -> RunView {
        let mut v = RunView { steps: (1..=4).map(|s| step_record(s, 3.0)).collect(), ..RunView::default() };
        v.steps_done = 4;
        for step in [2, 4] {
            let mut e = eval_record(step, 3.0, None, None);
            for (b, block) in e.blocks.iter_mut().enumerate() {
                block.grad_norm = if b == 0 { 0.0 } else { step as f32 };
                block.dead_fraction = 0.25 * b as f32;
            }
            for t in &mut e.tensors {
                t.update_ratio = Some(if t.block == Some(0) { 1e-3 } else { 2e-3 });
            }
            v.evals.push(e);
        }
        v
    }

    #[test]
    fn gradient_norms_per_block_with_the_global_norm_behind() {
        let v = view();
        let c = grad_norms(&v, 100, &[]);
        let names: Vec<&str> = c.lines.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["all parameters", "block 0", "block 1"]);
        assert_eq!(c.lines[0].points.len(), 4);
        assert_eq!(c.lines[2].points, [(2.0, 2.0), (4.0, 4.0)]);
        assert_eq!(c.scale, Scale::Log);
        // Block 0's zero gradient sits on the axis floor instead of vanishing.
        assert_eq!(c.plotted(&c.lines[1]), [(2.0, c.y_min), (4.0, c.y_min)]);
        assert_eq!(c.readout(3.9).unwrap(), "step 4 · all parameters 1.500 · block 0 0 · block 1 4.000");
        assert_eq!(c.steps(), [2.0, 4.0], "the keyboard stops at the blocks' evaluations");
        assert_eq!(LineChart::of_lines(vec![c.lines[0].clone()], Scale::Log).steps(), [1.0, 2.0, 3.0, 4.0]);
        assert!(!c.is_empty());
    }

    #[test]
    fn dead_units_and_update_sizes() {
        let v = view();
        let d = dead_fractions(&v, &[]);
        assert_eq!(d.lines[1].points, [(2.0, 0.25), (4.0, 0.25)]);
        assert_eq!((d.y_min, d.y_max), (0.0, 1.0));
        let u = update_ratios(&v, &[]);
        assert_eq!(u.lines.len(), 3);
        assert_eq!(u.lines[0].points, [(2.0, 1e-3f32 as f64), (4.0, 1e-3f32 as f64)]);
        assert!((u.lines[2].points[0].1 - 2e-3).abs() < 1e-9);
        assert!(u.readout(1.0).unwrap().starts_with("step 2 · block 0 1.00e-3"));
    }

    #[test]
    fn compared_runs_add_a_named_line_and_widen_the_axes() {
        let v = view();
        let mut kept = RunView::starting(1, faultline_engine::RunConfig::default());
        kept.steps = (1..=30).map(|s| step_record(s, 3.0)).collect();
        kept.steps[20].grad_norm = 400.0;
        let mut history = crate::kept_runs::KeptRuns::default();
        let id = history.add(&kept, None).expect("long enough to keep");
        let c = grad_norms(&v, 100, &history.runs);
        assert_eq!(c.compared.len(), 1);
        assert_eq!((c.compared[0].name.as_str(), c.compared[0].points.len()), ("run 1, all parameters", 30));
        assert_eq!((id, c.x_max), (1, 30.0), "the axis reaches the compared run's last step");
        assert!(c.y_max > 400f64.log10(), "and its highest value");
        assert!(c.readout(21.0).unwrap().contains("run 1, all parameters 400"));
        let alone = grad_norms(&RunView::default(), 100, &history.runs);
        assert!(!alone.is_empty() && alone.lines.iter().all(|l| l.points.is_empty()));
    }

    #[test]
    fn an_empty_run_has_nothing_to_read() {
        let c = grad_norms(&RunView::default(), 100, &[]);
        assert!(c.is_empty() && c.readout(3.0).is_none());
        assert_eq!((c.y_min, c.y_max), Scale::Log.range([]), "an empty chart keeps the default range");
        assert_eq!(c.x_max, MIN_STEPS_SHOWN as f64);
    }
}
