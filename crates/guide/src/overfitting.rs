//! Overfitting: the model memorises instead of generalising.

use super::{Cause, CauseId, EntryId, GuideEntry, Section, SectionId, Snippet};

pub(super) const SECTION: Section = Section { id: SectionId::Overfitting, title: "Overfitting" };

pub(super) const VALIDATION_LOSS_INCREASING: GuideEntry = GuideEntry {
    id: EntryId::ValidationLossIncreasingWhileTrainingLossDecreases,
    title: "Validation loss increasing while training loss decreases",
    section: SECTION.id,
    summary: "The model is memorising its training set: training loss keeps falling, but \
              validation loss turns around and climbs.",
    symptoms: &[
        "Training loss keeps going down while validation loss, after an initial fall, goes up.",
        "The model does well on the text it was trained on and badly on text it has not seen.",
    ],
    causes: &[
        Cause {
            id: CauseId::TooMuchCapacity,
            text: "The model has more capacity than the data needs, so it can memorise individual examples.",
        },
        Cause { id: CauseId::TooLittleData, text: "There is too little training data, or too little variety in it." },
        Cause { id: CauseId::NoRegularization, text: "Nothing regularises the model: no dropout, no weight decay." },
        Cause {
            id: CauseId::TrainedTooLong,
            text: "Training continues long past the point of lowest validation loss.",
        },
    ],
    diagnosis: &[
        Snippet::with_code(
            "Track both losses at every evaluation, the validation loss on held-out text the model \
             never trains on. A gap of more than roughly 0.3 to 0.5 nats usually means \
             overfitting.",
            r#"println!("step {step}: train {train_loss:.4}, val {val_loss:.4}");
let gap = val_loss - train_loss;
if gap > 0.3 {
    println!("gap {gap:.2}: probably overfitting");
}"#,
        ),
        Snippet::plain(
            "Note the step with the lowest validation loss: what the model learns after it is \
             memorisation.",
        ),
    ],
    fixes: &[
        Snippet::plain("Train on more data."),
        Snippet::plain(
            "Augment the data so the model sees more variety, for example random crops of the \
             corpus or independent sentences in a new order.",
        ),
        Snippet::with_code(
            "Add dropout, with a probability between 0.1 and 0.3, during training only.",
            r#"let mask = Array::from_shape_fn(x.raw_dim(), |_| {
    if rng.uniform() < p { 0.0 } else { 1.0 / (1.0 - p) }
});
let y = &x * &mask;"#,
        ),
        Snippet::with_code(
            "Add weight decay, between 0.01 and 0.1 (decoupled, as in AdamW).",
            "w.mapv_inplace(|v| v * (1.0 - lr * weight_decay));",
        ),
        Snippet::with_code(
            "Stop early: keep the weights from the evaluation with the lowest validation loss, and \
             stop once it has not improved for a while.",
            r#"if val_loss < best_val {
    best_val = val_loss;
    best_step = step;
    best_params = params.clone();
} else if step - best_step > patience {
    break;
}"#,
        ),
        Snippet::plain("Make the model smaller: fewer layers or a narrower `d_model`."),
        Snippet::plain(
            "When fine-tuning, train a small set of adapter weights (a parameter-efficient method \
             such as LoRA) instead of the whole model.",
        ),
    ],
    related: &[EntryId::LossStopsDecreasing, EntryId::OutOfMemoryOom],
};
