//! What the readers' tests share: damaged copies of a fixture, and a series as plain pairs.

use faultline_telemetry::log::{LoggedRun, Signal};
use proptest::prelude::*;
use proptest::sample::Index;

/// Copies of `fixture` with a few bytes overwritten or inserted, then perhaps cut short.
pub(crate) fn mutated(fixture: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    let edits = proptest::collection::vec((any::<Index>(), any::<u8>(), any::<bool>()), 0..6);
    (edits, proptest::option::of(any::<Index>())).prop_map(move |(edits, cut)| {
        let mut bytes = fixture.to_vec();
        for (at, byte, insert) in edits {
            let at = at.index(bytes.len() + 1);
            if insert || at == bytes.len() {
                bytes.insert(at, byte);
            } else {
                bytes[at] = byte;
            }
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        bytes
    })
}

/// The `(step, value)` pairs of `signal` in `run`; empty where the run lacks it.
pub(crate) fn points(run: &LoggedRun, signal: &Signal) -> Vec<(u64, f32)> {
    run.get(signal).map(|s| s.points.iter().map(|p| (p.step, p.value)).collect()).unwrap_or_default()
}
