//! Opening the GPU: the adapter and device, the limits the kernels need, the callbacks that record
//! a lost device, and what the backend tells about its adapter.

use crate::clip::Clipping;
use crate::encoder::Recorder;
use crate::kernels::{PipelineCache, WORKGROUP, WORKGROUP_STORAGE_NEEDED};
use crate::stats::{GpuStats, GpuStatsHandle};
use crate::{wait, GpuBackend};
use std::fmt;
use std::sync::{Arc, Mutex};

/// Why no GPU backend could be created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GpuInitError {
    /// No adapter (no WebGPU in this browser, no Vulkan driver natively).
    NoAdapter(String),
    /// The adapter exists but refused a device.
    NoDevice(String),
    /// The adapter's limits are below what the kernels need.
    Limits(String),
}

impl fmt::Display for GpuInitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpuInitError::NoAdapter(m) => write!(f, "no GPU adapter: {m}"),
            GpuInitError::NoDevice(m) => write!(f, "the GPU adapter gave no device: {m}"),
            GpuInitError::Limits(m) => write!(f, "the GPU's limits are too small: {m}"),
        }
    }
}

impl std::error::Error for GpuInitError {}

/// wgpu's "no adapter" message, less its clauses about backends this build never asked for: it
/// names every backend wgpu knows ("No suitable graphics adapter found; vulkan support not compiled
/// in, metal not requested, …"), while the learner needs only what happened to the ones it tried
/// ("webgpu found no adapters"). With none tried, its first sentence.
fn adapter_error_summary(message: &str) -> String {
    let irrelevant = ["support not compiled in", "not requested", "not explicitly enabled"];
    let Some((head, clauses)) = message.split_once("; ") else { return message.to_string() };
    let kept: Vec<&str> =
        clauses.split(", ").filter(|clause| !irrelevant.iter().any(|end| clause.ends_with(end))).collect();
    if kept.is_empty() {
        head.to_string()
    } else {
        kept.join(", ")
    }
}

impl GpuBackend {
    /// Finds an adapter and opens a device on it, waiting as [`wait::block_on`] does. In the browser
    /// that works only inside a suspendable worker turn ([`wait::can_wait`]); elsewhere it says so.
    pub fn new() -> Result<Self, GpuInitError> {
        if !wait::can_wait() {
            return Err(GpuInitError::NoAdapter(
                "this browser cannot wait for WebGPU inside the worker (it lacks JavaScript Promise Integration)"
                    .into(),
            ));
        }
        wait::block_on(Self::new_async())
    }

    /// Finds an adapter and opens a device on it, with the adapter's own limits.
    pub async fn new_async() -> Result<Self, GpuInitError> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuInitError::NoAdapter(adapter_error_summary(&e.to_string())))?;
        let limits = adapter.limits();
        if limits.max_compute_workgroup_storage_size < WORKGROUP_STORAGE_NEEDED
            || limits.max_compute_invocations_per_workgroup < WORKGROUP as u32
        {
            return Err(GpuInitError::Limits(format!(
                "{} bytes of workgroup memory and {} invocations per workgroup; the kernels need {} and {}",
                limits.max_compute_workgroup_storage_size,
                limits.max_compute_invocations_per_workgroup,
                WORKGROUP_STORAGE_NEEDED,
                WORKGROUP
            )));
        }
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("faultline"),
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuInitError::NoDevice(e.to_string()))?;
        let failure = Arc::new(Mutex::new(None::<String>));
        let slot = Arc::clone(&failure);
        device.on_uncaptured_error(Arc::new(move |e| {
            slot.lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert_with(|| format!("the GPU reported an error: {e}"));
        }));
        let slot = Arc::clone(&failure);
        device.set_device_lost_callback(move |reason, message| {
            let why = format!("the GPU device was lost ({reason:?}: {message})");
            slot.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(why);
        });
        let rec = Recorder::new(device, queue, PipelineCache::default(), failure);
        Ok(Self::on_device(rec, adapter.get_info(), limits))
    }

    /// A backend recording with `rec`, with nothing allocated yet: no budget and a fresh clip status.
    fn on_device(rec: Recorder, adapter: wgpu::AdapterInfo, limits: wgpu::Limits) -> Self {
        Self {
            clip: Clipping::new(&rec.device),
            rec,
            adapter,
            limits,
            scratch: None,
            kept: Vec::new(),
            budget: u64::MAX,
            used: 0,
        }
    }

    /// A second backend on the same device: its own buffers, budget and counters, the pipelines
    /// compiled so far shared. Auto's calibration trains on one while the run keeps the other, so
    /// choosing a backend opens one device, not one per trial.
    pub fn sibling(&self) -> Self {
        Self::on_device(self.rec.sibling(), self.adapter.clone(), self.limits.clone())
    }

    /// Takes over the pipelines `other` (a sibling) compiled, so this backend's first step does not
    /// compile them again.
    pub fn adopt_pipelines(&mut self, other: &GpuBackend) {
        if other.rec.pipelines.len() > self.rec.pipelines.len() {
            self.rec.pipelines = other.rec.pipelines.clone();
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> GpuStats {
        self.rec.stats.get()
    }

    /// A handle on the counters that stays valid when the backend moves into a `Trainer`.
    pub fn stats_handle(&self) -> GpuStatsHandle {
        self.rec.stats.clone()
    }

    /// Whether the adapter is a software renderer running on the CPU (SwiftShader, lavapipe): it
    /// computes on the same cores as the CPU backend, without its SIMD kernels.
    pub fn is_software(&self) -> bool {
        self.adapter.device_type == wgpu::DeviceType::Cpu
    }

    /// The adapter's name, device type and driver backend (a browser names only some adapters).
    pub fn adapter_description(&self) -> String {
        let name = self.adapter.name.trim();
        let name = if name.is_empty() { "an unnamed adapter" } else { name };
        match (self.adapter.backend, self.adapter.device_type) {
            (wgpu::Backend::BrowserWebGpu, wgpu::DeviceType::Cpu) => format!("{name} (the browser's software GPU)"),
            (wgpu::Backend::BrowserWebGpu, _) => format!("{name} (the browser's WebGPU)"),
            (backend, kind) => format!("{name} ({kind:?}, {backend:?})"),
        }
    }

    /// Compute pipelines compiled so far (each kernel once).
    pub fn pipelines_compiled(&self) -> usize {
        self.rec.pipelines.len()
    }

    /// The device, for what a driver reset or the browser reclaiming the GPU does to it
    /// (`destroy`: the tests lose the device this way).
    pub fn device(&self) -> &wgpu::Device {
        &self.rec.device
    }

    /// The largest buffer, in bytes, a kernel can bind.
    pub fn max_buffer_bytes(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size.min(self.limits.max_buffer_size)
    }
}

#[cfg(test)]
mod tests {
    use super::adapter_error_summary;

    #[test]
    fn an_adapter_error_keeps_only_the_backends_that_were_tried() {
        let browser = "No suitable graphics adapter found; noop not explicitly enabled, vulkan support not compiled \
                       in, metal support not compiled in, dx12 support not compiled in, gl support not compiled in, \
                       webgpu found no adapters";
        assert_eq!(adapter_error_summary(browser), "webgpu found no adapters");
        let nothing_tried = "No suitable graphics adapter found; noop not requested, vulkan not requested";
        assert_eq!(adapter_error_summary(nothing_tried), "No suitable graphics adapter found");
        assert_eq!(adapter_error_summary("WGPU_ADAPTER_NAME not set"), "WGPU_ADAPTER_NAME not set");
    }
}
