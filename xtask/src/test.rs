//! `cargo xtask test`: every check, in order, stopping at the first failure.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use crate::project::{self, Project};
use crate::server::StaticServer;
use crate::{site, size, tools, Result};

/// One named check; the title is printed as a header before its own output.
struct Stage<'a> {
    title: &'static str,
    action: Box<dyn FnOnce() -> Result + 'a>,
}

impl<'a> Stage<'a> {
    fn new(title: &'static str, action: impl FnOnce() -> Result + 'a) -> Self {
        Self { title, action: Box::new(action) }
    }

    fn command(title: &'static str, mut command: Command) -> Self {
        Self::new(title, move || project::run(&mut command))
    }
}

pub fn run(project: &Project) -> Result {
    println!("==> checking tools (installing what is missing)");
    tools::ensure_check_tools(project)?;
    tools::ensure_site_tools(project)?;
    tools::ensure_browser_tools(project)?;

    let cargo = |args: &[&str]| {
        let mut command = project.cargo();
        command.args(args);
        command
    };
    // The engine's tests and the detector's evaluation train real runs (the symptom tests, ~140 runs;
    // the held-out sample): a release build runs them in half the time of the dev profile, and loses
    // no checks, since the engine's dev profile already has debug assertions and overflow checks off
    // (Cargo.toml). The confusion matrix over three seeds trains ~170 more runs: CI checks its first
    // seed, whose runs the symptom test shares; `cargo test --release -p faultline-evaluation --test
    // symptoms` without the variable runs all three.
    let mut engine_tests = cargo(&[
        "test",
        "--release",
        "-p",
        "faultline-engine",
        "-p",
        "faultline-evaluation",
        "--features",
        "faultline-engine/threads",
    ]);
    engine_tests.env("FAULTLINE_MATRIX_SEEDS", "1").env("FAULTLINE_MATRIX_CORPORA", "alternate");
    let mut stages = vec![
        Stage::command("formatting", cargo(&["fmt", "--all", "--check"])),
        Stage::command("clippy, native", cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])),
        Stage::command(
            "clippy, the app for wasm32",
            cargo(&["clippy", "-p", "faultline-app", "--target", "wasm32-unknown-unknown", "--", "-D", "warnings"]),
        ),
        Stage::command(
            "clippy, the worker's builds without WebGPU for wasm32",
            cargo(&[
                "clippy",
                "-p",
                "faultline-app",
                "--target",
                "wasm32-unknown-unknown",
                "--no-default-features",
                "--",
                "-D",
                "warnings",
            ]),
        ),
        Stage::command(
            "native tests: the app, the guide, telemetry, detector and log-reader crates, the GPU backend, the command line, xtask",
            cargo(&["test", "--workspace", "--exclude", "faultline-engine", "--exclude", "faultline-evaluation"]),
        ),
        Stage::command("native tests: the engine and the detector against real runs, release build", engine_tests),
        Stage::command(
            "native tests: a steady training step allocates nothing (the browser's matrix kernel, 1 and 2 threads)",
            cargo(&[
                "test",
                "--release",
                "-p",
                "faultline-engine",
                "--features",
                "packed-matmul,threads",
                "--test",
                "allocation",
            ]),
        ),
    ];
    let web_tests = web_tests(project)?;
    if !web_tests.is_empty() {
        // Only the web test targets: the app's unit tests are native tests.
        let mut command = cargo(&["test", "-p", "faultline-app", "--target", "wasm32-unknown-unknown"]);
        for name in &web_tests {
            command.args(["--test", name]);
        }
        command
            .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", "wasm-bindgen-test-runner")
            .env("CHROMEDRIVER", tools::CHROMEDRIVER);
        stages.push(Stage::command("wasm tests in headless Chromium", command));
    }
    stages.push(Stage::new("browser end-to-end tests, release build", || end_to_end(project)));

    let total = stages.len();
    for (index, stage) in stages.into_iter().enumerate() {
        let number = index + 1;
        println!("\n==> [{number}/{total}] {}", stage.title);
        let started = Instant::now();
        let outcome = (stage.action)();
        let seconds = started.elapsed().as_secs_f64();
        if let Err(err) = outcome {
            println!("==> [{number}/{total}] {}: FAILED after {seconds:.0} s", stage.title);
            println!("stages: {index} passed, 1 failed");
            return Err(format!("stage `{}` failed: {err}", stage.title).into());
        }
        println!("==> [{number}/{total}] {}: ok ({seconds:.0} s)", stage.title);
    }
    println!("\nstages: {total} passed, 0 failed");
    Ok(())
}

/// The app's in-browser wasm test targets: the names of its `tests/web_*.rs` files.
fn web_tests(project: &Project) -> Result<Vec<String>> {
    let files = files_in(project.root.join("tests"), |name| name.starts_with("web_") && name.ends_with(".rs"))?;
    Ok(files.iter().filter_map(|file| file.file_stem()?.to_str().map(String::from)).collect())
}

/// Builds the release site, serves it on a free port and runs `node --test` on `tests/e2e/*.test.mjs`.
fn end_to_end(project: &Project) -> Result {
    let dist = project.target_dir().join("xtask/e2e-dist");
    let policy = site::build_release(project, &dist)?;
    size::check(&dist)?;
    let url = StaticServer::bind(&dist, 0)?.with_policy(policy).spawn()?;
    println!("xtask: serving the release build at {url}");
    let files = files_in(project.e2e_dir(), |name| name.ends_with(".test.mjs"))?;
    if files.is_empty() {
        return Err("no end-to-end tests (tests/e2e/*.test.mjs)".into());
    }
    let mut node = project.command("node");
    node.args(["--test", "--test-concurrency=1", "--test-reporter=spec"])
        .args(&files)
        .env("FAULTLINE_URL", &url)
        .env("FAULTLINE_CHROMIUM", tools::CHROMIUM);
    project::run(&mut node)
}

/// The files directly in `dir` whose names match, sorted; none if `dir` does not exist.
fn files_in(dir: PathBuf, matches: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(&dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|name| name.to_str());
        if path.is_file() && name.is_some_and(&matches) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
