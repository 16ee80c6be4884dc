//! The backend's work counters, shared so they stay readable after the backend moves into a trainer.

use std::sync::{Arc, Mutex};

/// Work counters since the backend was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpuStats {
    /// Compute dispatches recorded.
    pub dispatches: u64,
    /// Command buffers submitted: one per readback, carrying everything recorded before it.
    pub submissions: u64,
    /// Readbacks (downloads and sums of squares), each a wait for the GPU.
    pub readbacks: u64,
    /// Bytes copied from the GPU to the host.
    pub bytes_read_back: u64,
    /// Bytes copied from the host to the GPU (uploads, tokens, dropout masks; not kernel uniforms).
    pub bytes_uploaded: u64,
}

/// A shared view of a backend's counters, readable after the backend has moved into a trainer.
#[derive(Clone, Debug, Default)]
pub struct GpuStatsHandle(Arc<Mutex<GpuStats>>);

impl GpuStatsHandle {
    /// The counters now.
    pub fn get(&self) -> GpuStats {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut GpuStats)) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()));
    }
}
