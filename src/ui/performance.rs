//! The Performance panel: the backend, how many threads train, the recent steps per second and the
//! time per phase, all from the run's own step records; and the way to the benchmark page.

use super::compute::ComputeSetting;
use crate::performance::{measure, WINDOW};
use crate::protocol::Compute;
use crate::run_view::RunView;
use faultline_engine::backend::BackendKind;
use faultline_engine::trainer::GPU_STEPS_PER_READBACK;
use leptos::prelude::*;

/// Whether the page may share memory with threads (the server sent COOP/COEP), and the cores the
/// browser reports.
fn threading() -> (bool, Option<u32>) {
    let Some(window) = web_sys::window() else { return (false, None) };
    let isolated = js_sys::Reflect::get(&window, &"crossOriginIsolated".into()).ok().and_then(|v| v.as_bool());
    let cores = window.navigator().hardware_concurrency();
    (isolated.unwrap_or(false), (cores >= 1.0).then_some(cores as u32))
}

/// Why the worker trains on one thread, for the Performance panel.
fn why_one_thread(isolated: bool, cores: Option<u32>, one_thread: bool) -> String {
    let of_cores = cores.map(|c| format!(" of the {c} this browser reports")).unwrap_or_default();
    let why = if !isolated {
        "The page is not cross-origin isolated, which threads would need."
    } else if one_thread {
        "The link asks for one thread (threads=1)."
    } else if cores.is_some_and(|c| c < 2) {
        "The browser reports one core."
    } else {
        "The page is cross-origin isolated, but the threaded build did not start: the browser's console says why."
    };
    format!("1: training runs in one Web Worker on one core{of_cores}. {why}")
}

#[component]
pub fn PerformancePanel(
    view: RwSignal<RunView>,
    compute: RwSignal<Compute>,
    /// The worker's thread count from its `Ready`, before any run reports its own.
    worker_threads: RwSignal<Option<usize>>,
    /// The link asked for one thread.
    one_thread: bool,
) -> impl IntoView {
    let perf = Memo::new(move |_| view.with(|v| measure(&v.steps, v.info.as_ref().map(|i| i.param_count))));
    let backend = move || view.with(|v| v.info.as_ref().map(|i| i.backend.clone()));
    let on_gpu = move || view.with(|v| v.info.as_ref().is_some_and(|i| i.backend_kind == BackendKind::Gpu));
    let reason = move || view.with(|v| v.info.as_ref().map(|i| i.backend_reason.clone()));
    let (isolated, cores) = threading();
    let single = why_one_thread(isolated, cores, one_thread);
    // The run's own count once it has started; before that, the worker's.
    let run_threads = move || view.with(|v| v.info.as_ref().map(|i| i.threads)).or_else(|| worker_threads.get());
    let threads = move || match run_threads() {
        _ if on_gpu() => {
            "the GPU computes the step; one Web Worker records its commands and waits for its readback.".to_string()
        }
        None => "counted once the training worker has loaded".to_string(),
        Some(1) => single.clone(),
        Some(n) => format!(
            "{n}: the page is cross-origin isolated, so the worker runs its threaded build; large matrix products, \
             attention and GELU split across {n} threads sharing its memory, LayerNorm, cross-entropy and AdamW \
             stay on one."
        ),
    };
    let summary = move || {
        perf.get().map(|p| {
            let gflops =
                p.gflops.map(|g| format!(", about {g:.2} GFLOP/s (6 × parameters × tokens)")).unwrap_or_default();
            format!(
                "{:.1} steps/s ({:.1} ms a step, {:.0} tokens/s of step time{gflops}), mean of the last {} steps.",
                p.steps_per_s, p.ms_per_step, p.tokens_per_s, p.steps
            )
        })
    };
    let phases = move || {
        perf.get().map(|p| {
            let slowest = p.slowest().map(|s| s.name);
            p.phases
                .into_iter()
                .map(|phase| {
                    let width = format!("{:.1}%", phase.share * 100.0);
                    view! {
                        <tr data-phase=phase.name class:slowest=slowest == Some(phase.name)>
                            <th scope="row">{phase.name}</th>
                            <td class="num">{format!("{:.2} ms", phase.ms)}</td>
                            <td class="num">{format!("{:.0}%", phase.share * 100.0)}</td>
                            <td class="bar-cell" aria-hidden="true"><span class="bar" style:width=width></span></td>
                        </tr>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <section id="performance" class="performance" aria-labelledby="performance-title">
            <h2 id="performance-title" class="section-title">"Performance"</h2>
            <ComputeSetting compute />
            <dl class="perf-facts">
                <dt>"Backend"</dt>
                <dd id="perf-backend">{move || backend().unwrap_or_else(|| "starts with the run".into())}</dd>
                <dt>"Why"</dt>
                <dd id="perf-backend-reason">{move || reason().unwrap_or_else(|| "decided when the run starts".into())}</dd>
                <dt>"Threads"</dt>
                <dd id="perf-threads">{threads}</dd>
                <dt>"Speed"</dt>
                <dd id="perf-speed">
                    {move || summary().unwrap_or_else(|| format!("measured over the last {WINDOW} steps once the run trains"))}
                </dd>
            </dl>
            <Show when=move || perf.with(Option::is_some)>
                <table id="perf-phases" class="perf-phases">
                    <caption>"Where a step's time goes"</caption>
                    <thead>
                        <tr>
                            <th scope="col">"phase"</th>
                            <th scope="col" class="num">"mean"</th>
                            <th scope="col" class="num">"share"</th>
                            <th scope="col"><span class="visually-hidden">"bar"</span></th>
                        </tr>
                    </thead>
                    <tbody>{phases}</tbody>
                </table>
            </Show>
            <Show when=on_gpu>
                <p id="perf-gpu-note" class="hint">
                    {format!(
                        "On WebGPU the forward and backward passes only record the GPU's commands. Up to {GPU_STEPS_PER_READBACK} \
                         steps are recorded before one readback of their losses; the wait for it counts under optimizer, \
                         in the last of them."
                    )}
                </p>
            </Show>
            <p class="hint">
                "The forward and backward passes should take most of a step; a large data or telemetry share means the model waits. "
                <a href="?bench=tiny">"Run the benchmark"</a>
                " to compare the kernels on this machine."
            </p>
        </section>
    }
}
