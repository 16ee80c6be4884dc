//! What every system `cargo xtask bench` measures has in common: the [`System`] trait, the [`Row`]s it
//! returns, and the reading of a benchmark's JSON output into rows. `bench` (the engine, the bench page
//! and the table) and `peers` (PyTorch, TF.js) are both built on it.

use serde_json::{Map, Value};

use crate::project::Project;
use crate::Result;

/// One measured number.
pub struct Row {
    /// What ran, e.g. `train tiny` or `matmul 64x64x256`.
    pub benchmark: String,
    /// The unit, e.g. `tokens/s`: higher is better, except for the page load's `KB on the wire` and `s`.
    pub metric: &'static str,
    /// Who ran it, e.g. `faultline native` or `faultline browser (cpu, 1 thread)`.
    pub system: String,
    /// `None` for a peer that could not be measured.
    pub value: Option<f64>,
}

/// Something the bench measures: the engine natively, the bench page, or a peer.
pub trait System {
    fn name(&self) -> &'static str;
    fn measure(&self, project: &Project) -> Result<Vec<Row>>;
    /// A peer's failure is a row in the table; any other system's stops the bench.
    fn is_peer(&self) -> bool {
        false
    }
}

/// The JSON in a command's output: one document, or one per line (non-JSON lines are skipped).
pub fn json_values(text: &str) -> Result<Vec<Value>> {
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        return Ok(vec![value]);
    }
    let values: Vec<Value> = text.lines().filter_map(|line| serde_json::from_str(line.trim()).ok()).collect();
    if values.is_empty() {
        return Err(format!("no JSON in the output:\n{text}").into());
    }
    Ok(values)
}

/// Finds the measurements anywhere in a benchmark's JSON: an object with `tokens_per_s` /
/// `steps_per_s` is a training run (labelled by its `config`; its `reference_steps_per_s` and its
/// `kernels` report are read too), an object with a GFLOP/s field is a kernel (labelled by its `name`,
/// `kernel` or `op`, and its `shape`), `simd_ceiling_gflops` the multiply-add ceiling.
pub fn collect_rows(value: &Value, system: &str, rows: &mut Vec<Row>) {
    match value {
        Value::Array(items) => {
            for item in items {
                collect_rows(item, system, rows);
            }
        }
        Value::Object(object) => {
            let training = label(object, &["config", "name", "preset"]).map(|config| format!("train {config}"));
            let mut found = false;
            for (field, metric) in [("steps_per_s", "steps/s"), ("tokens_per_s", "tokens/s")] {
                if let (Some(benchmark), Some(number)) = (&training, number(object, field)) {
                    rows.push(Row { benchmark: benchmark.clone(), metric, system: system.into(), value: Some(number) });
                    found = true;
                }
            }
            if let (Some(benchmark), Some(number)) = (&training, number(object, "reference_steps_per_s")) {
                let benchmark = format!("{benchmark} (reference kernels)");
                rows.push(Row { benchmark, metric: "steps/s", system: system.into(), value: Some(number) });
            }
            if let Some(number) = number(object, "simd_ceiling_gflops") {
                let benchmark = "multiply-add ceiling f32x4".to_string();
                rows.push(Row { benchmark, metric: "GFLOP/s", system: system.into(), value: Some(number) });
            }
            if let Some(number) = number(object, "matmul_256_of_ceiling") {
                let benchmark = "matmul 256x256x256 / ceiling".to_string();
                rows.push(Row {
                    benchmark,
                    metric: "% of ceiling",
                    system: system.into(),
                    value: Some(100.0 * number),
                });
            }
            let gflops = object.iter().find(|(key, value)| key.to_lowercase().contains("gflop") && value.is_number());
            if let (Some((_, value)), Some(name)) = (gflops, label(object, &["name", "kernel", "op"])) {
                let benchmark = match object.get("shape") {
                    Some(Value::String(shape)) => format!("{name} {shape}"),
                    Some(Value::Array(dims)) => {
                        let dims: Vec<String> = dims.iter().map(Value::to_string).collect();
                        format!("{name} {}", dims.join("x"))
                    }
                    _ => name,
                };
                rows.push(Row { benchmark, metric: "GFLOP/s", system: system.into(), value: value.as_f64() });
                found = true;
            }
            if !found {
                for child in object.values() {
                    collect_rows(child, system, rows);
                }
            } else if let Some(kernels) = object.get("kernels") {
                collect_rows(kernels, system, rows); // a training result carries its kernel report
            }
        }
        _ => {}
    }
}

fn label(object: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| object.get(*key).and_then(Value::as_str)).map(String::from)
}

fn number(object: &Map<String, Value>, key: &str) -> Option<f64> {
    object.get(key).and_then(Value::as_f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_json_lines_among_other_output() {
        let values = json_values("building...\n{\"a\": 1}\n{\"b\": 2}\n").unwrap();
        assert_eq!(values, [json!({"a": 1}), json!({"b": 2})]);
        assert!(json_values("no json here").is_err());
    }
}
