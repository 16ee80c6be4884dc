//! Reading logs through the public API: the format told from the files, several files at once, and the
//! errors a user sees.

use faultline_logs::{detect, read, Format, Input, ReadError, ReadLog, Reader};
use faultline_telemetry::log::Signal;
use proptest::prelude::*;

const STATE: &str = r#"{
  "global_step": 20,
  "log_history": [
    {"epoch": 0.5, "grad_norm": 1.5, "learning_rate": 5e-05, "loss": 2.5, "step": 10},
    {"epoch": 1.0, "grad_norm": 1.25, "learning_rate": 0.0, "loss": 2.0, "step": 20},
    {"epoch": 1.0, "step": 20, "train_loss": 2.25, "train_runtime": 12.5}
  ]
}"#;
const DPO_STATE: &str = r#"{"log_history": [{"step": 1, "loss": 0.69, "rewards/margins": 0.0}]}"#;
const JSONL: &str = "{\"step\": 1, \"loss\": 3.0}\n{\"step\": 2, \"loss\": NaN}\n";
const NANOGPT: &str = "iter 0: loss 4.2, time 300.00ms, mfu -100.00%\nstep 0: train loss 4.1, val loss 4.3\n";
const TB_CSV: &str = "Wall time,Step,Value\n1.5,1,0.5\n2.5,2,0.25\n";
const WANDB: &str = "Step,a - loss,b - loss\n1,2.0,\n2,1.5,3.0\n";

fn read_named(files: &[(&str, &str)], format: Option<Format>) -> Result<ReadLog, ReadError> {
    let inputs: Vec<Input> = files.iter().map(|(name, text)| Input { name, bytes: text.as_bytes() }).collect();
    read(&inputs, format)
}

fn run_names(log: &ReadLog) -> Vec<&str> {
    log.runs.iter().map(|run| run.name.as_str()).collect()
}

#[test]
fn each_format_is_detected_and_read() {
    let cases: [(&str, &str, Format, &[&str]); 6] = [
        ("ckpt/trainer_state.json", STATE, Format::Hf, &["ckpt/trainer_state.json"]),
        ("dpo/trainer_state.json", DPO_STATE, Format::Trl, &["dpo/trainer_state.json"]),
        ("metrics.jsonl", JSONL, Format::Jsonl, &["metrics.jsonl"]),
        ("train.log", NANOGPT, Format::Nanogpt, &["train.log"]),
        ("run-train-tag-loss.csv", TB_CSV, Format::TbCsv, &["train"]),
        ("wandb_export.csv", WANDB, Format::WandbCsv, &["a", "b"]),
    ];
    for (name, text, format, runs) in cases {
        assert_eq!(detect(name, text.as_bytes()), Some(format), "{name}");
        let log = read_named(&[(name, text)], None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(log.format, format);
        assert_eq!(run_names(&log), runs, "{name}");
    }
}

#[test]
fn the_trainer_summary_is_no_loss_at_its_step() {
    let log = read_named(&[("trainer_state.json", STATE)], None).unwrap();
    let loss = log.runs[0].get(&Signal::Loss).unwrap();
    assert_eq!(loss.points.iter().map(|p| (p.step, p.value)).collect::<Vec<_>>(), [(10, 2.5), (20, 2.0)]);
}

#[test]
fn an_undetectable_file_asks_for_the_format() {
    let e = read_named(&[("notes.txt", "nothing to see here\n")], None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "notes.txt: cannot tell which format this is; name it (--format on the command line, the Format menu on the page): hf, tb-csv, tb-events, wandb-csv, nanogpt, trl, jsonl"
    );
}

#[test]
fn files_of_different_formats_name_the_odd_one() {
    let e = read_named(&[("a.jsonl", JSONL), ("b.jsonl", JSONL), ("train.log", NANOGPT)], None).unwrap_err();
    assert_eq!(e.file, "train.log");
    assert_eq!(e.message, "this log is nanogpt, but a.jsonl is jsonl; read one format at a time");
}

#[test]
fn trl_takes_plain_trainer_states_and_jsonl_along() {
    let log = read_named(
        &[("sft/trainer_state.json", STATE), ("dpo/trainer_state.json", DPO_STATE), ("x.jsonl", JSONL)],
        None,
    )
    .unwrap();
    assert_eq!(log.format, Format::Trl);
    assert_eq!(run_names(&log), ["sft/trainer_state.json", "dpo/trainer_state.json", "x.jsonl"]);
}

#[test]
fn tensorboard_downloads_of_several_runs_group_by_run() {
    let files =
        [("run-train-tag-loss.csv", TB_CSV), ("run-val-tag-loss.csv", TB_CSV), ("run-train-tag-lr.csv", TB_CSV)];
    let log = read_named(&files, None).unwrap();
    assert_eq!(run_names(&log), ["train", "val"]);
    assert_eq!(log.runs[0].series.len(), 2);
}

#[test]
fn empty_and_foreign_files_are_clear_errors() {
    let e = read_named(&[("a.jsonl", JSONL), ("b.jsonl", "\n  \n")], None).unwrap_err();
    assert_eq!(e.to_string(), "b.jsonl: the file is empty");
    let e = read_named(&[("train.log", NANOGPT)], Some(Format::Jsonl)).unwrap_err();
    assert_eq!(e.line, Some(1));
    assert!(e.message.starts_with("not a JSON object"), "{e}");
    let e = read_named(&[("metrics.jsonl", JSONL)], Some(Format::WandbCsv)).unwrap_err();
    assert_eq!(e.to_string(), "metrics.jsonl:1: expected a `Step` (or `_step`) column");
    let e = read_named(&[("metrics.jsonl", JSONL)], Some(Format::Nanogpt)).unwrap_err();
    assert_eq!(e.to_string(), "metrics.jsonl: found no numeric scalars reading this as nanogpt");
    let e = read_named(&[("metrics.jsonl", JSONL)], Some(Format::TbEvents)).unwrap_err();
    assert!(e.message.starts_with("at byte 0: the record's length fails its CRC"), "{e}");
    let e = read_named(&[("train.log", NANOGPT)], Some(Format::Hf)).unwrap_err();
    assert!(e.message.starts_with("not valid JSON"), "{e}");
}

#[test]
fn a_reader_fed_in_pieces_reads_what_read_reads() {
    let groups = [
        (vec![("sft/trainer_state.json", STATE), ("dpo/trainer_state.json", DPO_STATE), ("x.jsonl", JSONL)], None),
        (vec![("train.log", NANOGPT)], Some(Format::Nanogpt)),
        (vec![("run-train-tag-loss.csv", TB_CSV), ("run-val-tag-loss.csv", TB_CSV)], None),
        (vec![("wandb_export.csv", WANDB)], Some(Format::WandbCsv)),
        (vec![("a.jsonl", JSONL), ("train.log", NANOGPT)], None),
    ];
    for (files, format) in groups {
        for size in [1, 2, 5, 64] {
            let mut reader = Reader::new(format);
            let mut pieces = || -> Result<(), ReadError> {
                for (name, text) in &files {
                    reader.begin_file(name)?;
                    for chunk in text.as_bytes().chunks(size) {
                        reader.push(chunk)?;
                    }
                    reader.end_file()?;
                }
                Ok(())
            };
            let read_in_pieces = pieces().and_then(|()| reader.finish());
            let whole = read_named(&files, format);
            assert_eq!(format!("{read_in_pieces:?}"), format!("{whole:?}"), "{files:?} in pieces of {size}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn detecting_and_reading_arbitrary_bytes_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        name in proptest::sample::select(vec!["log", "x.csv", "run-a-tag-loss.csv", "events.out.tfevents.1", "s.json"]),
    ) {
        let detected = detect(name, &bytes);
        if let Ok(log) = read(&[Input { name, bytes: &bytes }], None) {
            prop_assert_eq!(Some(log.format), detected);
        }
    }

    #[test]
    fn text_that_looks_like_a_log_never_panics(
        lines in proptest::collection::vec(
            proptest::sample::select(vec![
                "{\"step\": 1, \"loss\": NaN}", "{\"iter\": 2, \"loss\": \"-inf\"}", "iter 3: loss 2.0, time 1ms",
                "step 4: train loss 1, val loss 2", "Wall time,Step,Value", "1.5,5,0.5", "Step,a - loss,a - loss__MIN",
                "6,\"1,5\",", "{\"log_history\": [{\"step\": 7, \"loss\": 1}]}", "", "\"", "{", ",,,",
            ]),
            0..12,
        ),
    ) {
        let text = lines.join("\n");
        let _ = read(&[Input { name: "log", bytes: text.as_bytes() }], None);
        for &format in Format::ALL {
            let _ = read(&[Input { name: "log", bytes: text.as_bytes() }], Some(format));
        }
    }
}
