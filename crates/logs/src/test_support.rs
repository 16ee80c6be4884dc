//! What the readers' tests share: each reader's fixtures, damaged copies of a fixture, a series as plain
//! pairs, and TensorBoard events as PyTorch and TF2 write them (on [`crate::write`]'s encoder).

use crate::tb_events::{DT_DOUBLE, DT_FLOAT};
use crate::write::{self, EventWriter};
pub(crate) use crate::write::{record, Message};
use crate::Format;
use faultline_telemetry::log::{LoggedRun, Signal};
use proptest::prelude::*;
use proptest::sample::Index;
use std::sync::LazyLock;

/// JSONL: steps under `step` and `iter`, a blank line, a CRLF, Python's bare `NaN` and `Infinity`.
pub(crate) const JSONL: &str = "\
{\"step\": 1, \"loss\": 4.5, \"lr\": 0.001, \"grad_norm\": 2.0, \"grad_norm/h.0.attn\": 0.5, \"time_ms\": 120}

{\"step\": 2, \"train_loss\": NaN, \"lr\": 0.001, \"grad_norm\": Infinity, \"note\": \"warmup\"}\r
{\"iter\": 3, \"loss\": \"-Infinity\", \"val_loss\": 4.0, \"tokens\": 4096}
";

/// TRL's PPO logging JSONL.
pub(crate) const PPO_JSONL: &str = "{\"step\": 1, \"objective/kl\": 0.01, \"env/reward_mean\": -0.5}\n\
                                    {\"step\": 2, \"objective/kl\": 0.02, \"env/reward_mean\": 0.25}\n";

/// A Trainer's state: an evaluation, non-finite values, and the summary entry at its end.
pub(crate) const STATE: &str = r#"{
  "best_metric": null,
  "epoch": 1.0,
  "global_step": 20,
  "log_history": [
    {"epoch": 0.5, "grad_norm": 1.25, "learning_rate": 5e-05, "loss": 2.5, "step": 10},
    {"epoch": 0.5, "eval_loss": 2.75, "eval_runtime": 1.5, "step": 10},
    {"epoch": 1.0, "grad_norm": NaN, "learning_rate": 0.0, "loss": Infinity, "step": 20},
    {"epoch": 1.0, "step": 20, "total_flos": 1000.0, "train_loss": 2.1, "train_runtime": 30.5}
  ],
  "max_steps": 20
}"#;

/// TRL's DPO trainer state.
pub(crate) const DPO_STATE: &str = r#"{"log_history": [
    {"step": 5, "loss": 0.69, "rewards/margins": 0.0, "rewards/accuracies": 0.5, "logps/chosen": -120.5},
    {"step": 10, "loss": 0.6, "rewards/margins": 0.3, "rewards/accuracies": 0.75, "logps/chosen": -118.0}
]}"#;

/// TensorBoard's download of a loss, and of a validation loss with CRLF line ends.
pub(crate) const TB_LOSS: &str =
    "Wall time,Step,Value\n1700000000.5,0,4.25\n1700000001.5,10,3.5\n1700000002.5,20,nan\n";
pub(crate) const TB_VAL: &str = "Wall time,Step,Value\r\n1700000001.5,10,3.75\r\n1700000002.5,20,Infinity\r\n";

/// A W&B export of two runs: quoted cells, a run name with a comma, `__MIN`/`__MAX` bands, empty cells.
pub(crate) const EXPORT: &str = "\
\"Step\",\"glad-sun-3 - train/loss\",\"glad-sun-3 - train/loss__MIN\",\"glad-sun-3 - train/loss__MAX\",\"lr=1e-3, warm - train/loss\",\"glad-sun-3 - eval/loss\"
\"0\",\"4.5\",\"4.4\",\"4.6\",\"4.25\",\"\"
\"100\",\"3.5\",\"3.4\",\"3.6\",\"NaN\",\"3.75\"
\"200\",\"\",\"\",\"\",\"Infinity\",\"\"
";

/// nanoGPT's printout, with the lines around the ones read.
pub(crate) const NANOGPT: &str = "\
Overriding config with config/train_shakespeare_char.py:
tokens per iteration will be: 16,384
step 0: train loss 4.2874, val loss 4.2823
iter 0: loss 4.2654, time 29735.91ms, mfu -100.00%
iter 10: loss 3.2417, time 101.75ms, mfu 3.66%
iter 20: loss nan, time 101.82ms, mfu 3.66%
step 250: train loss 1.9656, val loss 2.0682
saving checkpoint to out-shakespeare-char
iter 250: loss 2.0352, time 9825.71ms, mfu 3.32%
";

/// An event file of one event: [`EVENT`].
pub(crate) static EVENT_FILE: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut file = version();
    file.extend(record(&EVENT));
    file
});

/// Every fixture file: a name such a file has, its bytes, and its format.
pub(crate) fn fixtures() -> [(&'static str, &'static [u8], Format); 10] {
    [
        ("metrics.jsonl", JSONL.as_bytes(), Format::Jsonl),
        ("ppo.jsonl", PPO_JSONL.as_bytes(), Format::Trl),
        ("out/trainer_state.json", STATE.as_bytes(), Format::Hf),
        ("dpo/trainer_state.json", DPO_STATE.as_bytes(), Format::Trl),
        ("run_version_0-tag-train_loss.csv", TB_LOSS.as_bytes(), Format::TbCsv),
        ("run_version_0-tag-val_loss.csv", TB_VAL.as_bytes(), Format::TbCsv),
        ("wandb_export.csv", EXPORT.as_bytes(), Format::WandbCsv),
        ("train.log", NANOGPT.as_bytes(), Format::Nanogpt),
        ("runs/exp1/events.out.tfevents.1700000000.host.1.0", &TORCH, Format::TbEvents),
        ("events.out.tfevents.2", &EVENT_FILE, Format::TbEvents),
    ]
}

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

/// The event every file begins with.
pub(crate) fn version() -> Vec<u8> {
    EventWriter::new(1.7e9).finish()
}

/// An event's data: `step`, with a summary of `values`.
pub(crate) fn event_data(step: i64, values: Vec<Message>) -> Vec<u8> {
    write::event_data(1.7e9, step, values)
}

/// An event's record.
pub(crate) fn event(step: i64, values: Vec<Message>) -> Vec<u8> {
    record(&event_data(step, values))
}

/// A `Summary.Value` as PyTorch's `SummaryWriter` writes a scalar.
pub(crate) fn simple(tag: &str, value: f32) -> Message {
    write::simple_value(tag, value)
}

/// How TF2 may store a scalar tensor's number.
pub(crate) enum Style {
    PackedFloat(f32),
    UnpackedFloat(f32),
    FloatContent(f32),
    Double(f64),
    DoubleContent(f64),
}

/// A `Summary.Value` as TF2's `tf.summary.scalar` writes it: scalar plugin metadata and a tensor.
pub(crate) fn tensor(tag: &str, style: Style, dims: &[i64]) -> Message {
    let plugin = Message::default().message(1, Message::default().bytes(1, b"scalars"));
    let shape = dims
        .iter()
        .fold(Message::default(), |shape, &size| shape.message(2, Message::default().varint(1, size as u64)));
    let proto = match style {
        Style::PackedFloat(v) => Message::default().varint(1, DT_FLOAT).bytes(5, &v.to_le_bytes()),
        Style::UnpackedFloat(v) => Message::default().varint(1, DT_FLOAT).fixed32(5, v.to_bits()),
        Style::FloatContent(v) => Message::default().varint(1, DT_FLOAT).bytes(4, &v.to_le_bytes()),
        Style::Double(v) => Message::default().varint(1, DT_DOUBLE).bytes(6, &v.to_le_bytes()),
        Style::DoubleContent(v) => Message::default().varint(1, DT_DOUBLE).bytes(4, &v.to_le_bytes()),
    };
    Message::default().bytes(1, tag.as_bytes()).message(9, plugin).message(8, proto.message(2, shape))
}

/// A PyTorch-style file: loss and learning rate at steps 1 to 3, a NaN loss at 3.
pub(crate) static TORCH: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut file = version();
    for (step, loss) in [(1, 2.5), (2, 2.0), (3, f32::NAN)] {
        file.extend(event(step, vec![simple("train/loss", loss), simple("train/lr", 0.1)]));
    }
    file
});

/// One event's data, both styles of scalar in it.
pub(crate) static EVENT: LazyLock<Vec<u8>> = LazyLock::new(|| {
    event_data(
        4,
        vec![
            simple("loss", 1.0),
            tensor("val_loss", Style::FloatContent(2.0), &[]),
            tensor("lr", Style::Double(0.5), &[1]),
        ],
    )
});
