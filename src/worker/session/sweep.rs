//! A learning-rate range test in progress: the session sweeps it a slice at a time, as it trains a
//! run, and sends the points as they come.

use crate::protocol::{FromWorker, LrRangeEvent};
use faultline_engine::lr_range::RangeTest;
use faultline_engine::trainer::Clock;

/// A learning-rate range test in progress.
pub(super) struct Sweep {
    request: u32,
    test: RangeTest,
    /// Points already sent to the page.
    sent: usize,
}

impl Sweep {
    /// The sweep `test`, answering the page's `request`, with nothing sent yet.
    pub(super) fn new(request: u32, test: RangeTest) -> Self {
        Self { request, test, sent: 0 }
    }

    pub(super) fn event(&self, event: LrRangeEvent) -> FromWorker {
        FromWorker::LrRange { request: self.request, event }
    }

    /// Sweeps for about `budget_ms` milliseconds (at least one step); sends the new points, and the
    /// result once the sweep has ended. True when it has ended.
    pub(super) fn run_chunk(&mut self, clock: Clock, budget_ms: f64, out: &mut Vec<FromWorker>) -> bool {
        let start = clock();
        let mut failure = None;
        while !self.test.is_done() {
            if let Err(e) = self.test.advance() {
                failure = Some(e);
                break;
            }
            if clock() - start >= budget_ms {
                break;
            }
        }
        let new = self.test.points()[self.sent..].to_vec();
        self.sent += new.len();
        if !new.is_empty() {
            out.push(self.event(LrRangeEvent::Points(new)));
        }
        if let Some(e) = failure {
            out.push(self.event(LrRangeEvent::Failed { message: e.to_string() }));
            return true;
        }
        if self.test.is_done() {
            out.push(self.event(LrRangeEvent::Done(self.test.result())));
            return true;
        }
        false
    }
}
