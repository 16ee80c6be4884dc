//! Faultline's developer commands, run as `cargo xtask <verb>` (the alias lives in `.cargo/config.toml`).
//!
//! - `serve [--port N]`: build the release site and serve it on 127.0.0.1 with COOP/COEP and CSP headers
//!   (also under `/faultline/`, and under `/plain/` without them, as a static host that sends no headers).
//! - `dist`: build the release static site into `dist/`.
//! - `test`: fmt, clippy, native tests, wasm tests, then the browser end-to-end suite.
//! - `bench`: the native engine's benchmark, the in-browser bench page and two peers (PyTorch on the CPU,
//!   TensorFlow.js on its wasm backend in Chromium), as one table.
//! - `peer-logs [--tuning]`: PyTorch trains healthy and broken runs and writes their logs in five
//!   formats; the detector reads them (a benchmark of `faultline diagnose` on another framework's logs).
//!
//! Every verb first installs whatever it needs that is missing (see [`tools`]), with pinned versions, so a
//! fresh machine needs nothing but rustup's stable Rust, node and npm.

mod bench;
mod cli;
mod csp;
mod measure;
mod offline;
mod peer_logs;
mod peers;
mod project;
mod server;
mod site;
mod size;
mod test;
mod tools;

use std::process::ExitCode;

use cli::Verb;
use project::Project;

/// Errors are reported once, at the top, as a single line.
type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verb = match cli::parse(&args) {
        Ok(verb) => verb,
        Err(usage) => {
            eprintln!("xtask: {usage} (see `cargo xtask help`)");
            return ExitCode::from(2);
        }
    };
    match run(verb) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(verb: Verb) -> Result {
    if let Verb::Help = verb {
        print!("{}", cli::USAGE);
        return Ok(());
    }
    let project = Project::locate()?;
    match verb {
        Verb::Help => Ok(()),
        Verb::Serve { port } => site::serve(&project, port),
        Verb::Dist => site::dist(&project),
        Verb::Test => test::run(&project),
        Verb::Bench { only } => bench::run(&project, only),
        Verb::PeerLogs { tuning } => peer_logs::run(&project, tuning),
    }
}
