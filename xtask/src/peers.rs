//! The two peers `cargo xtask bench` measures beside the engine, on the engine's `tiny` GPT as
//! `faultline bench` trains it (V29, toy-english's characters; T64 B16 D64 H4 L2; the same layers,
//! initialisation and AdamW step; random token ids):
//!
//! - PyTorch on the CPU with one thread: `xtask/peers/pytorch_tiny.py`, in a virtual environment under
//!   `target/peers/venv` with [`TORCH_VERSION`] from PyPI (installed only when missing).
//! - TensorFlow.js on its `wasm` backend in headless Chromium: `xtask/peers/tfjs/`, served with the same
//!   COOP/COEP headers as the app (so the page is cross-origin isolated and TF.js may use threads), driven
//!   by `tests/e2e/tfjs-peer.mjs`. Its versions are pinned by `xtask/peers/tfjs/package*.json`.
//!
//! Each prints one JSON object with `steps_per_s`, `tokens_per_s`, `params` and its versions.

use std::path::PathBuf;

use serde_json::Value;

use crate::measure::{collect_rows, json_values, Row, System};
use crate::project::{self, Project};
use crate::server::StaticServer;
use crate::{tools, Result};

/// PyTorch's version on PyPI; its Linux wheel pulls about 4 GB of CUDA packages with it.
pub const TORCH_VERSION: &str = "2.15.0";
/// The engine's parameter count for `tiny` on toy-english (as `faultline train --config tiny` prints it):
/// the peers must report the same.
pub const ENGINE_TINY_PARAMS: u64 = 107_904;
/// Timed steps and untimed warm-up steps of each peer.
const PYTORCH_STEPS: &str = "100";
const TFJS_STEPS: &str = "20";
const WARMUP: &str = "5";

/// PyTorch, CPU, one thread.
pub struct PyTorch;

impl System for PyTorch {
    fn name(&self) -> &'static str {
        "PyTorch peer"
    }

    fn is_peer(&self) -> bool {
        true
    }

    fn measure(&self, project: &Project) -> Result<Vec<Row>> {
        let python = ensure_torch(project)?;
        let mut command = project.command(&python.to_string_lossy());
        command.arg(project.root.join("xtask/peers/pytorch_tiny.py")).args([PYTORCH_STEPS, WARMUP]);
        println!("$ {}", project::display(&command));
        let result = peer_result(&project::output(&mut command)?)?;
        let threads = result["threads"].as_u64().unwrap_or(0);
        let version = result["torch"].as_str().unwrap_or("?");
        peer_rows(&result, &format!("PyTorch {version} cpu ({threads} thread{})", plural(threads)))
    }
}

/// TensorFlow.js, `wasm` backend, headless Chromium.
pub struct TfJs;

impl System for TfJs {
    fn name(&self) -> &'static str {
        "TensorFlow.js peer"
    }

    fn is_peer(&self) -> bool {
        true
    }

    fn measure(&self, project: &Project) -> Result<Vec<Row>> {
        let page = project.root.join("xtask/peers/tfjs");
        tools::ensure_browser_tools(project)?;
        tools::ensure_npm_packages(project, &page)?;
        let url = StaticServer::bind(&page, 0)?.spawn()?;
        let mut node = project.command("node");
        node.arg(project.e2e_dir().join("tfjs-peer.mjs"))
            .args([TFJS_STEPS, WARMUP])
            .env("FAULTLINE_URL", &url)
            .env("FAULTLINE_CHROMIUM", tools::CHROMIUM);
        println!("$ {} (at {url})", project::display(&node));
        let result = peer_result(&project::output(&mut node)?)?;
        let threads = result["threads"].as_u64().unwrap_or(0);
        let version = result["tfjs"].as_str().unwrap_or("?");
        let simd = if result["simd"].as_bool() == Some(true) { " simd" } else { "" };
        let system = format!("TF.js {version} wasm{simd} ({threads} thread{})", plural(threads));
        peer_rows(&result, &system)
    }
}

fn plural(count: u64) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

/// The venv's python, with torch [`TORCH_VERSION`] installed into it from PyPI unless it already is.
pub fn ensure_torch(project: &Project) -> Result<PathBuf> {
    let venv = project.target_dir().join("peers/venv");
    let python = venv.join("bin/python");
    let installed = || {
        project::probe(
            project.command(&python.to_string_lossy()).args(["-c", "import torch; print(torch.__version__)"]),
        )
    };
    if installed().as_deref().map(local_version) == Some(TORCH_VERSION) {
        return Ok(python);
    }
    if !python.is_file() {
        project::run(project.command("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    println!("xtask: installing torch=={TORCH_VERSION} from PyPI into {} (about 4 GB with CUDA)", venv.display());
    let requirement = format!("torch=={TORCH_VERSION}");
    project::run(project.command(&python.to_string_lossy()).args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        &requirement,
    ]))?;
    match installed() {
        Some(version) if local_version(&version) == TORCH_VERSION => Ok(python),
        other => Err(format!("torch=={TORCH_VERSION} was installed but python reports {other:?}").into()),
    }
}

/// `2.15.0+cpu` -> `2.15.0`.
fn local_version(version: &str) -> &str {
    version.split('+').next().unwrap_or(version)
}

/// The peer's result: the last JSON object in its output that has a `steps_per_s` or an `error`; an
/// `error` is returned as one.
fn peer_result(stdout: &str) -> Result<Value> {
    let result = json_values(stdout)?
        .into_iter()
        .rev()
        .find(|value| value.get("steps_per_s").is_some() || value.get("error").is_some())
        .ok_or_else(|| format!("no result in the peer's output:\n{stdout}"))?;
    if let Some(error) = result.get("error") {
        return Err(format!("the peer reported an error: {}", error.as_str().unwrap_or(&error.to_string())).into());
    }
    println!("{result}"); // versions, losses and threads, for the record
    Ok(result)
}

/// The peer's training rows, under `system`; a parameter count other than the engine's is named in it.
fn peer_rows(result: &Value, system: &str) -> Result<Vec<Row>> {
    let system = match result["params"].as_u64() {
        Some(ENGINE_TINY_PARAMS) => system.to_string(),
        Some(params) => format!("{system}, {params} params, engine {ENGINE_TINY_PARAMS}"),
        None => return Err(format!("the peer did not report its parameter count: {result}").into()),
    };
    let mut rows = Vec::new();
    collect_rows(result, &system, &mut rows);
    if rows.is_empty() {
        return Err(format!("the peer's result has no throughput: {result}").into());
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_peer_result_among_other_lines() {
        let stdout = "warming up\n{\"note\": 1}\n{\"config\": \"tiny\", \"steps_per_s\": 50.0, \"tokens_per_s\": 51200.0, \"params\": 107904}\n";
        let result = peer_result(stdout).unwrap();
        let rows = peer_rows(&result, "PyTorch 2.15.0 cpu (1 thread)").unwrap();
        let found: Vec<(&str, &str, Option<f64>)> =
            rows.iter().map(|row| (row.benchmark.as_str(), row.metric, row.value)).collect();
        assert_eq!(found, [("train tiny", "steps/s", Some(50.0)), ("train tiny", "tokens/s", Some(51200.0))]);
        assert_eq!(rows[0].system, "PyTorch 2.15.0 cpu (1 thread)");
    }

    #[test]
    fn a_reported_error_or_missing_result_fails() {
        let err = peer_result("{\"error\": \"wasm backend not found\"}").unwrap_err().to_string();
        assert!(err.contains("wasm backend not found"), "{err}");
        assert!(peer_result("{\"other\": 1}").is_err());
        assert!(peer_result("Traceback (most recent call last):").is_err());
    }

    #[test]
    fn a_different_parameter_count_is_named_and_a_missing_one_fails() {
        let result = json!({"config": "tiny", "steps_per_s": 3.0, "params": 112512});
        let rows = peer_rows(&result, "TF.js").unwrap();
        assert_eq!(rows[0].system, "TF.js, 112512 params, engine 107904");
        assert!(peer_rows(&json!({"config": "tiny", "steps_per_s": 3.0}), "TF.js").is_err());
    }

    #[test]
    fn local_versions_are_dropped() {
        assert_eq!(local_version("2.15.0+cu130"), "2.15.0");
        assert_eq!(local_version("2.15.0"), "2.15.0");
    }
}
