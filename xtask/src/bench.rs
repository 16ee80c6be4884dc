//! `cargo xtask bench`: every benchmark, measured in one run, printed as one ratio table.
//!
//! Each [`System`] measures itself and returns [`Row`]s (see [`crate::measure`]); rows that share a
//! benchmark and a metric are compared against the native engine's value. The peers (PyTorch, TF.js: see
//! [`crate::peers`]) are two more `System`s in [`systems`]; a peer that fails gets a row saying so and the
//! bench goes on.

use serde_json::Value;

use crate::cli::Only;
use crate::measure::{collect_rows, json_values, Row, System};
use crate::peers::{PyTorch, TfJs};
use crate::project::{self, Project};
use crate::server::{Network, StaticServer};
use crate::{site, size, tools, Result};

/// The engine's own native command line: the baseline every ratio is taken against.
const BASELINE: &str = "faultline native";
/// The bench page's run: the app's default config on the CPU (WebAssembly) backend.
const PAGE_CONFIG: &str = "tiny";
const PAGE_BACKEND: &str = "cpu";
const PAGE_STEPS: &str = "20";
const PAGE_SEED: &str = "1";

/// The network the `load` rows emulate: a slow home or school connection.
const LOAD_MBIT_PER_S: f64 = 9.0;
const LOAD_RTT_MS: u64 = 170;

fn systems() -> Vec<Box<dyn System>> {
    vec![Box::new(NativeEngine), Box::new(BrowserPage), Box::new(BrowserLoad), Box::new(PyTorch), Box::new(TfJs)]
}

/// Measures every system, or the peers alone, or the page load alone, and prints the table.
pub fn run(project: &Project, only: Only) -> Result {
    let mut rows = Vec::new();
    let wanted = |system: &dyn System| match only {
        Only::Everything => true,
        Only::Peers => system.is_peer(),
        Only::Load => system.name() == BrowserLoad.name(),
    };
    for system in systems().into_iter().filter(|system| wanted(system.as_ref())) {
        println!("\n==> measuring {}", system.name());
        match system.measure(project) {
            Ok(measured) => rows.extend(measured),
            Err(err) if system.is_peer() => {
                println!("{}: skipped: {err}", system.name());
                rows.push(Row {
                    benchmark: format!("train {PAGE_CONFIG}"),
                    metric: "steps/s",
                    system: format!("{}: skipped (see its error above)", system.name()),
                    value: None,
                });
            }
            Err(err) => return Err(format!("{}: {err}", system.name()).into()),
        }
    }
    println!("\n{}", table(&rows));
    Ok(())
}

/// `faultline bench --json`, built in release mode.
struct NativeEngine;

impl System for NativeEngine {
    fn name(&self) -> &'static str {
        BASELINE
    }

    fn measure(&self, project: &Project) -> Result<Vec<Row>> {
        let mut cargo = project.cargo();
        cargo.args(["run", "--release", "-p", "faultline-cli", "--bin", "faultline", "--", "bench", "--json"]);
        println!("$ {}", project::display(&cargo));
        let stdout = project::output(&mut cargo)?;
        let mut rows = Vec::new();
        for value in json_values(&stdout)? {
            collect_rows(&value, BASELINE, &mut rows);
        }
        if rows.is_empty() {
            return Err(format!("no measurements found in its output:\n{stdout}").into());
        }
        Ok(rows)
    }
}

/// Builds the release site for the browser benchmarks (printing its size budget's table: `cargo xtask
/// test` fails on a file over budget, the bench measures the build all the same) and serves it, over
/// `network` if given; returns the URL.
fn serve_release(project: &Project, network: Option<Network>) -> Result<String> {
    tools::ensure_site_tools(project)?;
    tools::ensure_browser_tools(project)?;
    let dist = project.target_dir().join("xtask/bench-dist");
    let policy = site::build_release(project, &dist)?;
    if let Err(over) = size::check(&dist) {
        println!("xtask: over budget: {over}");
    }
    let server = StaticServer::bind(&dist, 0)?.with_policy(policy);
    match network {
        Some(network) => server.with_network(network),
        None => server,
    }
    .spawn()
}

/// The release site's bench page in headless Chromium.
struct BrowserPage;

impl System for BrowserPage {
    fn name(&self) -> &'static str {
        "faultline in the browser"
    }

    fn measure(&self, project: &Project) -> Result<Vec<Row>> {
        let url = serve_release(project, None)?;
        // One thread first (`?threads=1`: the ratios to the one-thread peers), then the threaded build
        // on every core, which the page gets because the server sends COOP/COEP.
        let mut rows = Vec::new();
        for threads in [Some("1"), None] {
            let mut node = project.command("node");
            node.arg(project.e2e_dir().join("bench-page.mjs"))
                .args([PAGE_CONFIG, PAGE_BACKEND, PAGE_STEPS, PAGE_SEED])
                .args(threads)
                .env("FAULTLINE_URL", &url)
                .env("FAULTLINE_CHROMIUM", tools::CHROMIUM);
            println!("$ {} (at {url})", project::display(&node));
            let stdout = project::output(&mut node)?;
            let result: Value = serde_json::from_str(stdout.trim())?;
            if let Some(error) = result.get("error") {
                return Err(format!("the bench page reported an error: {error}").into());
            }
            let threads = result["threads"].as_u64().unwrap_or(1);
            if threads == 1 && !rows.is_empty() {
                break; // a one-core machine: the threaded run is the one-thread run again
            }
            let system = format!(
                "faultline browser ({}, {threads} thread{})",
                result["backend"].as_str().unwrap_or(PAGE_BACKEND),
                if threads == 1 { "" } else { "s" }
            );
            let before = rows.len();
            collect_rows(&result, &system, &mut rows);
            if rows.len() == before {
                return Err(format!("the bench page's result has no throughput: {result}").into());
            }
        }
        Ok(rows)
    }
}

/// The release site's first visit in headless Chromium on a slow network ([`Network`]): the bytes each file
/// took on the wire (gzip, as the server sends them) before the first training step, and the time to
/// that step from the start of navigation (tests/e2e/load-page.mjs). Twice: in a browser that offers no
/// WebGPU adapter (the worker's build without WebGPU is fetched) and in one that does (SwiftShader's).
struct BrowserLoad;

impl System for BrowserLoad {
    fn name(&self) -> &'static str {
        "faultline page load"
    }

    fn measure(&self, project: &Project) -> Result<Vec<Row>> {
        let url = serve_release(project, Some(Network::new(LOAD_MBIT_PER_S, LOAD_RTT_MS)))?;
        let mut rows = Vec::new();
        for webgpu in ["0", "1"] {
            let mut node = project.command("node");
            node.arg(project.e2e_dir().join("load-page.mjs"))
                .env("FAULTLINE_URL", &url)
                .env("FAULTLINE_WEBGPU", webgpu)
                .env("FAULTLINE_CHROMIUM", tools::CHROMIUM);
            println!("$ FAULTLINE_WEBGPU={webgpu} {} (at {url})", project::display(&node));
            rows.extend(load_rows(&serde_json::from_str(project::output(&mut node)?.trim())?)?);
        }
        Ok(rows)
    }
}

/// The `load` rows of load-page.mjs's result: one per file fetched before the first step, their total
/// and the time to the first step, for a browser with a WebGPU adapter or without.
fn load_rows(result: &Value) -> Result<Vec<Row>> {
    let (Some(webgpu), Some(files), Some(total), Some(first_step)) = (
        result["webgpu"].as_bool(),
        result["files"].as_array(),
        result["total_bytes"].as_f64(),
        result["first_step_ms"].as_f64(),
    ) else {
        return Err(
            format!("the load page's result lacks webgpu, files, total_bytes or first_step_ms: {result}").into()
        );
    };
    let adapter = if webgpu { "a WebGPU adapter" } else { "no WebGPU" };
    let system = format!("faultline browser ({LOAD_MBIT_PER_S} Mbit/s, {LOAD_RTT_MS} ms round trip, {adapter})");
    let row = |benchmark: String, metric, value| Row { benchmark, metric, system: system.clone(), value: Some(value) };
    let mut rows: Vec<Row> = files
        .iter()
        .filter_map(|file| {
            Some(row(format!("load {}", file["name"].as_str()?), "KB on the wire", file["bytes"].as_f64()? / 1e3))
        })
        .collect();
    rows.push(row("load, all before the first step".into(), "KB on the wire", total / 1e3));
    rows.push(row("load, time to the first step".into(), "s", first_step / 1e3));
    Ok(rows)
}

/// Rows grouped by benchmark and metric (in first-seen order), each with its ratio to the baseline's.
fn table(rows: &[Row]) -> String {
    let mut groups: Vec<(&str, &str)> = Vec::new();
    for row in rows {
        if !groups.contains(&(row.benchmark.as_str(), row.metric)) {
            groups.push((&row.benchmark, row.metric));
        }
    }
    let header = ["benchmark".to_string(), "metric".into(), "system".into(), "value".into(), format!("x {BASELINE}")];
    let mut lines = vec![header];
    for (benchmark, metric) in groups {
        let group: Vec<&Row> = rows.iter().filter(|row| row.benchmark == benchmark && row.metric == metric).collect();
        let baseline = group.iter().find(|row| row.system == BASELINE).and_then(|row| row.value);
        for row in &group {
            let ratio = match (row.value, baseline) {
                (Some(value), Some(base)) if base > 0.0 && group.len() > 1 => format!("{:.2}", value / base),
                _ => "-".into(),
            };
            let value = row.value.map_or_else(|| "-".into(), format_value);
            lines.push([row.benchmark.clone(), row.metric.into(), row.system.clone(), value, ratio]);
        }
    }
    let widths: Vec<usize> =
        (0..5).map(|col| lines.iter().map(|line| line[col].chars().count()).max().unwrap_or(0)).collect();
    lines
        .iter()
        .map(|line| {
            line.iter()
                .zip(&widths)
                .enumerate()
                .map(
                    |(col, (cell, width))| {
                        if col >= 3 {
                            format!("{cell:>width$}")
                        } else {
                            format!("{cell:<width$}")
                        }
                    },
                )
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn format_value(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_training_and_kernel_measurements() {
        let native = json!({
            "kernels": [{"name": "matmul", "shape": [64, 256, 64], "gflops": 12.5}],
            "training": [{"config": "tiny", "steps_per_s": 10.0, "tokens_per_s": 10240.0}]
        });
        let page = json!({"backend": "cpu", "threads": 1, "config": "tiny", "steps": 20,
            "steps_per_s": 5.0, "tokens_per_s": 5120.0, "first_loss": 4.5, "last_loss": 3.9});
        let mut rows = Vec::new();
        collect_rows(&native, BASELINE, &mut rows);
        collect_rows(&page, "faultline browser (cpu, 1 thread)", &mut rows);
        let found: Vec<(&str, &str, Option<f64>)> =
            rows.iter().map(|row| (row.benchmark.as_str(), row.metric, row.value)).collect();
        assert_eq!(
            found,
            [
                ("matmul 64x256x64", "GFLOP/s", Some(12.5)),
                ("train tiny", "steps/s", Some(10.0)),
                ("train tiny", "tokens/s", Some(10240.0)),
                ("train tiny", "steps/s", Some(5.0)),
                ("train tiny", "tokens/s", Some(5120.0)),
            ]
        );
        let table = table(&rows);
        assert!(table.contains("0.50"), "{table}");
        assert_eq!(table.lines().count(), 6, "{table}");
    }

    #[test]
    fn load_rows_name_each_file_the_total_and_the_time() {
        let result = json!({"webgpu": false, "first_step_ms": 2450.0,
            "total_bytes": 800000, "files": [{"name": "index.html", "bytes": 2000}, {"name": "a_bg.wasm", "bytes": 798000}]});
        let rows = load_rows(&result).unwrap();
        let found: Vec<(&str, &str, Option<f64>)> =
            rows.iter().map(|row| (row.benchmark.as_str(), row.metric, row.value)).collect();
        assert_eq!(
            found,
            [
                ("load index.html", "KB on the wire", Some(2.0)),
                ("load a_bg.wasm", "KB on the wire", Some(798.0)),
                ("load, all before the first step", "KB on the wire", Some(800.0)),
                ("load, time to the first step", "s", Some(2.45)),
            ]
        );
        assert!(rows[0].system.ends_with("no WebGPU)"), "{}", rows[0].system);
        let with_adapter = load_rows(&json!({"webgpu": true, "first_step_ms": 1.0, "total_bytes": 1, "files": []}));
        assert!(with_adapter.unwrap()[0].system.ends_with("a WebGPU adapter)"));
        assert!(load_rows(&json!({"error": "no page"})).is_err());
    }

    #[test]
    fn a_skipped_peer_has_no_value_and_no_ratio() {
        let row = |system: &str, value| Row {
            benchmark: "train tiny".into(),
            metric: "steps/s",
            system: system.into(),
            value,
        };
        let table = table(&[row(BASELINE, Some(20.0)), row("PyTorch peer: skipped", None), row("TF.js", Some(2.0))]);
        let skipped = table.lines().find(|line| line.contains("skipped")).unwrap();
        let cells: Vec<&str> = skipped.split_whitespace().collect();
        assert_eq!(cells[cells.len() - 2..], ["-", "-"], "{table}");
        assert!(table.lines().any(|line| line.contains("TF.js") && line.ends_with("0.10")), "{table}");
    }
}
