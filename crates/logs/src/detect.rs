//! Telling a log's format from its name and its first bytes.

use crate::csv::Records;
use crate::{hf, json, nanogpt, tb_csv, tb_events, wandb, Format};
use serde_json::{Map, Value};

/// How far into a file detection looks.
pub(crate) const HEAD: usize = 64 * 1024;

/// Key prefixes only TRL's trainers log (`rewards/margins`, `logps/chosen`, `objective/kl`,
/// `env/reward_mean`), each just after a key's opening quote.
const TRL_KEYS: [&str; 4] = ["\"rewards/", "\"logps/", "\"objective/", "\"env/"];

/// The format of the file called `name` (a path, perhaps) that begins with `bytes`, or `None` where it
/// looks like none of them:
///
/// - `events.out.tfevents.*`, or a first TFRecord header whose CRC holds: `tb-events`;
/// - JSON with a `log_history`: `hf`, or `trl` where TRL's keys appear; a first line that is a JSON
///   object: `jsonl`, or `trl` likewise;
/// - a line nanoGPT prints (`iter N: loss X, ...`, `step N: train loss X, ...`): `nanogpt`;
/// - a `Wall time,Step,Value` header or a TensorBoard download's name (`run-…-tag-….csv`): `tb-csv`;
/// - a CSV header with a `Step` or `_step` column or `<run> - <metric>` columns, or any `.csv` name:
///   `wandb-csv`.
pub fn detect(name: &str, bytes: &[u8]) -> Option<Format> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    if base.starts_with("events.out.tfevents") || tb_events::looks_like(bytes) {
        return Some(Format::TbEvents);
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(HEAD)]);
    let head = head.trim_start_matches('\u{feff}').trim_start();
    if head.starts_with('{') {
        return json_format(head);
    }
    if head.lines().any(nanogpt::is_nanogpt_line) {
        return Some(Format::Nanogpt);
    }
    csv_format(base, head)
}

/// `hf`, `jsonl` or `trl`, for text beginning with `{`.
fn json_format(head: &str) -> Option<Format> {
    let trl = TRL_KEYS.iter().any(|key| head.contains(key));
    if hf::is_state(head.as_bytes()) {
        return Some(if trl { Format::Trl } else { Format::Hf });
    }
    let first = head.lines().next().unwrap_or_default().trim();
    serde_json::from_slice::<Map<String, Value>>(&json::quote_bare_non_finite(first.as_bytes())).ok().map(|_| {
        if trl {
            Format::Trl
        } else {
            Format::Jsonl
        }
    })
}

/// `tb-csv` or `wandb-csv`, from the file's base name and its header line.
fn csv_format(base: &str, head: &str) -> Option<Format> {
    let header = head.lines().next().unwrap_or_default();
    let fields: Vec<String> = match Records::new(header, 1).next() {
        Some(Ok((_, fields))) => fields.iter().map(|f| f.trim().to_ascii_lowercase()).collect(),
        _ => Vec::new(),
    };
    if fields == ["wall time", "step", "value"] || tb_csv::is_download_name(base) {
        return Some(Format::TbCsv);
    }
    let csv_name = base.to_ascii_lowercase().ends_with(".csv");
    let csv_header = fields.len() > 1 && fields.iter().any(|f| wandb::is_step(f) || wandb::is_run_metric(f));
    (csv_name || csv_header).then_some(Format::WandbCsv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_text_format_is_told_by_its_first_bytes() {
        let state = "{\n  \"best_metric\": null,\n  \"log_history\": [\n    {\"loss\": 2.5, \"step\": 10}";
        assert_eq!(detect("out/trainer_state.json", state.as_bytes()), Some(Format::Hf));
        let dpo = "{\"log_history\": [{\"step\": 1, \"rewards/margins\": 0.1, \"loss\": 0.69}]}";
        assert_eq!(detect("state.json", dpo.as_bytes()), Some(Format::Trl));
        let lines = "\u{feff}{\"step\": 1, \"loss\": NaN}\n{\"step\": 2, \"loss\": 1.0}\n";
        assert_eq!(detect("metrics.log", lines.as_bytes()), Some(Format::Jsonl));
        let ppo = "{\"step\": 1, \"objective/kl\": 0.01, \"env/reward_mean\": 0.5}\n";
        assert_eq!(detect("ppo.jsonl", ppo.as_bytes()), Some(Format::Trl));
        let nanogpt = "Overriding config with config/train.py:\nstep 0: train loss 4.28, val loss 4.28\n";
        assert_eq!(detect("out.txt", nanogpt.as_bytes()), Some(Format::Nanogpt));
        assert_eq!(detect("download.csv", b"Wall time,Step,Value\n1,2,3\n"), Some(Format::TbCsv));
        assert_eq!(detect("dl/run-train-tag-loss.csv", b"garbled"), Some(Format::TbCsv));
        let export = "\"Step\",\"run-1 - loss\",\"run-1 - loss__MIN\"\n1,2,2\n";
        assert_eq!(detect("export.txt", export.as_bytes()), Some(Format::WandbCsv));
        assert_eq!(detect("metrics.txt", b"step,loss\n1,2\n"), Some(Format::WandbCsv));
        assert_eq!(detect("metrics.csv", b"time,loss\n1,2\n"), Some(Format::WandbCsv));
    }

    #[test]
    fn other_text_is_no_format() {
        assert_eq!(detect("notes.txt", b"hello, world\n"), None);
        assert_eq!(detect("config.json", b"{\n  \"lr\": 0.1\n}\n"), None);
        assert_eq!(detect("empty", b""), None);
        assert_eq!(detect("binary", &[0xFF, 0x00, 0x13, 0x37]), None);
    }
}
