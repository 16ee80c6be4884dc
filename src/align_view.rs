//! What the alignment page knows about its fine-tuning run, rebuilt from the worker's messages: the
//! base model's pretraining, then the DPO records, evaluations and the detector's reading.

use crate::protocol::{AlignEvent, AlignInfo, RunId};
use faultline_engine::diagnosis::Finding;
use faultline_engine::telemetry::align::{DpoEvalRecord, DpoStepRecord};

/// Where the run is; `as_str` is the `data-state` of `#align`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AlignState {
    #[default]
    Idle,
    /// The base model trains (or the run was just sent and has not answered yet).
    Pretraining,
    FineTuning,
    Done,
    Failed,
    /// Ended early: by Stop, or replaced by another run.
    Stopped,
}

impl AlignState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlignState::Idle => "idle",
            AlignState::Pretraining => "pretraining",
            AlignState::FineTuning => "fine-tuning",
            AlignState::Done => "done",
            AlignState::Failed => "failed",
            AlignState::Stopped => "stopped",
        }
    }

    /// The run is under way: Stop can end it.
    pub fn is_active(self) -> bool {
        matches!(self, AlignState::Pretraining | AlignState::FineTuning)
    }
}

/// One evaluation, with whether each of its samples is a valid completion.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub record: DpoEvalRecord,
    pub valid: Vec<bool>,
}

/// The page's copy of one fine-tuning run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlignView {
    /// The run whose messages are accepted; others are stale and dropped.
    pub run: RunId,
    pub state: AlignState,
    /// Pretraining steps done, of how many, and the last one's training loss.
    pub pretrained: usize,
    pub pretrain_total: usize,
    pub pretrain_loss: Option<f32>,
    /// DPO steps planned (the run's own figure once fine-tuning begins).
    pub planned: usize,
    /// What the run said as DPO began.
    pub info: Option<AlignInfo>,
    pub steps: Vec<DpoStepRecord>,
    pub evals: Vec<Evaluation>,
    /// The detector's latest reading; none before the first.
    pub findings: Option<Vec<Finding>>,
    /// Why the run failed or stopped.
    pub message: Option<String>,
}

impl AlignView {
    /// Run `run`, just sent: `pretrain_steps` of pretraining, then `steps` DPO steps.
    pub fn starting(run: RunId, pretrain_steps: usize, steps: usize) -> Self {
        Self { run, state: AlignState::Pretraining, pretrain_total: pretrain_steps, planned: steps, ..Self::default() }
    }

    /// Applies one message from the worker; returns false when it was about another run, or about a
    /// run that has already ended.
    pub fn apply(&mut self, run: RunId, event: AlignEvent) -> bool {
        if run != self.run || !self.state.is_active() {
            return false;
        }
        match event {
            AlignEvent::Pretraining { done, total, loss } => {
                (self.pretrained, self.pretrain_total, self.pretrain_loss) = (done, total, loss);
            }
            AlignEvent::FineTuning(info) => {
                self.state = AlignState::FineTuning;
                self.planned = info.steps;
                self.pretrained = info.pretrain_steps;
                self.info = Some(*info);
            }
            AlignEvent::Steps(records) => self.steps.extend(records),
            AlignEvent::Eval { record, valid } => self.evals.push(Evaluation { record, valid }),
            AlignEvent::Diagnosis { findings, .. } => self.findings = Some(findings),
            AlignEvent::Done { .. } => self.state = AlignState::Done,
            AlignEvent::Failed { message } => {
                self.state = AlignState::Failed;
                self.message = Some(message);
            }
            AlignEvent::Stopped { why } => {
                self.state = AlignState::Stopped;
                self.message = Some(why);
            }
        }
        true
    }

    /// The worker crashed: a run under way will get no answer.
    pub fn worker_failed(&mut self, message: &str) {
        if self.state.is_active() {
            self.state = AlignState::Failed;
            self.message = Some(format!("The fine-tuning run ended: {message}"));
        }
    }

    /// DPO steps recorded.
    pub fn steps_done(&self) -> usize {
        self.steps.last().map_or(0, |s| s.step)
    }

    /// The evaluation before any DPO step (step 0).
    pub fn before(&self) -> Option<&Evaluation> {
        self.evals.first()
    }

    /// The latest evaluation after DPO steps, once there is one.
    pub fn after(&self) -> Option<&Evaluation> {
        self.evals.last().filter(|e| e.record.step > 0)
    }

    /// The bar's progress under way: (done, of) for pretraining, then for DPO.
    pub fn progress(&self) -> Option<(usize, usize)> {
        match self.state {
            AlignState::Pretraining => Some((self.pretrained, self.pretrain_total)),
            AlignState::FineTuning => Some((self.steps_done(), self.planned)),
            _ => None,
        }
    }

    /// Where the run is, in a sentence, with its figures.
    pub fn status(&self) -> String {
        let loss = |l: Option<f32>| l.map(|l| format!(", training loss {l:.3}")).unwrap_or_default();
        match self.state {
            AlignState::Idle => "Press Start: a base model pretrains on the corpus, then DPO fine-tunes it on \
                                 preference pairs the corpus's grammar writes."
                .to_string(),
            AlignState::Pretraining if self.pretrain_total > 0 && self.pretrained == self.pretrain_total => format!(
                "Pretrained for {} steps{}. Caching the frozen reference's log-probabilities and scoring the base \
                 model's samples…",
                self.pretrain_total,
                loss(self.pretrain_loss)
            ),
            AlignState::Pretraining => format!(
                "Pretraining the base model: step {} of {}{}.",
                self.pretrained,
                self.pretrain_total,
                loss(self.pretrain_loss)
            ),
            AlignState::FineTuning => match self.steps.last() {
                Some(s) => {
                    format!("Fine-tuning with DPO: step {} of {}, DPO loss {:.4}.", s.step, self.planned, s.loss)
                }
                None => format!("Fine-tuning with DPO: {} steps to go.", self.planned),
            },
            AlignState::Done => self.summary(),
            AlignState::Failed => self.message.clone().unwrap_or_default(),
            AlignState::Stopped => {
                let at = if self.info.is_some() {
                    format!("at DPO step {} of {}", self.steps_done(), self.planned)
                } else {
                    format!("during pretraining, at step {} of {}", self.pretrained, self.pretrain_total)
                };
                match self.message.as_deref() {
                    None | Some("stopped") => format!("Stopped {at}."),
                    Some(why) => format!("Stopped {at}: {why}."),
                }
            }
        }
    }

    /// How a finished run went, in its own numbers.
    fn summary(&self) -> String {
        let mut parts = vec![format!("Done: {} DPO steps", self.steps_done())];
        if let (Some(first), Some(last)) = (self.steps.first(), self.steps.last()) {
            parts.push(format!("the DPO loss went from {:.3} to {:.3}", first.loss, last.loss));
        }
        if let (Some(before), Some(after)) = (self.before(), self.after()) {
            parts.push(format!(
                "held-out preference accuracy {}, true quality {} → {}",
                percent(after.record.accuracy),
                percent(before.record.quality),
                percent(after.record.quality)
            ));
        }
        format!("{}.", parts.join("; "))
    }
}

/// A share as a percentage, to a tenth where that matters.
pub fn percent(share: f32) -> String {
    let p = share * 100.0;
    if p == p.round() {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// A count with its thousands separated by commas.
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::protocol::test_support::align_info;

    fn step(step: usize, loss: f32) -> DpoStepRecord {
        DpoStepRecord {
            step,
            loss,
            margin: 0.0,
            accuracy: 0.5,
            chosen_drift: 0.0,
            rejected_drift: 0.0,
            kl: 0.0,
            grad_norm: 1.0,
            lr: 1e-4,
        }
    }

    fn eval(step: usize, quality: f32) -> AlignEvent {
        let record = DpoEvalRecord {
            step,
            loss: 0.6,
            accuracy: 0.75,
            quality,
            samples: vec![("cba>".into(), "abc\n".into()), ("ba>".into(), "bb\n".into())],
        };
        AlignEvent::Eval { record, valid: vec![true, false] }
    }

    #[test]
    fn a_run_goes_from_pretraining_to_its_summary() {
        let mut v = AlignView::starting(2, 30, 6);
        assert_eq!((v.state.as_str(), v.progress()), ("pretraining", Some((0, 30))));
        assert!(!v.apply(1, AlignEvent::Done { steps: 6 }), "another run's message is dropped");
        v.apply(2, AlignEvent::Pretraining { done: 12, total: 30, loss: Some(2.5) });
        assert_eq!(v.status(), "Pretraining the base model: step 12 of 30, training loss 2.500.");
        v.apply(2, AlignEvent::Pretraining { done: 30, total: 30, loss: Some(1.25) });
        assert!(v.status().starts_with("Pretrained for 30 steps, training loss 1.250. Caching"), "{}", v.status());
        v.apply(2, AlignEvent::FineTuning(Box::new(align_info())));
        v.apply(2, eval(0, 0.25));
        assert_eq!((v.before().map(|e| e.record.step), v.after()), (Some(0), None));
        assert_eq!(v.status(), "Fine-tuning with DPO: 6 steps to go.");
        v.apply(2, AlignEvent::Steps((1..=6).map(|s| step(s, 0.7 - s as f32 * 0.05)).collect()));
        assert_eq!(v.progress(), Some((6, 6)));
        v.apply(2, eval(6, 0.5));
        v.apply(2, AlignEvent::Diagnosis { step: 6, findings: Vec::new() });
        v.apply(2, AlignEvent::Done { steps: 6 });
        assert_eq!(v.state.as_str(), "done");
        assert_eq!(v.after().map(|e| e.valid.clone()), Some(vec![true, false]));
        assert_eq!(
            v.status(),
            "Done: 6 DPO steps; the DPO loss went from 0.650 to 0.400; held-out preference accuracy 75%, true \
             quality 25% → 50%."
        );
        assert!(!v.apply(2, AlignEvent::Failed { message: "late".into() }), "an ended run takes nothing more");
    }

    #[test]
    fn a_run_that_stops_or_fails_says_where_and_why() {
        let mut v = AlignView::starting(3, 100, 20);
        v.apply(3, AlignEvent::Pretraining { done: 40, total: 100, loss: None });
        v.apply(3, AlignEvent::Stopped { why: "a training run started".into() });
        assert_eq!(v.status(), "Stopped during pretraining, at step 40 of 100: a training run started.");
        let mut v = AlignView::starting(4, 100, 20);
        v.apply(4, AlignEvent::FineTuning(Box::new(align_info())));
        v.apply(4, AlignEvent::Steps(vec![step(1, 0.69)]));
        v.apply(4, AlignEvent::Stopped { why: "stopped".into() });
        assert_eq!(v.status(), "Stopped at DPO step 1 of 6.");
        let mut v = AlignView::starting(5, 100, 20);
        v.apply(5, AlignEvent::Failed { message: "beta: must be a positive number, got 0".into() });
        assert_eq!((v.state, v.status().as_str()), (AlignState::Failed, "beta: must be a positive number, got 0"));
        let mut v = AlignView::starting(6, 100, 20);
        v.worker_failed("the training worker failed: out of memory");
        assert_eq!(v.status(), "The fine-tuning run ended: the training worker failed: out of memory");
        assert_eq!((percent(0.25), percent(0.40625)), ("25%".to_string(), "40.6%".to_string()));
        assert_eq!([count(0), count(999), count(105_472), count(1_234_567)], ["0", "999", "105,472", "1,234,567"]);
    }
}
