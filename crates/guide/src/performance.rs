//! Performance Issues: where the time goes.

use super::{Cause, CauseId, EntryId, GuideEntry, Section, SectionId, Snippet};

pub(super) const SECTION: Section = Section { id: SectionId::PerformanceIssues, title: "Performance Issues" };

pub(super) const TRAINING_IS_VERY_SLOW: GuideEntry = GuideEntry {
    id: EntryId::TrainingIsVerySlow,
    title: "Training is very slow",
    section: SECTION.id,
    summary: "Each step takes far longer than the hardware should need, and the time usually goes \
              somewhere other than the model's arithmetic.",
    symptoms: &[
        "Few steps, and few tokens, per second compared with what the machine can do.",
        "The accelerator sits mostly idle while training runs.",
    ],
    causes: &[
        Cause { id: CauseId::GpuUnused, text: "The GPU is not used even though one is available." },
        Cause {
            id: CauseId::DataBottleneck,
            text: "Loading and preparing data is the bottleneck, so the model waits for each batch.",
        },
        Cause { id: CauseId::LoggingTooOften, text: "Logging, evaluation or checkpointing happens too often." },
        Cause {
            id: CauseId::InefficientOps,
            text: "The operations are inefficient: many small kernels or element-by-element loops where one \
                  large matrix operation would do.",
        },
    ],
    diagnosis: &[Snippet::with_code(
        "Time each phase of a step separately: fetching the batch, the forward pass and the \
         backward pass. The largest share is where to look first.",
        r#"use std::time::Instant;

let t0 = Instant::now();
let batch = loader.next_batch();
let t1 = Instant::now();
let (logits, cache) = model.forward(&batch.x);
let t2 = Instant::now();
model.backward(&cache, &logits, &batch.y, &mut grads);
let t3 = Instant::now();
println!("data {:?}, forward {:?}, backward {:?}", t1 - t0, t2 - t1, t3 - t2);"#,
    )],
    fixes: &[
        Snippet::plain(
            "Train on the GPU when there is one (in Faultline: the WebGPU backend, where the \
             browser offers it).",
        ),
        Snippet::plain("Prepare batches in parallel, with more data-loading workers."),
        Snippet::plain("Prefetch: build the next batch while the current step is running."),
        Snippet::plain("Log, evaluate and save checkpoints less often."),
        Snippet::plain(
            "Use compiled or fused operations (one kernel for a matrix multiply, its bias and \
             GELU, say) so the data makes fewer trips through memory.",
        ),
    ],
    related: &[EntryId::OutOfMemoryOom],
};
