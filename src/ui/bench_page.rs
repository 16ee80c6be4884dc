//! The bench page: runs one training benchmark in the worker, with no interaction, shows it as tables
//! (on the CPU: training speed against the reference kernels measured in the same run, the matrix
//! products and the other kernels; on WebGPU: training speed and the GPU's work per step) and writes
//! its one-line JSON result into `<pre id="bench-result" data-done="1">` for `cargo xtask bench`.

use crate::bench::{self, BenchRequest, RESULT_ID};
use crate::client::{one_thread_asked, WorkerClient, THREADS_PARAM};
use crate::protocol::{FromWorker, ToWorker};
use faultline_engine::bench::BenchResult;
use faultline_gpu::bench::{GpuBench, DISPATCH_PROBE};
use leptos::prelude::*;

#[component]
pub fn BenchPage(query: Vec<(String, String)>) -> impl IntoView {
    let result = RwSignal::new(None::<String>);
    let measured = RwSignal::new(None::<BenchResult>);
    let measured_gpu = RwSignal::new(None::<GpuBench>);
    let request = bench::parse(&query);
    let client = match &request {
        Err(message) => {
            result.set(Some(bench::error_json(message)));
            None
        }
        &Ok(BenchRequest { preset, webgpu, steps, seed }) => {
            let client = WorkerClient::spawn(one_thread_asked(&query), move |msg| match msg {
                FromWorker::BenchDone(r) => {
                    let json = serde_json::to_string(&r).unwrap_or_else(|e| bench::error_json(&e.to_string()));
                    result.set(Some(json));
                    measured.set(Some(r));
                }
                FromWorker::GpuBenchDone(r) => {
                    let json = serde_json::to_string(&r).unwrap_or_else(|e| bench::error_json(&e.to_string()));
                    result.set(Some(json));
                    measured_gpu.set(Some(*r));
                }
                FromWorker::Fatal { message } => result.set(Some(bench::error_json(&message))),
                FromWorker::Ready { .. }
                | FromWorker::Run { .. }
                | FromWorker::Estimate { .. }
                | FromWorker::LrRange { .. }
                | FromWorker::Checkpoint { .. }
                | FromWorker::CheckpointLoaded { .. }
                | FromWorker::Log { .. }
                | FromWorker::Align { .. } => {}
            });
            client.post(if webgpu {
                ToWorker::GpuBench { config: preset, steps, seed }
            } else {
                ToWorker::Bench { config: preset, steps, seed }
            });
            Some(client)
        }
    };
    // The page's owner keeps the worker alive for as long as the page is shown.
    StoredValue::new_local(client);
    let other_threads = move || measured.with(|r| r.as_ref().and_then(|r| threads_link(&query, r.threads)));
    let described = match request {
        Ok(r) => format!(
            "{} steps of the {} configuration on the {} backend, seed {}",
            r.steps,
            r.preset.id(),
            if r.webgpu { "WebGPU" } else { "CPU" },
            r.seed
        ),
        Err(_) => "bad parameters".to_string(),
    };
    view! {
        <main class="bench">
            <h1>"Faultline bench"</h1>
            <p>{described}</p>
            {move || other_threads().map(|(href, text)| view! {
                <p class="note" id="bench-threads-link">
                    <a href=href>{text}</a>
                    ": the two results side by side show what the threads give on this machine."
                </p>
            })}
            {move || measured.get().map(|r| view! { <BenchTables result=r /> })}
            {move || measured_gpu.get().map(|r| view! { <GpuBenchTable bench=r /> })}
            <pre
                id=RESULT_ID
                data-done=move || result.with(|r| r.as_ref().map(|_| "1"))
            >
                {move || result.get().unwrap_or_else(|| "running…".to_string())}
            </pre>
        </main>
    }
}

/// A link to the same bench on one thread (after a threaded run), or back on every core (after
/// `threads=1`); none when the page could only run one thread anyway.
fn threads_link(query: &[(String, String)], threads: usize) -> Option<(String, &'static str)> {
    let one_thread = one_thread_asked(query);
    let text = match (threads > 1, one_thread) {
        (true, _) => "The same benchmark on one thread",
        (false, true) => "The same benchmark on every core",
        (false, false) => return None,
    };
    let params = web_sys::UrlSearchParams::new().ok()?;
    for (k, v) in query.iter().filter(|(k, _)| k != THREADS_PARAM) {
        params.append(k, v);
    }
    if threads > 1 {
        params.append(THREADS_PARAM, "1");
    }
    Some((format!("?{}", String::from(params.to_string())), text))
}

/// The result as a reader wants it: ratios first, each against a figure from the same run.
#[component]
fn BenchTables(result: BenchResult) -> impl IntoView {
    if let Some(error) = &result.error {
        return view! { <p class="field-error" role="alert">{format!("The benchmark could not run: {error}")}</p> }
            .into_any();
    }
    let speedup = result.reference_steps_per_s.filter(|r| *r > 0.0).map(|r| result.steps_per_s / r);
    let kernels = result.kernels.clone();
    let ceiling = kernels.as_ref().map(|k| k.simd_ceiling_gflops);
    let above_ceiling = kernels.as_ref().is_some_and(|k| k.matmul.iter().any(|m| m.gflops > k.simd_ceiling_gflops));
    let matmul = kernels
        .as_ref()
        .map(|k| {
            k.matmul
                .iter()
                .map(|m| {
                    let share = ceiling.filter(|c| *c > 0.0).map(|c| format!("{:.0}%", 100.0 * m.gflops / c));
                    view! {
                        <tr>
                            <th scope="row">{m.name.clone()}</th>
                            <td class="num">{format!("{}×{}×{}", m.m, m.k, m.n)}</td>
                            <td class="num">{format!("{:.1}", m.gflops)}</td>
                            <td class="num">{share.unwrap_or_default()}</td>
                        </tr>
                    }
                })
                .collect_view()
        })
        .unwrap_or_default();
    let rows = kernels
        .as_ref()
        .map(|k| {
            k.rows
                .iter()
                .map(|r| {
                    view! {
                        <tr>
                            <th scope="row">{r.name.clone()}</th>
                            <td class="num">{format!("{:.3}", r.reference_ms)}</td>
                            <td class="num">{format!("{:.3}", r.fast_ms)}</td>
                            <td class="num">{format!("{:.2}×", r.speedup)}</td>
                        </tr>
                    }
                })
                .collect_view()
        })
        .unwrap_or_default();
    view! {
        <table id="bench-training" class="bench-table">
            <caption>
                {format!(
                    "Training, {} ({}, {} thread{})",
                    result.config,
                    result.backend_name,
                    result.threads,
                    if result.threads == 1 { "" } else { "s" },
                )}
            </caption>
            <tbody>
                <tr><th scope="row">"steps/s, fast kernels"</th><td class="num">{format!("{:.2}", result.steps_per_s)}</td></tr>
                <tr>
                    <th scope="row">"steps/s, reference kernels"</th>
                    <td class="num">{result.reference_steps_per_s.map(|r| format!("{r:.2}")).unwrap_or_default()}</td>
                </tr>
                <tr><th scope="row">"speed-up"</th><td class="num">{speedup.map(|s| format!("{s:.2}×")).unwrap_or_default()}</td></tr>
                <tr><th scope="row">"tokens/s"</th><td class="num">{format!("{:.0}", result.tokens_per_s)}</td></tr>
            </tbody>
        </table>
        <table id="bench-matmul" class="bench-table">
            <caption>
                {format!(
                    "Matrix products, GFLOP/s (share of this page's multiply-add loop, {:.1} GFLOP/s)",
                    ceiling.unwrap_or(0.0)
                )}
            </caption>
            <thead>
                <tr><th scope="col">"product"</th><th scope="col" class="num">"m×k×n"</th><th scope="col" class="num">"GFLOP/s"</th><th scope="col" class="num">"share"</th></tr>
            </thead>
            <tbody>{matmul}</tbody>
        </table>
        {above_ceiling.then(|| view! {
            <p class="note">
                "A share above 100% means the multiply-add loop ran slower than a real product here, so it is no ceiling on this run."
            </p>
        })}
        <table id="bench-kernels" class="bench-table">
            <caption>"Other kernels of a step, ms per call"</caption>
            <thead>
                <tr><th scope="col">"kernel"</th><th scope="col" class="num">"reference"</th><th scope="col" class="num">"fast"</th><th scope="col" class="num">"speed-up"</th></tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

/// The WebGPU benchmark: training speed, and what each step sends to the GPU and reads back.
#[component]
fn GpuBenchTable(bench: GpuBench) -> impl IntoView {
    let result = &bench.result;
    if let Some(error) = &result.error {
        return view! { <p class="field-error" role="alert">{format!("The WebGPU benchmark could not run: {error}")}</p> }
            .into_any();
    }
    let rows = [
        ("steps/s", format!("{:.2}", result.steps_per_s)),
        ("tokens/s", format!("{:.0}", result.tokens_per_s)),
        ("first step (compiles the kernels), ms", format!("{:.0}", bench.first_step_ms)),
        ("dispatches per step", format!("{:.0}", bench.dispatches_per_step)),
        ("submissions per step", format!("{:.2}", bench.submissions_per_step)),
        ("readbacks per step", format!("{:.2}", bench.readbacks_per_step)),
        ("bytes read back per step", format!("{:.0}", bench.bytes_read_back_per_step)),
        ("bytes uploaded per step", format!("{:.0}", bench.bytes_uploaded_per_step)),
        ("steps recorded per readback", bench.steps_per_readback.to_string()),
        (
            "steps no evaluation follows: submissions, bytes read back, per step",
            format!(
                "{:.3}, {:.0} ({} steps)",
                bench.submissions_per_plain_step, bench.bytes_read_back_per_plain_step, bench.plain_steps
            ),
        ),
        (
            "one dispatch, µs: recorded; recorded and run",
            format!(
                "{:.1}; {:.1} (over {DISPATCH_PROBE} adds of 256 floats)",
                bench.record_us_per_dispatch, bench.run_us_per_dispatch
            ),
        ),
    ];
    view! {
        <table id="bench-webgpu" class="bench-table">
            <caption>{format!("Training on WebGPU, {} ({})", result.config, result.backend_name)}</caption>
            <tbody>
                {rows
                    .into_iter()
                    .map(|(name, value)| view! { <tr><th scope="row">{name}</th><td class="num">{value}</td></tr> })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
