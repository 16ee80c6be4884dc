//! The workspace the xtask runs in, and running other programs inside it.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Result;

pub struct Project {
    /// The workspace root (the folder holding the root `Cargo.toml`).
    pub root: PathBuf,
    /// `PATH` with the project's own tools and cargo's install folder in front.
    path_var: OsString,
}

impl Project {
    pub fn locate() -> Result<Self> {
        let root =
            Path::new(env!("CARGO_MANIFEST_DIR")).parent().ok_or("the xtask crate has no parent folder")?.to_path_buf();
        let mut dirs = vec![root.join(".tools/node_modules/.bin"), cargo_bin_dir()];
        if let Some(path) = env::var_os("PATH") {
            dirs.extend(env::split_paths(&path));
        }
        let path_var = env::join_paths(dirs)?;
        Ok(Self { root, path_var })
    }

    /// The project-local tools folder (ignored by git), where npm-installed build tools live.
    pub fn tools_dir(&self) -> PathBuf {
        self.root.join(".tools")
    }

    pub fn e2e_dir(&self) -> PathBuf {
        self.root.join("tests/e2e")
    }

    /// Cargo's target folder; xtask keeps its own outputs under `target/xtask/`.
    pub fn target_dir(&self) -> PathBuf {
        env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| self.root.join("target"))
    }

    /// A command that runs in the workspace root with the project's `PATH`.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.current_dir(&self.root).env("PATH", &self.path_var);
        command
    }

    /// The cargo that runs this xtask (so a `+toolchain` choice carries over).
    pub fn cargo(&self) -> Command {
        let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        self.command(&cargo)
    }
}

fn cargo_bin_dir() -> PathBuf {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"))
        .join("bin")
}

/// How a command line reads to a person: `program arg arg`, the program without its folder.
pub fn display(command: &Command) -> String {
    let program = Path::new(command.get_program());
    let mut line = program.file_name().unwrap_or(program.as_os_str()).to_string_lossy().into_owned();
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// Runs a command with its output on the terminal; fails unless it exits with 0.
pub fn run(command: &mut Command) -> Result {
    println!("$ {}", display(command));
    let status = command.status().map_err(|err| format!("could not start `{}`: {err}", display(command)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", display(command)).into())
    }
}

/// Runs a command and returns its standard output; its standard error stays on the terminal.
pub fn output(command: &mut Command) -> Result<String> {
    let out = command
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|err| format!("could not start `{}`: {err}", display(command)))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("`{}` failed ({})", display(command), out.status).into())
    }
}

/// The standard output of a quiet probe such as `tool --version`, or `None` if it is missing or fails.
pub fn probe(command: &mut Command) -> Option<String> {
    let out = command.stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
