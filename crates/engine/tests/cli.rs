//! The `faultline` command line's checkpoint flags: a run saved with `--save-checkpoint` comes back
//! with `--resume`, and a file that is not a checkpoint is refused with exit code 2.

use std::path::PathBuf;
use std::process::{Command, Output};

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline")).args(args).output().expect("the faultline binary runs")
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("faultline-cli-{}-{name}", std::process::id()))
}

#[test]
fn a_saved_run_resumes_with_its_own_settings() {
    let file = temp("run.flckpt");
    let path = file.to_str().unwrap();
    let train = faultline(&["train", "--steps", "3", "--batch", "2", "--seed", "5", "--save-checkpoint", path]);
    assert!(train.status.success(), "{}", String::from_utf8_lossy(&train.stderr));
    assert!(String::from_utf8_lossy(&train.stdout).contains(&format!("checkpoint of step 3 written to {path}")));
    let resume = faultline(&["train", "--resume", path]);
    let stdout = String::from_utf8_lossy(&resume.stdout);
    assert!(resume.status.success(), "{}", String::from_utf8_lossy(&resume.stderr));
    assert!(stdout.contains("resumed from step 3 of 3") && stdout.contains("done: 3 steps"), "{stdout}");
    let mixed = faultline(&["train", "--resume", path, "--lr", "0.1"]);
    assert_eq!(mixed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&mixed.stderr).contains("--lr: a resumed run keeps the checkpoint's settings"));
    std::fs::remove_file(file).unwrap();
}

#[test]
fn a_file_that_is_not_a_checkpoint_is_refused() {
    let file = temp("garbage.flckpt");
    std::fs::write(&file, b"just some text").unwrap();
    let out = faultline(&["train", "--resume", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--resume: not a Faultline checkpoint"), "{stderr}");
    std::fs::remove_file(file).unwrap();
}
