//! A fine-tuning run (the alignment page): the base model pretrains a slice of steps at a time, then
//! DPO or the policy gradient fine-tunes it a slice at a time, so the worker still hears a `Reset`
//! between slices. Progress and the step records go out at most every [`FLUSH_EVERY_MS`]; each
//! evaluation goes at once, with the detector's reading after it.
//!
//! `tuning.rs`: [`Tuning`], either method's run behind the calls this file makes.

mod tuning;

use super::run::FLUSH_EVERY_MS;
use crate::protocol::{AlignEvent, FromWorker, RunId};
use faultline_engine::align::{pretraining_config, Method};
use faultline_engine::backend::CpuBackend;
use faultline_engine::trainer::{Clock, Trainer};
use faultline_engine::{EngineError, RunConfig};
use tuning::{Pending, Settings, Tuning};

/// Where the run is.
enum Stage {
    /// The base model trains; the fine-tuning settings wait for it.
    Pretraining {
        trainer: Box<Trainer<CpuBackend>>,
        settings: Box<Settings>,
    },
    FineTuning(Tuning),
}

/// The fine-tuning run the session holds, until it ends.
pub(super) struct Alignment {
    stage: Stage,
    report: Report,
}

/// What the page has been sent of run `id`, and what waits.
struct Report {
    id: RunId,
    /// Step records not yet sent.
    pending: Pending,
    last_flush_ms: f64,
}

impl Alignment {
    /// Checks the settings (`steps` steps of `method` on top of `config`), builds the base model and
    /// tells the page that pretraining begins; or tells it why not and returns `None`.
    pub(super) fn start(
        id: RunId,
        config: &RunConfig,
        steps: usize,
        method: Method,
        clock: Clock,
        out: &mut Vec<FromWorker>,
    ) -> Option<Self> {
        let settings = Settings::new(method, config, steps);
        let built = config
            .validate()
            .and_then(|()| settings.validate())
            .map_err(EngineError::from)
            .and_then(|()| Trainer::new(pretraining_config(config), CpuBackend::new(), clock));
        let report = Report { id, pending: Pending::default(), last_flush_ms: clock() };
        match built {
            Ok(trainer) => {
                let total = trainer.config().steps;
                out.push(report.event(AlignEvent::Pretraining { done: 0, total, loss: None }));
                Some(Self {
                    stage: Stage::Pretraining { trainer: Box::new(trainer), settings: Box::new(settings) },
                    report,
                })
            }
            Err(e) => {
                out.push(report.event(AlignEvent::Failed { message: e.to_string() }));
                None
            }
        }
    }

    /// The page's message that this run ended early, and why.
    pub(super) fn stopped(self, why: &str) -> FromWorker {
        self.report.event(AlignEvent::Stopped { why: why.to_string() })
    }

    /// Works for about `budget_ms` milliseconds (at least one step): pretraining steps, the start of
    /// fine-tuning once the base model is done (a slice of its own: it caches the reference, trains
    /// any reward models and takes the first evaluation), or fine-tuning steps. Returns the run, or
    /// `None` once it has ended.
    pub(super) fn run_chunk(self, clock: Clock, budget_ms: f64, out: &mut Vec<FromWorker>) -> Option<Self> {
        let Self { stage, mut report } = self;
        let start = clock();
        let stage = match stage {
            Stage::Pretraining { trainer, settings } if trainer.is_done() => {
                let pretrain_steps = trainer.steps_done();
                match Tuning::new(*trainer, *settings) {
                    Ok(run) => {
                        out.extend(run.opening(pretrain_steps).into_iter().map(|e| report.event(e)));
                        report.send_evals(&run, 0, out);
                        Stage::FineTuning(run)
                    }
                    Err(e) => return report.fail(format!("fine-tuning could not start: {e}"), out),
                }
            }
            Stage::Pretraining { mut trainer, settings } => {
                loop {
                    if let Err(e) = trainer.steps(trainer.steps_per_readback()) {
                        return report.fail(format!("the base model's pretraining stopped: {e}"), out);
                    }
                    if trainer.is_done() || clock() - start >= budget_ms {
                        break;
                    }
                }
                if trainer.is_done() || clock() - report.last_flush_ms >= FLUSH_EVERY_MS {
                    report.last_flush_ms = clock();
                    let (done, total) = (trainer.steps_done(), trainer.config().steps);
                    let loss = trainer.history().steps.last().map(|s| s.loss);
                    out.push(report.event(AlignEvent::Pretraining { done, total, loss }));
                }
                Stage::Pretraining { trainer, settings }
            }
            Stage::FineTuning(mut run) => {
                loop {
                    let evals = run.evals();
                    if let Err(e) = run.step(&mut report.pending) {
                        report.flush(clock, out);
                        out.push(report.diagnosis(&run));
                        let message = format!("fine-tuning stopped: {e}");
                        out.push(report.event(AlignEvent::Failed { message }));
                        return None;
                    }
                    if run.evals() > evals {
                        report.flush(clock, out);
                        report.send_evals(&run, evals, out);
                    }
                    if run.is_done() {
                        report.flush(clock, out);
                        out.push(report.event(AlignEvent::Done { steps: run.steps_done() }));
                        return None;
                    }
                    if clock() - start >= budget_ms {
                        break;
                    }
                }
                if clock() - report.last_flush_ms >= FLUSH_EVERY_MS {
                    report.flush(clock, out);
                }
                Stage::FineTuning(run)
            }
        };
        Some(Self { stage, report })
    }
}

impl Report {
    fn event(&self, event: AlignEvent) -> FromWorker {
        FromWorker::Align { run: self.id, event }
    }

    /// Tells the page the run failed with `message`; the run is over.
    fn fail(&self, message: String, out: &mut Vec<FromWorker>) -> Option<Alignment> {
        out.push(self.event(AlignEvent::Failed { message }));
        None
    }

    /// Sends the evaluations of `run` from the `from`-th on, each with its samples judged and the
    /// detector's reading after it.
    fn send_evals(&self, run: &Tuning, from: usize, out: &mut Vec<FromWorker>) {
        for event in run.evals_from(from) {
            out.push(self.event(event));
            out.push(self.diagnosis(run));
        }
    }

    /// What the detector reads in the fine-tuning telemetry so far.
    fn diagnosis(&self, run: &Tuning) -> FromWorker {
        self.event(AlignEvent::Diagnosis { step: run.steps_done(), findings: run.diagnose() })
    }

    /// Sends the pending step records, if any.
    fn flush(&mut self, clock: Clock, out: &mut Vec<FromWorker>) {
        self.last_flush_ms = clock();
        if let Some(event) = self.pending.take() {
            out.push(self.event(event));
        }
    }
}
