//! What the page knows about the learning-rate range test, rebuilt from the worker's messages.

use crate::protocol::LrRangeEvent;
use faultline_engine::lr_range::{RangeEnd, RangePoint, RangeResult, RangeSettings, Suggestion, BLOWUP_FACTOR};

/// Where the range test is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RangeState {
    #[default]
    Idle,
    /// Asked for; steps are arriving.
    Running,
    Done,
    Failed,
}

impl RangeState {
    /// The `data-state` of `#lr-finder`.
    pub fn as_str(self) -> &'static str {
        match self {
            RangeState::Idle => "idle",
            RangeState::Running => "running",
            RangeState::Done => "done",
            RangeState::Failed => "failed",
        }
    }
}

/// The page's copy of the latest range test.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RangeView {
    /// The request whose messages are accepted; others are stale and dropped.
    pub request: u32,
    pub state: RangeState,
    pub settings: RangeSettings,
    /// Rates the sweep tries unless the loss blows up first (0 until the worker has started).
    pub planned: usize,
    pub points: Vec<RangePoint>,
    pub result: Option<RangeResult>,
    /// Why the test failed.
    pub message: Option<String>,
}

impl RangeView {
    /// A fresh view for request `request`, waiting for the worker.
    pub fn requested(request: u32, settings: RangeSettings) -> Self {
        Self { request, state: RangeState::Running, settings, ..Self::default() }
    }

    /// Applies one message from the worker; returns false when it was about another request.
    pub fn apply(&mut self, request: u32, event: LrRangeEvent) -> bool {
        if request != self.request || self.state != RangeState::Running {
            return false;
        }
        match event {
            LrRangeEvent::Started { planned } => self.planned = planned,
            LrRangeEvent::Points(points) => self.points.extend(points),
            LrRangeEvent::Done(result) => {
                self.points = result.points.clone();
                self.result = Some(result);
                self.state = RangeState::Done;
            }
            LrRangeEvent::Failed { message } => {
                self.message = Some(message);
                self.state = RangeState::Failed;
            }
        }
        true
    }

    /// Marks a test still waiting for the worker as failed (the worker crashed).
    pub fn fail(&mut self, message: &str) {
        if self.state == RangeState::Running {
            self.state = RangeState::Failed;
            self.message = Some(message.to_string());
        }
    }

    /// The guide's suggestion, once the sweep has ended.
    pub fn suggestion(&self) -> Option<Suggestion> {
        self.result.as_ref().and_then(|r| r.suggestion)
    }

    /// The suggested rate as the learning-rate field will hold it.
    pub fn suggested_text(&self) -> Option<String> {
        self.suggestion().map(|s| lr_text(s.lr))
    }

    /// One sentence on where the test is.
    pub fn status(&self) -> String {
        let (lo, hi, n) = (lr_text(self.settings.start_lr), lr_text(self.settings.end_lr), self.settings.num_lrs);
        match self.state {
            RangeState::Idle => format!(
                "Trains a fresh copy of the model one step at each of {n} rates from {lo} to {hi} (log-spaced), \
                 stopping once the loss is more than {BLOWUP_FACTOR} times the first."
            ),
            RangeState::Running => match self.points.last() {
                Some(p) => format!(
                    "Step {} of {}: rate {}, loss {:.3}",
                    p.step,
                    self.planned.max(p.step),
                    lr_text(p.lr),
                    p.loss
                ),
                None => "Building a fresh model…".to_string(),
            },
            RangeState::Failed => self.message.clone().unwrap_or_default(),
            RangeState::Done => {
                let ended = match self.result.as_ref().map(|r| &r.end) {
                    Some(RangeEnd::Exploded { step, lr, loss }) => format!(
                        "Stopped at step {step}: at rate {} the loss was {loss:.2}, more than {BLOWUP_FACTOR}× the first.",
                        lr_text(*lr)
                    ),
                    Some(RangeEnd::NonFinite { step, lr, tensor }) => {
                        format!("Stopped at step {step}: at rate {} {tensor} held NaN or Inf.", lr_text(*lr))
                    }
                    _ => format!("Tried all {} rates.", self.points.len()),
                };
                let pick = match self.suggestion() {
                    Some(s) => format!(
                        " The loss was lowest ({:.3}) at {}; the guide suggests a tenth of that.",
                        s.lowest_loss,
                        lr_text(s.lowest_lr)
                    ),
                    None => " The loss never fell below its first value, so there is nothing to suggest.".to_string(),
                };
                ended + &pick
            }
        }
    }
}

/// A learning rate to three significant digits, in the `1.45e-3` form the settings accept.
pub fn lr_text(lr: f32) -> String {
    let text = format!("{lr:.2e}");
    let Some((mantissa, exponent)) = text.split_once('e') else { return text };
    let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
    if exponent == "0" {
        mantissa.to_string()
    } else {
        format!("{mantissa}e{exponent}")
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use faultline_engine::lr_range::suggest;
    use faultline_engine::settings::SettingKey;

    fn points(losses: &[f32]) -> Vec<RangePoint> {
        losses
            .iter()
            .enumerate()
            .map(|(i, &loss)| RangePoint { step: i + 1, lr: 10f32.powi(i as i32 - 5), loss })
            .collect()
    }

    #[test]
    fn a_sweep_streams_then_ends_with_its_suggestion() {
        let mut v = RangeView::requested(3, RangeSettings::default());
        assert!(!v.apply(2, LrRangeEvent::Started { planned: 100 }), "another request's messages are dropped");
        assert!(v.apply(3, LrRangeEvent::Started { planned: 100 }));
        assert_eq!(v.status(), "Building a fresh model…");
        let pts = points(&[3.4, 3.0, 2.0, 9.0]);
        v.apply(3, LrRangeEvent::Points(pts[..2].to_vec()));
        assert_eq!(v.status(), "Step 2 of 100: rate 1e-4, loss 3.000");
        assert_eq!(v.suggestion(), None, "no suggestion before the end");
        let result = RangeResult {
            settings: RangeSettings::default(),
            suggestion: suggest(&pts),
            points: pts.clone(),
            end: RangeEnd::Exploded { step: 4, lr: 0.1, loss: 9.0 },
        };
        v.apply(3, LrRangeEvent::Done(result));
        assert_eq!((v.state, v.points.len()), (RangeState::Done, 4));
        assert_eq!(v.suggested_text().as_deref(), Some("1e-4"));
        assert!(v.status().starts_with("Stopped at step 4: at rate 1e-1 the loss was 9.00"), "{}", v.status());
        assert!(!v.apply(3, LrRangeEvent::Failed { message: "late".into() }), "a finished test stays finished");
    }

    #[test]
    fn a_refusal_is_shown() {
        let mut v = RangeView::requested(1, RangeSettings::default());
        v.apply(1, LrRangeEvent::Failed { message: "a training run is in progress".into() });
        assert_eq!((v.state, v.status().as_str()), (RangeState::Failed, "a training run is in progress"));
        let mut crashed = RangeView::requested(2, RangeSettings::default());
        crashed.fail("the training worker crashed");
        assert_eq!((crashed.state, crashed.status().as_str()), (RangeState::Failed, "the training worker crashed"));
        let mut idle = RangeView::default();
        idle.fail("the training worker crashed");
        assert_eq!(idle.state, RangeState::Idle, "only a waiting test fails");
    }

    #[test]
    fn rates_read_as_the_settings_accept_them() {
        assert_eq!(lr_text(0.0014508287), "1.45e-3");
        assert_eq!(lr_text(1.0), "1");
        assert_eq!(lr_text(1e-7), "1e-7");
        assert_eq!(lr_text(0.25), "2.5e-1");
        let mut config = faultline_engine::RunConfig::default();
        config.set(SettingKey::Lr, &lr_text(0.0014508287)).unwrap();
        assert_eq!(config.lr, 1.45e-3);
    }
}
