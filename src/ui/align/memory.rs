//! Where a fine-tuning run's memory goes, in numbers and MiB (f32, 4 bytes each): what LoRA shrinks
//! (trainable numbers, optimizer state) and what it does not (the weights, their gradients).

use crate::align_view::{count, AlignView};
use faultline_engine::align::FineTuneMemory;
use leptos::prelude::*;

fn mib(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / 1_048_576.0)
}

/// Each part: its name, its `data-part`, its numbers and what it is.
fn parts(m: &FineTuneMemory) -> [(&'static str, &'static str, usize, &'static str); 5] {
    [
        ("Weights", "weights", m.weights, "the model's parameters"),
        ("Trainable", "trainable", m.trainable, "the numbers the optimiser updates: every weight, or the adapters'"),
        (
            "Gradients",
            "gradients",
            m.gradients,
            "held during a step: every weight's (the backward pass computes them all), plus the adapters' under LoRA",
        ),
        ("Optimizer state", "optimizer", m.optimizer_state, "AdamW's two moments for each trainable number"),
        (
            "Frozen copy (LoRA)",
            "frozen",
            m.frozen_copy,
            "the adapted matrices as pretrained, kept to merge the adapters into",
        ),
    ]
}

#[component]
pub fn MemoryTable(view: RwSignal<AlignView>) -> impl IntoView {
    let memory = Memo::new(move |_| view.with(|v| v.info.as_ref().map(|i| (i.memory, i.lora_rank))));
    move || {
        memory.get().map(|(m, rank)| {
            let rows = parts(&m)
                .into_iter()
                .map(|(name, part, numbers, what)| {
                    view! {
                        <tr data-part=part>
                            <th scope="row">{name}<span class="hint">{what}</span></th>
                            <td>{count(numbers)}</td>
                            <td>{mib(numbers as u64 * 4)}</td>
                        </tr>
                    }
                })
                .collect_view();
            let lora = if rank == 0 {
                "LoRA rank 0: every weight trains, so the optimiser keeps two moments for each of them.".to_string()
            } else {
                format!(
                    "LoRA rank {rank}: {} of the {} weights train ({:.1}%); the gradients of every weight are still \
                     computed, and the frozen copy is the price of merging.",
                    count(m.trainable),
                    count(m.weights),
                    m.trainable as f64 / m.weights.max(1) as f64 * 100.0
                )
            };
            view! {
                <section id="dpo-memory" class="panel" aria-labelledby="dpo-memory-title">
                    <h2 id="dpo-memory-title" class="section-title">"Where the memory goes"</h2>
                    <div class="table-scroll">
                        <table class="memory-table">
                            <thead>
                                <tr><th scope="col">"Part"</th><th scope="col">"Numbers"</th><th scope="col">"MiB"</th></tr>
                            </thead>
                            <tbody>{rows}</tbody>
                        </table>
                    </div>
                    <p class="note">{lora}</p>
                    <p class="note">
                        {format!(
                            "Everything the run allocated (these, the activations and the buffers): {} MiB.",
                            mib(m.total_bytes)
                        )}
                    </p>
                </section>
            }
        })
    }
}
