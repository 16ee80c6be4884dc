//! A fine-tuning run (the alignment page): the base model pretrains a slice of steps at a time, then
//! DPO fine-tunes it a slice at a time, so the worker still hears a `Reset` between slices. Progress
//! and the DPO step records go out at most every [`FLUSH_EVERY_MS`]; each evaluation goes at once,
//! with the detector's reading after it.

use super::run::FLUSH_EVERY_MS;
use crate::protocol::{AlignEvent, AlignInfo, FromWorker, RunId};
use faultline_engine::align::{pretraining_config, DpoRun, DpoSettings};
use faultline_engine::backend::CpuBackend;
use faultline_engine::diagnosis::diagnose_dpo;
use faultline_engine::telemetry::align::DpoStepRecord;
use faultline_engine::trainer::{Clock, Trainer};
use faultline_engine::{EngineError, RunConfig};

/// Where the run is.
enum Stage {
    /// The base model trains; the fine-tuning settings wait for it.
    Pretraining {
        trainer: Box<Trainer<CpuBackend>>,
        settings: Box<DpoSettings>,
    },
    FineTuning(Box<DpoRun<CpuBackend>>),
}

/// The fine-tuning run the session holds, until it ends.
pub(super) struct Alignment {
    stage: Stage,
    report: Report,
}

/// What the page has been sent of run `id`, and what waits.
struct Report {
    id: RunId,
    /// DPO step records not yet sent.
    pending: Vec<DpoStepRecord>,
    last_flush_ms: f64,
}

impl Alignment {
    /// Checks the settings (`steps` DPO steps on top of `config`), builds the base model and tells the
    /// page that pretraining begins; or tells it why not and returns `None`.
    pub(super) fn start(
        id: RunId,
        config: &RunConfig,
        steps: usize,
        clock: Clock,
        out: &mut Vec<FromWorker>,
    ) -> Option<Self> {
        let settings = DpoSettings { steps, ..DpoSettings::from_config(config) };
        let built = config
            .validate()
            .and_then(|()| settings.validate())
            .map_err(EngineError::from)
            .and_then(|()| Trainer::new(pretraining_config(config), CpuBackend::new(), clock));
        let report = Report { id, pending: Vec::new(), last_flush_ms: clock() };
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
    /// DPO once the base model is done (a slice of its own: it caches the reference and takes the
    /// first evaluation), or DPO steps. Returns the run, or `None` once it has ended.
    pub(super) fn run_chunk(self, clock: Clock, budget_ms: f64, out: &mut Vec<FromWorker>) -> Option<Self> {
        let Self { stage, mut report } = self;
        let start = clock();
        let stage = match stage {
            Stage::Pretraining { trainer, settings } if trainer.is_done() => {
                let pretrain_steps = trainer.steps_done();
                match DpoRun::new(*trainer, *settings) {
                    Ok(run) => {
                        let info = info(&run, pretrain_steps);
                        out.push(report.event(AlignEvent::FineTuning(Box::new(info))));
                        report.send_evals(&run, 0, out);
                        Stage::FineTuning(Box::new(run))
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
                    let evals = run.history().evals.len();
                    match run.step() {
                        Ok(record) => report.pending.push(record),
                        Err(e) => {
                            report.flush(clock, out);
                            out.push(report.diagnosis(&run));
                            let message = format!("fine-tuning stopped: {e}");
                            out.push(report.event(AlignEvent::Failed { message }));
                            return None;
                        }
                    }
                    if run.history().evals.len() > evals {
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
    fn send_evals(&self, run: &DpoRun<CpuBackend>, from: usize, out: &mut Vec<FromWorker>) {
        for record in &run.history().evals[from..] {
            let valid = record.samples.iter().map(|(p, c)| run.source().is_good(p, c)).collect();
            out.push(self.event(AlignEvent::Eval { record: record.clone(), valid }));
            out.push(self.diagnosis(run));
        }
    }

    /// What the detector reads in the DPO telemetry so far.
    fn diagnosis(&self, run: &DpoRun<CpuBackend>) -> FromWorker {
        self.event(AlignEvent::Diagnosis { step: run.steps_done(), findings: diagnose_dpo(run.history()) })
    }

    /// Sends the pending step records, if any.
    fn flush(&mut self, clock: Clock, out: &mut Vec<FromWorker>) {
        self.last_flush_ms = clock();
        if !self.pending.is_empty() {
            let records = std::mem::take(&mut self.pending);
            out.push(self.event(AlignEvent::Steps(records)));
        }
    }
}

/// What the page learns of `run` as DPO begins.
fn info(run: &DpoRun<CpuBackend>, pretrain_steps: usize) -> AlignInfo {
    let s = run.settings();
    AlignInfo {
        corpus: run.source().name(),
        pretrain_steps,
        steps: s.steps,
        pairs_per_step: s.pairs_per_step,
        eval_every: s.eval_every,
        beta: s.effective_beta(),
        lr: s.effective_lr(),
        lora_rank: s.lora_rank,
        memory: run.memory(),
        backend: run.backend_name(),
    }
}
