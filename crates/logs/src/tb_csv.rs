//! TensorBoard's "download CSV" of one scalar: `Wall time,Step,Value` rows, the tag and run only in the
//! file's name, which TensorBoard makes `run-<run>-tag-<tag>.csv` (`run-train-tag-loss.csv`,
//! `run_version_0-tag-train_loss.csv`; a `/` in the tag becomes `_`). Downloads of one run form one run.

use crate::csv::{is_blank, Records};
use crate::number;
use crate::runs::Runs;
use crate::text::Lines;
use crate::ReadError;

/// Where a download's name puts the tag.
const TAG: &str = "-tag-";

/// The run and tag a download's name gives. A name without `-tag-` is taken as the tag, in a run named
/// after the file's folder, or `tensorboard` where the name has none.
pub(crate) fn run_and_tag(name: &str) -> (String, String) {
    let (folder, base) = match name.rfind(['/', '\\']) {
        Some(cut) => (&name[..cut], &name[cut + 1..]),
        None => ("", name),
    };
    let stem = match base.len().checked_sub(4) {
        Some(cut) if base.is_char_boundary(cut) && base[cut..].eq_ignore_ascii_case(".csv") => &base[..cut],
        _ => base,
    };
    match stem.split_once(TAG) {
        Some((run, tag)) => {
            let run = run.strip_prefix("run-").or_else(|| run.strip_prefix("run_")).unwrap_or(run);
            (run.to_string(), tag.to_string())
        }
        None if folder.is_empty() => ("tensorboard".to_string(), stem.to_string()),
        None => (folder.to_string(), stem.to_string()),
    }
}

/// Whether `name` is what TensorBoard calls a download (`…-tag-….csv`).
pub(crate) fn is_download_name(name: &str) -> bool {
    name.contains(TAG) && name.to_ascii_lowercase().ends_with(".csv")
}

/// One tag's download being read into the run its name gives: the columns and series once the header
/// is read.
#[derive(Default)]
pub(crate) struct TbCsv {
    header: Option<Header>,
}

struct Header {
    step: usize,
    value: usize,
    run: usize,
    slot: usize,
}

impl Lines for TbCsv {
    fn read(&mut self, file: &str, runs: &mut Runs, first: usize, text: &[u8]) -> Result<(), ReadError> {
        let at = |line: usize, message: String| ReadError::new(file, Some(line), message);
        let text = String::from_utf8_lossy(text);
        let mut records = Records::new(&text, first);
        let header = match &self.header {
            Some(header) => header,
            None => {
                let Some(record) = records.next() else { return Ok(()) };
                let (line, header) = record.map_err(|(line, m)| at(line, m))?;
                let column = |name: &str| header.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
                let expected = "(TensorBoard's CSV header is `Wall time,Step,Value`)";
                let step = column("step").ok_or_else(|| at(line, format!("expected a `Step` column {expected}")))?;
                let value = column("value").ok_or_else(|| at(line, format!("expected a `Value` column {expected}")))?;
                let (run, tag) = run_and_tag(file);
                let run = runs.index(&run);
                let slot = runs.run(run).slot(&tag);
                &*self.header.insert(Header { step, value, run, slot })
            }
        };
        let run = runs.run(header.run);
        for record in records {
            let (line, fields) = record.map_err(|(line, m)| at(line, m))?;
            if is_blank(&fields) {
                continue;
            }
            let cell = |column: usize| fields.get(column).map_or("", |f| f.trim());
            let step = number::step_of_text(cell(header.step)).map_err(|m| at(line, m))?;
            let value = cell(header.value);
            let value = number::value(value).ok_or_else(|| at(line, format!("value `{value}` is not a number")))?;
            run.push(header.slot, step, value).map_err(|m| at(line, m))?;
        }
        Ok(())
    }

    fn end(&mut self, file: &str) -> Result<(), ReadError> {
        match self.header {
            Some(_) => Ok(()),
            None => Err(ReadError::new(file, None, "the file is empty")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{points, TB_LOSS as LOSS, TB_VAL as VAL};
    use crate::{read, Format, Input, ReadError, ReadLog};
    use faultline_telemetry::log::Signal;

    fn read_files(files: &[(&str, &str)]) -> Result<ReadLog, ReadError> {
        let inputs: Vec<Input> = files.iter().map(|(name, text)| Input { name, bytes: text.as_bytes() }).collect();
        read(&inputs, Some(Format::TbCsv))
    }

    #[test]
    fn the_name_gives_the_run_and_the_tag() {
        assert_eq!(run_and_tag("run-train-tag-loss.csv"), ("train".into(), "loss".into()));
        assert_eq!(run_and_tag("dl/run_version_0-tag-train_loss.csv"), ("version_0".into(), "train_loss".into()));
        assert_eq!(run_and_tag("C:\\dl\\run-a-tag-val_loss.CSV"), ("a".into(), "val_loss".into()));
        assert_eq!(run_and_tag("logs/loss.csv"), ("logs".into(), "loss".into()));
        assert_eq!(run_and_tag("loss.csv"), ("tensorboard".into(), "loss".into()));
        assert!(is_download_name("run-train-tag-loss.csv"));
        assert!(!is_download_name("metrics.csv"));
    }

    #[test]
    fn downloads_of_one_run_form_one_run_and_tags_map_to_signals() {
        let log = read_files(&[
            ("run_version_0-tag-train_loss.csv", LOSS),
            ("run_version_0-tag-val_loss.csv", VAL),
            ("run_version_1-tag-train_loss.csv", LOSS),
        ])
        .unwrap();
        assert_eq!(log.runs.len(), 2);
        let run = &log.runs[0];
        assert_eq!(run.name, "version_0");
        let loss = points(run, &Signal::Loss);
        assert_eq!(&loss[..2], [(0, 4.25), (10, 3.5)]);
        assert!(loss[2].1.is_nan());
        assert_eq!(points(run, &Signal::ValLoss), [(10, 3.75), (20, f32::INFINITY)]);
        assert_eq!(log.runs[1].name, "version_1");
    }

    #[test]
    fn quoted_headers_and_cells_read() {
        let text = "\"Wall time\",\"Step\",\"Value\"\n\"1.5\",\"3\",\"0.25\"\n";
        let log = read_files(&[("run-r-tag-grad_norm.csv", text)]).unwrap();
        assert_eq!(points(&log.runs[0], &Signal::GradNorm), [(3, 0.25)]);
    }

    #[test]
    fn bad_rows_and_missing_columns_are_errors() {
        let e = read_files(&[("run-a-tag-loss.csv", "Wall time,Value\n1,2\n")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "run-a-tag-loss.csv:1: expected a `Step` column (TensorBoard's CSV header is `Wall time,Step,Value`)"
        );
        let e = read_files(&[("run-a-tag-loss.csv", "Wall time,Step,Value\n1,2,3\n1,2,4\n")]).unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (Some(3), "step 2 of `loss` is logged twice, with different values"));
        let e = read_files(&[("run-a-tag-loss.csv", "Wall time,Step,Value\n1,5,3\n\n1,2,4\n")]).unwrap_err();
        assert_eq!(e.line, Some(4));
        let e = read_files(&[("run-a-tag-loss.csv", "Wall time,Step,Value\n1,-5,3\n")]).unwrap_err();
        assert_eq!(e.message, "step -5 is negative");
        let e = read_files(&[("run-a-tag-loss.csv", "Wall time,Step,Value\n1,5,high\n")]).unwrap_err();
        assert_eq!(e.message, "value `high` is not a number");
        let e = read_files(&[("run-a-tag-loss.csv", "Wall time,Step,Value\n")]).unwrap_err();
        assert_eq!(e.message, "found no numeric scalars reading this as tb-csv");
        let e = read_files(&[("run-a-tag-loss.csv", "{\"step\": 1, \"loss\": 2}\n")]).unwrap_err();
        assert!(e.message.starts_with("expected a `Step` column"), "{e}");
    }
}
