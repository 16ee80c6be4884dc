//! What the alignment page knows about its fine-tuning run, rebuilt from the worker's messages: the
//! base model's pretraining, then the DPO records or the policy gradient's (`rl.rs`), evaluations and
//! the detector's reading.

mod rl;

pub use rl::{RlEvaluation, RlRecords};

use crate::protocol::{AlignEvent, AlignInfo, RunId};
use faultline_engine::align::Method;
use faultline_engine::diagnosis::Finding;
use faultline_engine::telemetry::align::{DpoEvalRecord, DpoStepRecord};
use faultline_engine::RunConfig;

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

/// An evaluation's samples, either method's: the step it was taken at, the true quality of all the
/// completions scored, and the few kept, each judged valid or not.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleSet {
    pub step: usize,
    pub quality: f32,
    pub samples: Vec<(String, String)>,
    pub valid: Vec<bool>,
}

impl SampleSet {
    fn of(eval: &Evaluation) -> SampleSet {
        SampleSet {
            step: eval.record.step,
            quality: eval.record.quality,
            samples: eval.record.samples.clone(),
            valid: eval.valid.clone(),
        }
    }
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
    /// A policy-gradient run's records; `None` for a DPO run.
    pub rl: Option<RlRecords>,
    /// The detector's latest reading; none before the first.
    pub findings: Option<Vec<Finding>>,
    /// Why the run failed or stopped.
    pub message: Option<String>,
    /// The run's settings and faults, as sent.
    pub config: Option<RunConfig>,
}

impl AlignView {
    /// Run `run`, just sent: `pretrain_steps` of pretraining, then `steps` steps of `method`.
    pub fn starting(run: RunId, pretrain_steps: usize, steps: usize, method: Method) -> Self {
        Self {
            run,
            state: AlignState::Pretraining,
            pretrain_total: pretrain_steps,
            planned: steps,
            rl: (method == Method::Rl).then(RlRecords::default),
            ..Self::default()
        }
    }

    /// The run's fine-tuning method.
    pub fn method(&self) -> Method {
        if self.rl.is_some() {
            Method::Rl
        } else {
            Method::Dpo
        }
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
            AlignEvent::RewardModels(models) => self.rl.get_or_insert_default().reward_models = models,
            AlignEvent::RlSteps(records) => self.rl.get_or_insert_default().steps.extend(records),
            AlignEvent::RlEval { record, valid } => {
                self.rl.get_or_insert_default().evals.push(RlEvaluation { record, valid });
            }
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

    /// Fine-tuning steps recorded.
    pub fn steps_done(&self) -> usize {
        match &self.rl {
            Some(rl) => rl.steps_done(),
            None => self.steps.last().map_or(0, |s| s.step),
        }
    }

    /// The samples of the evaluation before any step, either method's.
    pub fn samples_before(&self) -> Option<SampleSet> {
        match &self.rl {
            Some(rl) => rl.before().map(RlRecords::samples),
            None => self.before().map(SampleSet::of),
        }
    }

    /// The samples of the latest evaluation after steps, either method's.
    pub fn samples_after(&self) -> Option<SampleSet> {
        match &self.rl {
            Some(rl) => rl.after().map(RlRecords::samples),
            None => self.after().map(SampleSet::of),
        }
    }

    /// The evaluation before any DPO step (step 0).
    pub fn before(&self) -> Option<&Evaluation> {
        self.evals.first()
    }

    /// The latest evaluation after DPO steps, once there is one.
    pub fn after(&self) -> Option<&Evaluation> {
        self.evals.last().filter(|e| e.record.step > 0)
    }

    /// The bar's progress under way: (done, of) for pretraining, then for fine-tuning.
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
            AlignState::Idle if self.rl.is_some() => "Press Start: a base model pretrains on the corpus, reward \
                                                       models learn the corpus's preference pairs, then the policy \
                                                       gradient fine-tunes the model against them."
                .to_string(),
            AlignState::Idle => "Press Start: a base model pretrains on the corpus, then DPO fine-tunes it on \
                                 preference pairs the corpus's grammar writes."
                .to_string(),
            AlignState::Pretraining if self.pretrain_total > 0 && self.pretrained == self.pretrain_total => format!(
                "Pretrained for {} steps{}. {}",
                self.pretrain_total,
                loss(self.pretrain_loss),
                if self.rl.is_some() {
                    "Training the reward models, freezing the reference and scoring the base model's samples…"
                } else {
                    "Caching the frozen reference's log-probabilities and scoring the base model's samples…"
                }
            ),
            AlignState::Pretraining => format!(
                "Pretraining the base model: step {} of {}{}.",
                self.pretrained,
                self.pretrain_total,
                loss(self.pretrain_loss)
            ),
            AlignState::FineTuning if self.rl.is_some() => {
                self.rl.as_ref().map(|rl| rl.progress(self.planned)).unwrap_or_default()
            }
            AlignState::FineTuning => match self.steps.last() {
                Some(s) => {
                    format!("Fine-tuning with DPO: step {} of {}, DPO loss {:.4}.", s.step, self.planned, s.loss)
                }
                None => format!("Fine-tuning with DPO: {} steps to go.", self.planned),
            },
            AlignState::Done => self.rl.as_ref().map_or_else(|| self.summary(), RlRecords::summary),
            AlignState::Failed => self.message.clone().unwrap_or_default(),
            AlignState::Stopped => {
                let at = if self.info.is_some() {
                    let method = self.method().name();
                    format!("at {method} step {} of {}", self.steps_done(), self.planned)
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

    /// How a finished DPO run went, in its own numbers.
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

/// Fine-tunes `config` with `method` to its end natively through the worker's own session and applies
/// its messages to a view exactly as the alignment page does.
#[cfg(all(test, not(target_arch = "wasm32")))]
pub fn aligned(config: RunConfig, method: Method) -> AlignView {
    use crate::protocol::{FromWorker, ToWorker};
    use crate::worker::session::Session;
    let mut session = Session::new(faultline_engine::trainer::native_clock);
    let starting = AlignView::starting(1, config.fine_tuning.pretrain_steps, config.steps, method);
    let mut view = AlignView { config: Some(config.clone()), ..starting };
    let mut apply = |out: Vec<FromWorker>| {
        for msg in out {
            if let FromWorker::Align { run, event } = msg {
                view.apply(run, event);
            }
        }
    };
    apply(session.handle(ToWorker::Align { run: 1, steps: config.steps, config: Box::new(config), method }));
    while session.is_running() {
        apply(session.run_chunk(50.0));
    }
    view
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::protocol::test_support::{align_info, rl_info};
    use faultline_engine::telemetry::align::{RlEvalRecord, RlStepRecord};

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
        let mut v = AlignView::starting(2, 30, 6, Method::Dpo);
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
        let mut v = AlignView::starting(3, 100, 20, Method::Dpo);
        v.apply(3, AlignEvent::Pretraining { done: 40, total: 100, loss: None });
        v.apply(3, AlignEvent::Stopped { why: "a training run started".into() });
        assert_eq!(v.status(), "Stopped during pretraining, at step 40 of 100: a training run started.");
        let mut v = AlignView::starting(4, 100, 20, Method::Dpo);
        v.apply(4, AlignEvent::FineTuning(Box::new(align_info())));
        v.apply(4, AlignEvent::Steps(vec![step(1, 0.69)]));
        v.apply(4, AlignEvent::Stopped { why: "stopped".into() });
        assert_eq!(v.status(), "Stopped at DPO step 1 of 6.");
        let mut v = AlignView::starting(5, 100, 20, Method::Dpo);
        v.apply(5, AlignEvent::Failed { message: "beta: must be a positive number, got 0".into() });
        assert_eq!((v.state, v.status().as_str()), (AlignState::Failed, "beta: must be a positive number, got 0"));
        let mut v = AlignView::starting(6, 100, 20, Method::Dpo);
        v.worker_failed("the training worker failed: out of memory");
        assert_eq!(v.status(), "The fine-tuning run ended: the training worker failed: out of memory");
        assert_eq!((percent(0.25), percent(0.40625)), ("25%".to_string(), "40.6%".to_string()));
        assert_eq!([count(0), count(999), count(105_472), count(1_234_567)], ["0", "999", "105,472", "1,234,567"]);
    }

    fn rl_step(step: usize, reward: f32, quality: f32) -> RlStepRecord {
        RlStepRecord { step, reward, quality, kl: 0.5, length: 12.0, entropy: 1.0, grad_norm: 1.0 }
    }

    fn rl_eval(step: usize, reward: f32, quality: f32) -> AlignEvent {
        let samples = vec![("the dog".into(), " runs.\n".into()), ("a cat".into(), " runrunrun.\n".into())];
        AlignEvent::RlEval {
            record: RlEvalRecord { step, reward, quality, length: 12.0, samples },
            valid: vec![true, false],
        }
    }

    #[test]
    fn a_policy_gradient_run_keeps_its_own_records_and_says_how_it_went() {
        let mut v = AlignView::starting(7, 30, 6, Method::Rl);
        assert_eq!(v.method(), Method::Rl);
        v.apply(7, AlignEvent::Pretraining { done: 30, total: 30, loss: Some(1.5) });
        assert!(v.status().contains("Training the reward models"), "{}", v.status());
        v.apply(7, AlignEvent::FineTuning(Box::new(rl_info())));
        v.apply(7, AlignEvent::RewardModels(Vec::new()));
        v.apply(7, rl_eval(0, 0.1, 0.75));
        assert_eq!(v.status(), "Fine-tuning with the policy gradient: 6 steps to go.");
        v.apply(7, AlignEvent::RlSteps((1..=4).map(|s| rl_step(s, 0.1 * s as f32, 0.5)).collect()));
        assert_eq!(
            v.status(),
            "Fine-tuning with the policy gradient: step 4 of 6, proxy reward +0.400, true quality 50%."
        );
        v.apply(7, rl_eval(4, 0.4, 0.25));
        v.apply(7, AlignEvent::Done { steps: 4 });
        assert!(v.steps.is_empty() && v.evals.is_empty(), "no DPO records");
        assert_eq!((v.steps_done(), v.samples_after().map(|s| (s.step, s.valid))), (4, Some((4, vec![true, false]))));
        assert_eq!(v.samples_before().map(|s| s.quality), Some(0.75));
        assert_eq!(
            v.status(),
            "Done: 4 policy-gradient steps; the proxy reward went from +0.100 to +0.400; true quality 75% → 25%; KL to \
             the reference 0.500 nats."
        );
        let mut stopped = AlignView::starting(8, 30, 6, Method::Rl);
        stopped.apply(8, AlignEvent::FineTuning(Box::new(rl_info())));
        stopped.apply(8, AlignEvent::RlSteps(vec![rl_step(1, 0.1, 0.5)]));
        stopped.apply(8, AlignEvent::Stopped { why: "stopped".into() });
        assert_eq!(stopped.status(), "Stopped at policy-gradient step 1 of 6.");
    }
}
