//! Installs whatever a verb needs that is missing, always at a pinned version, from package registries only
//! (crates.io, npm, Debian's apt): nothing is downloaded from anywhere else, and nothing already present at
//! the right version is installed again.
//!
//! | tool | pinned by | installed with |
//! |---|---|---|
//! | wasm32-unknown-unknown, rustfmt, clippy | the stable toolchain | `rustup` |
//! | nightly with rust-src (the worker's threaded build) | [`NIGHTLY`], the nightly rustup has | `rustup` |
//! | trunk | [`TRUNK_VERSION`] | `cargo install --locked` |
//! | wasm-bindgen-cli (+ test runner) | `Cargo.lock`'s wasm-bindgen | `cargo install` (not `--locked`: a dependency's pinned version is missing from the registry) |
//! | wasm-opt (binaryen) | `xtask/npm-tools/package*.json`, and `Trunk.toml` `[tools] wasm_opt` | `npm ci` into `.tools/` |
//! | playwright-core, axe-core | `tests/e2e/package*.json` | `npm ci` in `tests/e2e/` |
//! | @tensorflow/tfjs, tfjs-backend-wasm (bench peer) | `xtask/peers/tfjs/package*.json` | `npm ci` in `xtask/peers/tfjs/` |
//! | torch (bench peer) | [`crate::peers::TORCH_VERSION`] | `pip install` from PyPI into `target/peers/venv` |
//! | chromium, chromium-driver, mesa-vulkan-drivers | Debian's release | `apt-get install -y` |

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::project::{self, Project};
use crate::Result;

/// Trunk 0.21.14 is the newest release that builds with the stable Rust this project targets.
pub const TRUNK_VERSION: &str = "0.21.14";
/// Debian's Chromium, driven by playwright-core in the end-to-end tests and the bench.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's chromedriver, used by `wasm-bindgen-test-runner` for the in-browser wasm tests.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The toolchain that builds the worker's threaded build (`-Z build-std` needs nightly): whichever
/// nightly rustup has, or today's where it has none.
pub const NIGHTLY: &str = "nightly";

pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
const BROWSER_PACKAGES: [&str; 2] = ["chromium", "chromium-driver"];
/// Mesa's CPU Vulkan driver (lavapipe), for running the WGSL kernels without a GPU.
const VULKAN_PACKAGES: [&str; 1] = ["mesa-vulkan-drivers"];

/// What a release build of the site needs: the wasm target, the crates fetched (Trunk runs cargo offline),
/// Trunk, the matching wasm-bindgen and binaryen's wasm-opt.
pub fn ensure_site_tools(project: &Project) -> Result {
    ensure_node()?;
    ensure_wasm_target(project)?;
    project::run(project.cargo().arg("fetch"))?;
    ensure_trunk(project)?;
    ensure_wasm_bindgen(project)?;
    ensure_nightly(project)?;
    ensure_binaryen(project)
}

/// What driving a browser needs: Debian's Chromium and chromedriver, and playwright-core.
pub fn ensure_browser_tools(project: &Project) -> Result {
    ensure_node()?;
    ensure_apt(&BROWSER_PACKAGES)?;
    ensure_npm_packages(project, &project.e2e_dir())
}

/// What `cargo xtask test` needs besides the site and the browser: rustfmt, clippy and lavapipe.
pub fn ensure_check_tools(project: &Project) -> Result {
    ensure_apt(&VULKAN_PACKAGES)?;
    for (component, subcommand) in [("rustfmt", "fmt"), ("clippy", "clippy")] {
        if project::probe(project.cargo().args([subcommand, "--version"])).is_none() {
            project::run(project.command("rustup").args(["component", "add", component]))?;
        }
    }
    Ok(())
}

fn ensure_node() -> Result {
    let version = project::probe(std::process::Command::new("node").arg("--version"))
        .ok_or("node is not installed: install node 20 or newer (with npm) first")?;
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .ok_or_else(|| format!("cannot read node's version from `{version}`"))?;
    if major < 20 {
        return Err(format!("node {version} is too old: node 20 or newer is needed").into());
    }
    project::probe(std::process::Command::new("npm").arg("--version"))
        .ok_or("npm is not installed: install it beside node first")?;
    Ok(())
}

fn ensure_wasm_target(project: &Project) -> Result {
    let installed = project::output(project.command("rustup").args(["target", "list", "--installed"]))?;
    if !installed.lines().any(|line| line.trim() == WASM_TARGET) {
        project::run(project.command("rustup").args(["target", "add", WASM_TARGET]))?;
    }
    Ok(())
}

/// Nightly Rust with its standard library's source, which the threaded build recompiles with atomics.
fn ensure_nightly(project: &Project) -> Result {
    let rustup = |args: &[&str]| project.command("rustup").args(args).output();
    let has_nightly = rustup(&["run", NIGHTLY, "rustc", "--version"]).is_ok_and(|out| out.status.success());
    if !has_nightly {
        project::run(project.command("rustup").args(["toolchain", "install", NIGHTLY, "--profile", "minimal"]))?;
    }
    let components =
        project::output(project.command("rustup").args(["component", "list", "--installed", "--toolchain", NIGHTLY]))?;
    if !components.lines().any(|line| line.trim() == "rust-src") {
        project::run(project.command("rustup").args(["component", "add", "rust-src", "--toolchain", NIGHTLY]))?;
    }
    Ok(())
}

fn ensure_trunk(project: &Project) -> Result {
    let wanted = format!("trunk {TRUNK_VERSION}");
    if project::probe(project.command("trunk").arg("--version")).as_deref() == Some(&wanted) {
        return Ok(());
    }
    println!("xtask: installing {wanted} from crates.io (this takes several minutes)");
    project::run(project.cargo().args(["install", "--locked", "trunk", "--version", TRUNK_VERSION]))
}

fn ensure_wasm_bindgen(project: &Project) -> Result {
    let lock = fs::read_to_string(project.root.join("Cargo.lock"))?;
    let version =
        locked_version(&lock, "wasm-bindgen").ok_or("Cargo.lock has no wasm-bindgen: the app must depend on it")?;
    let wanted = format!("wasm-bindgen {version}");
    if project::probe(project.command("wasm-bindgen").arg("--version")).as_deref() == Some(&wanted) {
        return Ok(());
    }
    println!("xtask: installing wasm-bindgen-cli {version} (matching Cargo.lock) from crates.io");
    project::run(project.cargo().args(["install", "wasm-bindgen-cli", "--version", &format!("={version}")]))
}

/// binaryen's wasm-opt from npm, into `.tools/`. Debian's binaryen is too old: its wasm-opt silently
/// breaks release builds of this app (a blank page and a `Table.set` TypeError).
fn ensure_binaryen(project: &Project) -> Result {
    let manifests = project.root.join("xtask/npm-tools");
    let tools = project.tools_dir();
    fs::create_dir_all(&tools)?;
    for file in ["package.json", "package-lock.json"] {
        let wanted = fs::read(manifests.join(file))?;
        if fs::read(tools.join(file)).ok().as_ref() != Some(&wanted) {
            fs::write(tools.join(file), wanted)?;
        }
    }
    ensure_npm_packages(project, &tools)
}

/// Runs `npm ci` in `dir` unless every dependency its `package.json` pins is installed at that version.
pub fn ensure_npm_packages(project: &Project, dir: &Path) -> Result {
    let manifest: Value = serde_json::from_str(&fs::read_to_string(dir.join("package.json"))?)?;
    let pins = manifest["dependencies"]
        .as_object()
        .ok_or_else(|| format!("{}/package.json has no dependencies", dir.display()))?;
    let up_to_date = pins.iter().all(|(name, pin)| {
        let installed = dir.join("node_modules").join(name).join("package.json");
        let version = fs::read_to_string(installed)
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .and_then(|package| package["version"].as_str().map(String::from));
        version.as_deref() == pin.as_str()
    });
    if up_to_date {
        return Ok(());
    }
    let mut npm = project.command("npm");
    npm.current_dir(dir).args(["ci", "--no-audit", "--no-fund"]);
    project::run(&mut npm)
}

fn ensure_apt(packages: &[&str]) -> Result {
    let missing: Vec<&str> = packages.iter().copied().filter(|package| !apt_installed(package)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut prefix = Vec::new();
    if project::probe(std::process::Command::new("id").arg("-u")).as_deref() != Some("0") {
        prefix.push("sudo");
    }
    let apt_get = |args: &[&str]| -> Result {
        let mut all = prefix.clone();
        all.push("apt-get");
        all.extend_from_slice(args);
        let mut command = std::process::Command::new(all[0]);
        command.args(&all[1..]).env("DEBIAN_FRONTEND", "noninteractive");
        project::run(&mut command)
    };
    apt_get(&["update"])?;
    let mut install = vec!["install", "-y"];
    install.extend(&missing);
    apt_get(&install)
}

fn apt_installed(package: &str) -> bool {
    project::probe(std::process::Command::new("dpkg-query").args(["--show", "--showformat=${Status}", package]))
        .is_some_and(|status| status == "install ok installed")
}

/// The version of `package` in a `Cargo.lock` (the first, if several are locked).
fn locked_version(lock: &str, package: &str) -> Option<String> {
    let name_line = format!("name = \"{package}\"");
    let mut lines = lock.lines().map(str::trim);
    lines.find(|line| *line == name_line)?;
    let version = lines.next()?.strip_prefix("version = \"")?;
    version.strip_suffix('"').map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_locked_version() {
        let lock = "\
[[package]]
name = \"wasm-bindgen-macro\"
version = \"0.2.1\"

[[package]]
name = \"wasm-bindgen\"
version = \"0.2.130\"
source = \"registry+https://github.com/rust-lang/crates.io-index\"
";
        assert_eq!(locked_version(lock, "wasm-bindgen").as_deref(), Some("0.2.130"));
        assert_eq!(locked_version(lock, "leptos"), None);
    }
}
