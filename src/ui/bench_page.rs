//! The bench page: runs one training benchmark in the worker, with no interaction, and writes its
//! one-line JSON result into `<pre id="bench-result" data-done="1">`.

use crate::bench::{self, BenchRequest, RESULT_ID};
use crate::client::WorkerClient;
use crate::protocol::{FromWorker, ToWorker};
use leptos::prelude::*;

#[component]
pub fn BenchPage(query: Vec<(String, String)>) -> impl IntoView {
    let result = RwSignal::new(None::<String>);
    let request = bench::parse(&query);
    let client = match &request {
        Err(message) => {
            result.set(Some(bench::error_json(message)));
            None
        }
        &Ok(BenchRequest { preset, steps, seed }) => {
            let client = WorkerClient::spawn(move |msg| match msg {
                FromWorker::BenchDone(r) => {
                    let json = serde_json::to_string(&r).unwrap_or_else(|e| bench::error_json(&e.to_string()));
                    result.set(Some(json));
                }
                FromWorker::Fatal { message } => result.set(Some(bench::error_json(&message))),
                FromWorker::Ready
                | FromWorker::Run { .. }
                | FromWorker::Estimate { .. }
                | FromWorker::LrRange { .. }
                | FromWorker::Checkpoint { .. }
                | FromWorker::CheckpointLoaded { .. } => {}
            });
            client.post(ToWorker::Bench { config: preset, steps, seed });
            Some(client)
        }
    };
    // The page's owner keeps the worker alive for as long as the page is shown.
    StoredValue::new_local(client);
    let described = match request {
        Ok(r) => {
            format!("{} steps of the {} configuration on the CPU backend, seed {}", r.steps, r.preset.id(), r.seed)
        }
        Err(_) => "bad parameters".to_string(),
    };
    view! {
        <main class="bench">
            <h1>"Faultline bench"</h1>
            <p>{described}</p>
            <pre
                id=RESULT_ID
                data-done=move || result.with(|r| r.as_ref().map(|_| "1"))
            >
                {move || result.get().unwrap_or_else(|| "running…".to_string())}
            </pre>
        </main>
    }
}
