//! Memory Issues: training does not fit.

use super::{Cause, CauseId, EntryId, GuideEntry, Section, SectionId, Snippet};

pub(super) const SECTION: Section = Section { id: SectionId::MemoryIssues, title: "Memory Issues" };

pub(super) const OUT_OF_MEMORY_OOM: GuideEntry = GuideEntry {
    id: EntryId::OutOfMemoryOom,
    title: "Out of memory (OOM)",
    section: SECTION.id,
    summary: "An allocation fails: there is not enough GPU or system memory for the weights, their \
              gradients, the optimiser's state and the activations of a batch.",
    symptoms: &[
        "Training stops with an out-of-memory error from the GPU driver or from the system \
         allocator.",
        "In the browser, a WebGPU buffer cannot be created or the tab is killed.",
    ],
    causes: &[
        Cause {
            id: CauseId::BatchTooLarge,
            text: "The batch is too large: activation memory grows in proportion to it.",
        },
        Cause {
            id: CauseId::SequencesTooLong,
            text: "The sequences are too long: activations grow with their length, and attention scores with \
                  its square.",
        },
        Cause { id: CauseId::ModelTooLarge, text: "The model itself is too large for the memory available." },
        Cause {
            id: CauseId::TensorsKeptAlive,
            text: "Tensors are kept alive by accident, for example every step's loss stored together with \
                  the activations it was computed from instead of as a plain number.",
        },
    ],
    diagnosis: &[
        Snippet::with_code(
            "Estimate what training needs. In f32 every parameter costs four bytes four times \
             over: the weight, its gradient and AdamW's two moment estimates. Activations come on \
             top.",
            r#"let params: usize = model.parameters().map(|p| p.len()).sum();
let gb = params as f64 * 4.0 * 4.0 / 1e9; // weight + gradient + two Adam moments, 4 bytes each
println!("estimated training memory: {gb:.2} GB plus activations");"#,
        ),
        Snippet::with_code(
            "Estimate the attention scores too, which grow with the square of the context and are \
             often what tips a long-sequence run over the edge.",
            r#"let score_bytes = batch * n_layers * n_heads * context * context * 4;
println!("attention scores: {:.2} GB", score_bytes as f64 / 1e9);"#,
        ),
    ],
    fixes: &[
        Snippet::plain("Use a smaller batch."),
        Snippet::with_code(
            "Accumulate gradients over several small batches before each optimiser step; the \
             update then behaves like one from a batch that many times larger.",
            r#"grads.zero();
for _ in 0..accum_steps {
    let (x, y) = data.next_batch(micro_batch);
    model.forward_backward(&x, &y, &mut grads);
}
for (_, g) in grads.iter_mut() {
    *g /= accum_steps as f32;
}
optimizer.step(&mut params, &grads);"#,
        ),
        Snippet::plain("Train on shorter sequences."),
        Snippet::plain(
            "Use gradient checkpointing: keep only some activations during the forward pass and \
             recompute the others during backward, trading compute for memory.",
        ),
        Snippet::plain(
            "Use mixed precision: keep activations (and optionally weights) in 16-bit floats such \
             as fp16, halving their memory.",
        ),
        Snippet::plain(
            "When fine-tuning, use a parameter-efficient method such as LoRA instead of updating \
             every weight, so gradients and optimiser state exist only for small adapter matrices.",
        ),
    ],
    related: &[EntryId::TrainingIsVerySlow, EntryId::ValidationLossIncreasingWhileTrainingLossDecreases],
};
