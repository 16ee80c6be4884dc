//! W&B's CSV export of a chart: a `Step` (or `_step`) column and one `<run> - <metric>` column per run
//! and metric, with `__MIN` and `__MAX` companions (the band W&B draws when it samples; not read). An
//! empty cell means the metric was not logged at that step. Each `<run>` is one run. A plain CSV, with
//! a `step` column and metric columns without ` - `, is one run named after the file.

use crate::csv::{is_blank, Records};
use crate::number;
use crate::runs::Runs;
use crate::text::Lines;
use crate::ReadError;

/// Between a column's run and metric.
const SEPARATOR: &str = " - ";

/// What one column of the export holds.
#[derive(Clone, Copy)]
enum Column {
    /// The step, or nothing read: a `__MIN`/`__MAX` band, or a column naming no run in an export
    /// where others do.
    Skipped,
    /// A metric of a run: the run's index and the metric's series in it.
    Metric { run: usize, slot: usize },
}

/// Whether a header cell names the step column.
pub(crate) fn is_step(name: &str) -> bool {
    let name = name.trim();
    name.eq_ignore_ascii_case("step") || name.eq_ignore_ascii_case("_step")
}

/// Whether a header cell names a run's metric (`<run> - <metric>`).
pub(crate) fn is_run_metric(name: &str) -> bool {
    name.contains(SEPARATOR)
}

/// A W&B export (or a plain CSV with a `step` column) being read: its step column and what each column
/// holds, once the header is read.
#[derive(Default)]
pub(crate) struct Wandb {
    header: Option<(usize, Vec<Column>)>,
}

impl Lines for Wandb {
    fn read(&mut self, file: &str, runs: &mut Runs, first: usize, text: &[u8]) -> Result<(), ReadError> {
        let at = |line: usize, message: String| ReadError::new(file, Some(line), message);
        let text = String::from_utf8_lossy(text);
        let mut records = Records::new(&text, first);
        let (step_column, columns) = match &self.header {
            Some(header) => header,
            None => {
                let Some(record) = records.next() else { return Ok(()) };
                let (line, header) = record.map_err(|(line, m)| at(line, m))?;
                let step_column = header
                    .iter()
                    .position(|h| is_step(h))
                    .ok_or_else(|| at(line, "expected a `Step` (or `_step`) column".to_string()))?;
                let export = header.iter().any(|h| is_run_metric(h));
                let columns = header
                    .iter()
                    .enumerate()
                    .map(|(index, name)| {
                        let name = name.trim();
                        if index == step_column || name.ends_with("__MIN") || name.ends_with("__MAX") {
                            return Column::Skipped;
                        }
                        let (run, metric) = match name.rsplit_once(SEPARATOR) {
                            Some((run, metric)) => (run.trim(), metric.trim()),
                            None if export => return Column::Skipped,
                            None => (file, name),
                        };
                        let run = runs.index(run);
                        let slot = runs.run(run).slot(metric);
                        Column::Metric { run, slot }
                    })
                    .collect();
                &*self.header.insert((step_column, columns))
            }
        };
        for record in records {
            let (line, fields) = record.map_err(|(line, m)| at(line, m))?;
            if is_blank(&fields) {
                continue;
            }
            let step = fields.get(*step_column).map_or("", |f| f.trim());
            if step.is_empty() {
                return Err(at(line, "the step cell is empty".to_string()));
            }
            let step = number::step_of_text(step).map_err(|m| at(line, m))?;
            for (column, cell) in columns.iter().zip(&fields) {
                let Column::Metric { run, slot } = *column else { continue };
                if let Some(value) = number::value(cell) {
                    runs.run(run).push(slot, step, value).map_err(|m| at(line, m))?;
                }
            }
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
    use crate::test_support::{points, EXPORT};
    use crate::{read, Format, Input, ReadError, ReadLog};
    use faultline_telemetry::log::Signal;

    fn read_csv(name: &str, text: &str) -> Result<ReadLog, ReadError> {
        read(&[Input { name, bytes: text.as_bytes() }], Some(Format::WandbCsv))
    }

    #[test]
    fn each_run_of_an_export_is_a_run_and_bands_are_not_read() {
        let log = read_csv("wandb_export.csv", EXPORT).unwrap();
        assert_eq!(log.runs.len(), 2);
        let (glad, warm) = (&log.runs[0], &log.runs[1]);
        assert_eq!((glad.name.as_str(), warm.name.as_str()), ("glad-sun-3", "lr=1e-3, warm"));
        assert_eq!(points(glad, &Signal::Loss), [(0, 4.5), (100, 3.5)], "an empty cell was not logged");
        assert_eq!(points(glad, &Signal::ValLoss), [(100, 3.75)]);
        assert_eq!(glad.series.len(), 2, "no __MIN or __MAX series");
        let warm_loss = points(warm, &Signal::Loss);
        assert_eq!((warm_loss[0], warm_loss[2]), ((0, 4.25), (200, f32::INFINITY)));
        assert!(warm_loss[1].1.is_nan());
    }

    #[test]
    fn a_plain_csv_with_a_step_column_is_one_run() {
        let text = "_step,loss,lr,note\n1,2.5,0.1,start\n2,2.25,0.1,\n";
        let log = read_csv("runs/metrics.csv", text).unwrap();
        assert_eq!(log.runs.len(), 1);
        assert_eq!(log.runs[0].name, "runs/metrics.csv");
        assert_eq!(points(&log.runs[0], &Signal::Loss), [(1, 2.5), (2, 2.25)]);
        assert_eq!(points(&log.runs[0], &Signal::LearningRate), [(1, 0.1), (2, 0.1)]);
        assert!(log.runs[0].get(&Signal::Other("note".into())).is_none());
    }

    #[test]
    fn bad_steps_and_missing_columns_are_errors() {
        let e = read_csv("x.csv", "time,loss\n1,2\n").unwrap_err();
        assert_eq!(e.to_string(), "x.csv:1: expected a `Step` (or `_step`) column");
        let e = read_csv("x.csv", "Step,a - loss\n5,1\n3,2\n").unwrap_err();
        assert_eq!(e.to_string(), "x.csv:3: step 3 of `loss` comes after step 5: steps must increase");
        let e = read_csv("x.csv", "Step,a - loss\n5,1\n5,2\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        let e = read_csv("x.csv", "Step,a - loss\n,1\n").unwrap_err();
        assert_eq!(e.message, "the step cell is empty");
        let e = read_csv("x.csv", "Step,a - loss\n1.5,1\n").unwrap_err();
        assert_eq!(e.message, "step 1.5 is not a whole number");
        let e = read_csv("x.csv", "Step,a - loss\n1,\"2\n").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (Some(2), "a quoted field never closes"));
        let e = read_csv("x.csv", "Step,a - loss,a - loss__MAX\n1,,3\n").unwrap_err();
        assert_eq!(e.message, "found no numeric scalars reading this as wandb-csv");
    }
}
