//! `faultline`: the native command line (train, lr-find, diagnose, faults, corpora, guide, bench). It trains on
//! the CPU backend; `bench --webgpu` also measures the GPU backend (Vulkan) beside it.
//!
//! Bad arguments print one line naming the argument and exit with code 2. A run that fails (out of
//! memory, or a NaN or Inf that stops it) prints one line saying why and exits with code 1.

mod align;
mod args;
mod bench;
mod diagnose;
mod lr_find;
mod tables;
mod train;

use align::align;
use args::{on_threads, ArgError, Failure};
use bench::bench;
use diagnose::diagnose;
use lr_find::lr_find;
use std::io::{ErrorKind, Write};
use std::process::ExitCode;
use tables::{corpora, exercises, faults, guide_cmd, settings_cmd};
use train::train;

const USAGE: &str = "usage:
  faultline train [--config tiny|small] [--fault ID[=VALUE]]... [--steps N] [--seed S]
                  [--corpus ID | --text-file F] [--lr X] [--optimizer adamw|sgd] [--json]
                  [--sample N] [--SETTING VALUE]...   (every setting: faultline settings)
                  [--save-checkpoint F]   (the run's state at its end, to resume later)
                  [--threads N]   (train and lr-find: products, attention and GELU on N threads)
  faultline train --resume F [--json] [--sample N] [--save-checkpoint F]
                  (continues a checkpoint with its own settings and faults)
  faultline align dpo [--fault ID[=VALUE]]... [--steps N] [--seed S] [--corpus ID | --text-file F --prefer-word W] [--beta X]
                  [--fine-tune-lr X] [--lora-rank R] [--pairs N] [--eval-every N]
                  [--pretrain-steps N | --base F] [--SETTING VALUE]... [--json]
                  (DPO fine-tuning of a base model pretrained first, or of checkpoint F;
                   --steps, --pairs, --eval-every: the fine-tuning's; the fine-tuning faults
                   and settings: faultline faults, faultline settings)
  faultline align rl [--fault ID[=VALUE]]... [--steps N] [--seed S] [--corpus ID | --text-file F --prefer-word W]
                  [--kl-coef X] [--reward-models K] [--reward-pairs N] [--entropy-bonus X] [--fine-tune-lr X]
                  [--lora-rank R] [--prompts N] [--eval-every N] [--pretrain-steps N | --base F] [--json]
                  (policy-gradient fine-tuning against K bigram reward models trained on N preference
                   pairs each, with a KL penalty to the frozen reference; the proxy reward beside the
                   true quality; toy-english unless a corpus, text or base is given)
  faultline align sft --text-file F [--lora-rank R] [--fine-tune-lr X] [--steps N] [--eval-every N]
                  [--pretrain-steps N | --base F] [--SETTING VALUE]... [--json]
                  (the base model trained further on text F in its own vocabulary, every weight or
                   LoRA adapters; the loss on F and on its held-out last quarter)
  faultline lr-find [--config tiny|small] [--seed S] [--fault ID[=VALUE]]... [--json]
                  [--start-lr X] [--end-lr X] [--num-lrs N] [--SETTING VALUE]...
  faultline diagnose FILE... [--format auto|hf|tb-csv|tb-events|wandb-csv|nanogpt|trl|jsonl]
                  [--vocab-size V] [--json]
                  (a training log another program wrote: the guide entries it shows, and what
                   it would need to log to tell the others)
  faultline settings [--json]
  faultline faults  [--json]
  faultline corpora [--json]
  faultline guide   [--json]
  faultline exercises [--json]   (the guided exercises as the app lists them)
  faultline bench   [--json] [--steps N] [--config tiny|small] [--threads N] [--webgpu [--sync-every-step]] [--dpo] [--rl]
                  (--threads N: the CPU's training again, split across N threads;
                   --webgpu: the GPU backend too, with its dispatches, submissions and readbacks
                   per step; --sync-every-step: the GPU reads everything back after every step;
                   --dpo: a DPO step of tiny beside a pretraining step, full and LoRA, on each backend;
                   --rl: a policy-gradient step of tiny, its rollout and its update, on each backend)";

/// `println!` that hands a failed write back as a [`Failure::Output`] instead of panicking.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout(), $($arg)*).map_err($crate::args::Failure::Output)
    };
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("faultline: missing command\n{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "train" => on_threads(rest, train),
        "align" => on_threads(rest, align),
        "lr-find" => on_threads(rest, lr_find),
        "faults" => faults(rest),
        "corpora" => corpora(rest),
        "guide" => guide_cmd(rest),
        "exercises" => exercises(rest),
        "settings" => settings_cmd(rest),
        "bench" => bench(rest),
        "diagnose" => diagnose(rest),
        "-h" | "--help" | "help" => out!("{USAGE}"),
        other => Err(Failure::Arg(ArgError(format!(
            "unknown command '{other}' (expected train, align, lr-find, diagnose, faults, corpora, guide, exercises or bench)"
        )))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Arg(ArgError(msg))) => {
            eprintln!("faultline: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Run(msg)) => {
            eprintln!("faultline: {msg}");
            ExitCode::from(1)
        }
        Err(Failure::Output(e)) if e.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(e)) => {
            eprintln!("faultline: cannot write the output: {e}");
            ExitCode::from(1)
        }
    }
}
