//! An exercise's recap charts: the learner's reproduce run and fix run overlaid on one chart, so the
//! one change the fix made is what separates the two lines.

use super::lines::{Line, LineChart};
use super::Scale;
use crate::exercises::progress::{ExerciseProgress, StageRun};
use crate::kept_runs::Curve;

/// `curve` of both of `p`'s kept runs, named for their stage; one line when the fix read the
/// reproduce run itself (the first run).
fn overlay(p: &ExerciseProgress, curve: fn(&StageRun) -> &Curve, scale: Scale) -> LineChart {
    let line = |name: &str, run: &StageRun| Line {
        name: name.to_string(),
        points: curve(run).iter().map(|&(x, y)| (x as f64, y as f64)).collect(),
        faint: false,
    };
    let lines = match (&p.reproduce_run, &p.fix_run) {
        (Some(a), Some(b)) if a == b => vec![line("your run", a)],
        (a, b) => {
            a.iter().map(|r| line("your reproduce run", r)).chain(b.iter().map(|r| line("your fix run", r))).collect()
        }
    };
    LineChart::of_lines(lines, scale)
}

/// Both runs' batch loss.
pub fn loss(p: &ExerciseProgress) -> LineChart {
    overlay(p, |r| &r.loss, Scale::Linear)
}

/// Both runs' gradient norm before clipping, in decades.
pub fn grad_norm(p: &ExerciseProgress) -> LineChart {
    overlay(p, |r| &r.grad_norm, Scale::Log)
}

/// Both runs' validation loss.
pub fn val_loss(p: &ExerciseProgress) -> LineChart {
    overlay(p, |r| &r.val_loss, Scale::Linear)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use faultline_engine::RunConfig;

    fn run(seed: u64, loss: f32) -> StageRun {
        StageRun {
            config: RunConfig { seed, ..RunConfig::default() },
            loss: vec![(1, 3.3), (60, loss)],
            grad_norm: vec![(1, 1.0), (60, 0.5)],
            val_loss: vec![(50, loss)],
        }
    }

    #[test]
    fn both_runs_share_one_chart_and_the_same_run_is_drawn_once() {
        let p = ExerciseProgress { reproduce_run: Some(run(1, 3.0)), fix_run: Some(run(2, 1.5)), ..Default::default() };
        let chart = loss(&p);
        let names: Vec<&str> = chart.lines.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["your reproduce run", "your fix run"]);
        assert_eq!(chart.lines[1].points, [(1.0, 3.3f32 as f64), (60.0, 1.5)]);
        assert!(chart.y_min <= 1.5 && chart.y_max >= 3.3f32 as f64, "{} .. {}", chart.y_min, chart.y_max);
        let same =
            ExerciseProgress { reproduce_run: Some(run(1, 2.0)), fix_run: Some(run(1, 2.0)), ..Default::default() };
        assert_eq!(grad_norm(&same).lines.len(), 1);
        assert_eq!(val_loss(&ExerciseProgress::default()).lines.len(), 0);
    }
}
