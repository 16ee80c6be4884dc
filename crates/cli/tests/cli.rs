//! The `faultline` command line: a run saved with `--save-checkpoint` comes back with `--resume`, a file
//! that is not a checkpoint is refused with exit code 2, a run that fails exits with code 1 and still
//! reports, `bench --webgpu` measures both backends, and a reader that goes away ends the output quietly.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

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

/// `bench --webgpu` measures the GPU backend beside the CPU in one run, with its work per step
/// (natively on Mesa's lavapipe; `FAULTLINE_SKIP_GPU=1` skips it on a machine without a Vulkan adapter).
#[test]
fn bench_measures_the_gpu_beside_the_cpu() {
    if std::env::var("FAULTLINE_SKIP_GPU").is_ok_and(|v| v == "1") {
        eprintln!("FAULTLINE_SKIP_GPU=1: skipping a GPU test");
        return;
    }
    let out = faultline(&["bench", "--json", "--config", "tiny", "--steps", "2", "--webgpu"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let cpu = v["training"].as_array().expect("the CPU's results");
    assert_eq!(cpu.len(), 1, "--config tiny measures tiny alone: {v}");
    assert_eq!(cpu[0]["config"], "tiny");
    let gpu = v["webgpu"].as_array().expect("the GPU's results");
    assert_eq!(gpu.len(), 1, "{v}");
    let g = &gpu[0];
    assert!(g["error"].is_null(), "{g}");
    assert_eq!((g["config"].as_str(), g["backend"].as_str()), (Some("tiny"), Some("webgpu")));
    assert!(g["steps_per_s"].as_f64().is_some_and(|s| s > 0.0), "{g}");
    assert!(g["dispatches_per_step"].as_f64().is_some_and(|d| d > 50.0), "{g}");
    assert!(g["readbacks_per_step"].as_f64().is_some_and(|r| r > 0.0), "{g}");
    assert_eq!(g["steps_per_readback"], 8);
    assert!(g["record_us_per_dispatch"].as_f64().is_some_and(|r| r > 0.0), "{g}");
}

#[test]
fn bench_arguments_that_make_no_sense_are_refused() {
    let sync = faultline(&["bench", "--sync-every-step"]);
    assert_eq!(sync.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&sync.stderr).contains("--sync-every-step: only with --webgpu"));
    let config = faultline(&["bench", "--config", "huge"]);
    assert_eq!(config.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&config.stderr).contains("--config: unknown config 'huge'"));
}

/// `--threads N` splits the large kernels across N threads and changes no bit of the run: the same
/// losses and the same checkpoint file as one thread.
#[test]
fn threads_train_the_same_run() {
    let (one, three) = (temp("one-thread.flckpt"), temp("three-threads.flckpt"));
    let run = |file: &PathBuf, threads: &[&str]| {
        let mut args = vec!["train", "--config", "tiny", "--steps", "4", "--batch", "8", "--json"];
        args.extend(threads);
        args.extend(["--save-checkpoint", file.to_str().unwrap()]);
        let out = faultline(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        let summary = text.lines().find(|l| l.contains("\"event\":\"summary\"")).expect("a summary line").to_string();
        let v: serde_json::Value = serde_json::from_str(&summary).unwrap();
        (v["train_loss"].clone(), v["val_loss"].clone())
    };
    let (single, threaded) = (run(&one, &[]), run(&three, &["--threads", "3"]));
    assert!(single.0.is_number() && single.1.is_number(), "{single:?}");
    assert_eq!(threaded, single, "train and validation loss");
    assert!(std::fs::read(&one).unwrap() == std::fs::read(&three).unwrap(), "the checkpoints differ");
    let bench = faultline(&["bench", "--json", "--config", "tiny", "--steps", "2", "--threads", "2"]);
    assert!(bench.status.success(), "{}", String::from_utf8_lossy(&bench.stderr));
    let v: serde_json::Value = serde_json::from_slice(&bench.stdout).unwrap();
    assert_eq!(v["training"][0]["threaded"]["threads"], 2, "{v}");
    for bad in ["0", "many"] {
        let out = faultline(&["train", "--threads", bad]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("--threads: must be a whole number from 1 to 256"));
    }
    std::fs::remove_file(one).unwrap();
    std::fs::remove_file(three).unwrap();
}

/// A reader that goes away (`faultline ... | head`) ends the command quietly: exit code 0, nothing on
/// stderr. The run's evaluation lines (about 5 KB each) add up to far more than a pipe holds (64 KiB),
/// so it is still writing when the reader goes.
#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    let args = ["train", "--json", "--steps", "40", "--eval-every", "1", "--sample-tokens", "0", "--batch", "2"];
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the faultline binary runs");
    let mut reader = child.stdout.take().expect("a piped stdout");
    let mut start = [0u8; 13];
    reader.read_exact(&mut start).unwrap();
    assert_eq!(&start, b"{\"attention\":");
    drop(reader);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "{:?}: {stderr}", out.status);
}

/// The `{"event":"summary",...}` line of a `--json` run's output.
fn summary(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line =
        text.lines().find(|l| l.contains("\"event\":\"summary\"")).unwrap_or_else(|| panic!("no summary in {text}"));
    serde_json::from_str(line).unwrap()
}

/// The keys of a finished run's summary line.
fn finished_summary_keys() -> Vec<String> {
    let out = faultline(&["train", "--steps", "1", "--batch", "2", "--sample-tokens", "0", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    summary(&out).as_object().unwrap().keys().cloned().collect()
}

/// A NaN stops the run (`layernorm-no-eps` on its fault-table scenario, `init-zero`: NaN at step 1):
/// exit code 1 and the reason on stderr, and under `--json` the summary line a finished run prints,
/// with the detector's reading and null for the losses never measured.
#[test]
fn a_run_stopped_by_a_nan_says_so_and_still_reports() {
    let out = faultline(&["train", "--fault", "layernorm-no-eps", "--fault", "init-zero", "--steps", "20", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("faultline: run stopped: non-finite value (NaN or Inf) in "), "{stderr}");
    let s = summary(&out);
    assert_eq!(s.as_object().unwrap().keys().cloned().collect::<Vec<_>>(), finished_summary_keys(), "{s}");
    assert_eq!((&s["diverged_at"], &s["steps_run"]), (&serde_json::json!(1), &serde_json::json!(0)), "{s}");
    assert!(s["train_loss"].is_null() && s["val_loss"].is_null() && s["first_bad_tensor"].is_string(), "{s}");
    assert_eq!(s["diagnosis"], serde_json::json!(["loss-becomes-nan"]), "{s}");
}

/// An error names what caused it: an unusable `--text-file` names that flag, and a run that does not
/// fit in memory (exit code 1: the run failed, no argument was bad) names its config and batch.
#[test]
fn errors_name_their_cause() {
    let file = temp("empty.txt");
    std::fs::write(&file, "").unwrap();
    let empty = faultline(&["train", "--text-file", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&empty.stderr);
    assert_eq!(empty.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("faultline: --text-file: the text '") && stderr.contains("' is empty"), "{stderr}");
    std::fs::remove_file(file).unwrap();
    let oom = faultline(&["train", "--config", "small", "--batch", "300", "--fault", "batch-too-large=4"]);
    let stderr = String::from_utf8_lossy(&oom.stderr);
    assert_eq!(oom.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("faultline: out of memory: "), "{stderr}");
    assert!(
        stderr.trim_end().ends_with("(config small, batch 1200: --batch 300 × 4 from --fault batch-too-large)"),
        "{stderr}"
    );
}

/// The guide entry `faults --json` gives for fault `id`.
fn guide_entry_of(id: &str) -> serde_json::Value {
    let out = faultline(&["faults", "--json"]);
    let faults: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    faults.as_array().unwrap().iter().find(|f| f["id"] == id).expect("a fault of the table")["guide_entry"].clone()
}

/// A run refused for memory before its first step (`batch-too-large`) still ends its `--json` output
/// with a summary line with the keys of a finished run's: the corpus's vocabulary from the settings,
/// the detector's diagnosis (the fault's own guide entry) and null for what no step measured.
#[test]
fn a_run_refused_for_memory_still_reports() {
    let out = faultline(&["train", "--fault", "batch-too-large", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("(config tiny, batch 2048: --batch 16 × 128 from --fault batch-too-large)"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1, "one line: the summary");
    let s = summary(&out);
    assert_eq!(s.as_object().unwrap().keys().cloned().collect::<Vec<_>>(), finished_summary_keys(), "{s}");
    assert_eq!(s["diagnosis"], serde_json::json!([guide_entry_of("batch-too-large")]), "{s}");
    let corpora: serde_json::Value = serde_json::from_slice(&faultline(&["corpora", "--json"]).stdout).unwrap();
    assert_eq!((&s["corpus"], &s["vocab_size"]), (&corpora[0]["id"], &corpora[0]["vocab_size"]), "{s}");
    assert_eq!(s["steps_run"], 0, "{s}");
    for never_measured in ["train_loss", "val_loss", "diverged_at", "first_bad_tensor", "tokens_per_s"] {
        assert!(s[never_measured].is_null(), "{never_measured}: {s}");
    }
}

/// `lr-find` trains too: a sweep refused for memory prints the document of a finished sweep, with no
/// point, no end and the detector's diagnosis (null for a sweep that ran: the detector reads runs).
#[test]
fn a_sweep_refused_for_memory_still_reports() {
    let keys = |doc: &serde_json::Value| doc.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    let ran = faultline(&["lr-find", "--num-lrs", "2", "--json"]);
    assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
    let ran: serde_json::Value = serde_json::from_slice(&ran.stdout).unwrap();
    assert!(ran["diagnosis"].is_null(), "{ran}");
    let out = faultline(&["lr-find", "--fault", "batch-too-large", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("(config tiny, batch 2048: --batch 16 × 128 from --fault batch-too-large)"), "{stderr}");
    let refused: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(keys(&refused), keys(&ran), "{refused}");
    assert_eq!(refused["diagnosis"], serde_json::json!([guide_entry_of("batch-too-large")]), "{refused}");
    assert!(refused["points"].as_array().is_some_and(|p| p.is_empty()) && refused["end"].is_null(), "{refused}");
}

/// A JSONL log as a PyTorch loop writes it: the loss falling from ln 65 with batch noise, the
/// gradient norm near 1; from `nan_at` on, `NaN` as Python's `json.dumps` spells it.
fn jsonl_log(steps: u64, nan_at: Option<u64>) -> String {
    (1..=steps)
        .map(|step| {
            let noise = ((step * 7919) % 13) as f32 / 13.0 - 0.5;
            let loss = 1.2 + 3.0 * (-(step as f32) / 60.0).exp() + 0.05 * noise;
            let norm = 1.0 + 0.2 * noise;
            match nan_at {
                Some(n) if step >= n => format!("{{\"step\": {step}, \"loss\": NaN, \"grad_norm\": NaN}}\n"),
                _ => format!("{{\"step\": {step}, \"loss\": {loss}, \"grad_norm\": {norm}, \"lr\": 0.001}}\n"),
            }
        })
        .collect()
}

#[test]
fn diagnose_reads_a_log_names_its_entry_and_says_what_it_cannot_tell() {
    let healthy = temp("healthy.jsonl");
    std::fs::write(&healthy, jsonl_log(400, None)).unwrap();
    let out = faultline(&["diagnose", healthy.to_str().unwrap(), "--vocab-size", "65", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let last: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "diagnosis");
    assert_eq!(last["format"], "jsonl");
    assert_eq!(last["steps"], 400);
    assert_eq!(last["diagnosis"], serde_json::json!([]), "{last}");
    let missing = last["missing"].as_array().unwrap();
    assert!(missing.iter().any(|m| m["entry"] == "vanishing-gradients" && m["signal"] == "layer-grad-norms"), "{last}");
    assert!(!missing.iter().any(|m| m["signal"] == "grad-norm"), "the log has the gradient norm: {last}");

    let broken = temp("nan.jsonl");
    std::fs::write(&broken, jsonl_log(400, Some(250))).unwrap();
    let out = faultline(&["diagnose", broken.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("loss-becomes-nan") && text.contains("the logged loss is NaN/Inf from step 250 on"),
        "{text}"
    );
    assert!(text.contains("ln V ≈"), "without --vocab-size, ln V comes from the first loss: {text}");

    let cut = temp("cut.json");
    std::fs::write(&cut, "{\"log_history\": [{\"step\": 1, \"loss\": 2.5}, {\"step\": 2, \"lo").unwrap();
    let out = faultline(&["diagnose", cut.to_str().unwrap(), "--format", "hf"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(cut.to_str().unwrap()), "the message names the file: {stderr}");
    let unknown = faultline(&["diagnose", cut.to_str().unwrap(), "--format", "csv"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("--format: 'csv' is not auto or one of hf"));
    for f in [healthy, broken, cut] {
        std::fs::remove_file(f).unwrap();
    }
}

/// `align dpo` prints a step line per DPO step and a summary with every key the issue names; the DPO
/// loss starts at exactly ln 2, where the policy is its own reference.
#[test]
fn align_dpo_reports_each_step_and_a_summary() {
    let out = faultline(&["align", "dpo", "--pretrain-steps", "40", "--steps", "12", "--eval-every", "6", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON lines")).collect();
    let steps: Vec<_> = lines.iter().filter(|l| l["event"] == "step").collect();
    assert_eq!(steps.len(), 12);
    for key in ["loss", "margin", "accuracy", "chosen_drift", "rejected_drift", "kl", "grad_norm", "lr"] {
        assert!(steps[0][key].is_number(), "{key} in {}", steps[0]);
    }
    assert_eq!(lines.iter().filter(|l| l["event"] == "eval").count(), 3, "step 0, 6 and 12");
    let s = lines.last().unwrap();
    assert_eq!(
        (s["event"].as_str(), s["method"].as_str(), s["steps_run"].as_u64()),
        (Some("summary"), Some("dpo"), Some(12))
    );
    assert!((s["first_loss"].as_f64().unwrap() - std::f64::consts::LN_2).abs() < 1e-6, "{s}");
    for key in ["last_loss", "pref_accuracy", "kl_last", "quality_first", "quality_last", "trainable_params"] {
        assert!(s[key].is_number(), "{key} in {s}");
    }
    assert!(s["diagnosis"].is_array(), "{s}");
    let lora = faultline(&["align", "dpo", "--pretrain-steps", "5", "--steps", "2", "--lora-rank", "4", "--json"]);
    let lora = summary(&lora);
    assert!(lora["trainable_params"].as_u64().unwrap() * 10 < s["trainable_params"].as_u64().unwrap(), "{lora}");
}

/// `align rl` reports its reward models' training, a step line per policy-gradient step and the
/// summary the issue names; a step's sample gets its own KL to a reference that starts equal to it.
#[test]
fn align_rl_reports_each_step_and_a_summary() {
    let args =
        ["align", "rl", "--pretrain-steps", "40", "--steps", "6", "--eval-every", "3", "--prompts", "4", "--json"];
    let out = faultline(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON lines")).collect();
    let models: Vec<_> = lines.iter().filter(|l| l["event"] == "reward_model").collect();
    assert_eq!(models.len(), 3, "the default ensemble");
    assert!(models[0]["epochs"].as_array().is_some_and(|e| !e.is_empty()), "{}", models[0]);
    let steps: Vec<_> = lines.iter().filter(|l| l["event"] == "step").collect();
    assert_eq!(steps.len(), 6);
    for key in ["reward", "quality", "kl", "length", "entropy", "grad_norm"] {
        assert!(steps[0][key].is_number(), "{key} in {}", steps[0]);
    }
    // The first step samples from the policy before any update: it is its own reference.
    assert!(steps[0]["kl"].as_f64().unwrap().abs() < 1e-4, "{}", steps[0]);
    assert_eq!(lines.iter().filter(|l| l["event"] == "eval").count(), 3, "step 0, 3 and 6");
    let s = lines.last().unwrap();
    assert_eq!((s["method"].as_str(), s["steps_run"].as_u64()), (Some("rl"), Some(6)));
    for key in ["reward_first", "reward_last", "quality_first", "quality_last", "kl_last", "trainable_params"] {
        assert!(s[key].is_number(), "{key} in {s}");
    }
    assert!(s["diagnosis"].is_array() && s["first_loss"].is_null(), "{s}");
}

/// Bad fine-tuning input names its setting and exits with code 2; each stage refuses the other's
/// faults and settings.
#[test]
fn align_refuses_bad_input_by_name() {
    let refused = |args: &[&str], says: &str| {
        let out = faultline(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    };
    refused(&["align", "dpo", "--beta", "0"], "--beta: must be between");
    refused(
        &["align", "dpo", "--pretrain-steps", "3", "--steps", "1", "--lora-rank", "65"],
        "--lora-rank: must be between 1 and d_model (64)",
    );
    refused(&["align", "dpo", "--pretrain-steps", "0"], "--pretrain-steps");
    refused(
        &["align", "dpo", "--base", "x.flckpt", "--corpus", "sorting"],
        "--corpus: a --base checkpoint brings its own",
    );
    refused(&["align", "ppo"], "unknown method 'ppo'");
    refused(&["align", "rl", "--kl-coef", "-1"], "--kl-coef: must be between 0 and");
    refused(&["align", "rl", "--reward-models", "0"], "--reward-models: must be between 1 and");
    refused(&["align", "rl", "--beta", "0.5"], "--beta: a DPO setting, which `align rl` does not read");
    refused(&["align", "dpo", "--kl-coef", "0.5"], "--kl-coef: a policy-gradient setting");
    refused(
        &["align", "dpo", "--fault", "no-kl-penalty", "--pretrain-steps", "3"],
        "`faultline align rl --fault no-kl-penalty`",
    );
    refused(
        &["align", "rl", "--fault", "dpo-lr-too-low", "--pretrain-steps", "3"],
        "`faultline align dpo --fault dpo-lr-too-low`",
    );
    refused(&["align", "rl", "--base", "x.flckpt", "--heads", "2"], "--heads: a --base checkpoint brings its own");
    refused(&["train", "--beta", "0.5"], "--beta: a fine-tuning setting");
    refused(&["train", "--steps", "2", "--fault", "dpo-logprob-bug"], "'dpo-logprob-bug' is a fine-tuning fault");
    let file = temp("own-text.txt");
    let sentences = ["a small text of my own, with letters and spaces. ", "and another sentence without them. "];
    std::fs::write(&file, sentences.concat().repeat(20)).unwrap();
    let base = temp("own-text.flckpt");
    let (text, base_path) = (file.to_str().unwrap(), base.to_str().unwrap());
    let train = faultline(&["train", "--text-file", text, "--steps", "2", "--save-checkpoint", base_path]);
    assert!(train.status.success(), "{}", String::from_utf8_lossy(&train.stderr));
    refused(&["align", "dpo", "--base", base_path, "--steps", "1"], "--prefer-word: '");
    refused(&["align", "dpo", "--base", base_path, "--prefer-word", "zebra"], "no sentence of");
    refused(&["align", "dpo", "--prefer-word", "cat", "--pretrain-steps", "3"], "judges answers by its own grammar");
    let ruled = faultline(&["align", "dpo", "--base", base_path, "--prefer-word", "letters", "--steps", "3", "--json"]);
    assert!(ruled.status.success(), "{}", String::from_utf8_lossy(&ruled.stderr));
    assert!(summary(&ruled)["quality_first"].is_number(), "the rule scores the completions");
    std::fs::remove_file(file).unwrap();
    std::fs::remove_file(base).unwrap();
}

#[test]
fn bench_rl_splits_a_policy_gradient_step_into_rollout_and_update() {
    let out = faultline(&["bench", "--json", "--config", "tiny", "--steps", "2", "--rl"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let rows = v["rl"].as_array().expect("the rl rows");
    assert_eq!(rows.len(), 1, "toy-english on the CPU: {v}");
    for key in ["pretrain_ms", "rollout_ms", "update_ms", "rollout_ratio", "update_ratio", "update_tokens"] {
        assert!(rows[0][key].as_f64().is_some_and(|x| x > 0.0), "{key} in {}", rows[0]);
    }
}

#[test]
fn bench_dpo_times_a_dpo_step_beside_a_pretraining_step() {
    let out = faultline(&["bench", "--json", "--config", "tiny", "--steps", "2", "--dpo"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let rows = v["dpo"].as_array().expect("the dpo rows");
    assert_eq!(rows.len(), 2, "sorting and toy-english on the CPU: {v}");
    for r in rows {
        for key in ["pretrain_ms", "dpo_ms", "lora_ms", "dpo_ratio", "lora_ratio", "dpo_tokens"] {
            assert!(r[key].as_f64().is_some_and(|x| x > 0.0), "{key} in {r}");
        }
    }
}

/// `align sft` fine-tunes on the learner's text and reports the gap; a character the base model
/// never saw, or a text too short to hold out a window, is refused by name.
#[test]
fn align_sft_reports_the_gap_and_refuses_a_text_it_cannot_read() {
    let text = concat!(env!("CARGO_MANIFEST_DIR"), "/../evaluation/data/small-text.txt");
    let out = faultline(&["align", "sft", "--text-file", text, "--pretrain-steps", "30", "--steps", "10", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s = summary(&out);
    assert_eq!((s["method"].as_str(), s["steps_run"].as_u64()), (Some("sft"), Some(10)));
    for key in ["train_loss", "val_loss", "gap", "trainable_params"] {
        assert!(s[key].is_number(), "{key} in {s}");
    }
    let file = temp("foreign.txt");
    std::fs::write(&file, "Über alles!\n").unwrap();
    let foreign = faultline(&["align", "sft", "--text-file", file.to_str().unwrap(), "--pretrain-steps", "5"]);
    assert_eq!(foreign.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&foreign.stderr).contains("--text-file: fine-tuning keeps the base model's vocabulary")
    );
    std::fs::write(&file, "the cat.\n").unwrap();
    let short = faultline(&["align", "sft", "--text-file", file.to_str().unwrap(), "--pretrain-steps", "5"]);
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("the text has 9 tokens"));
    std::fs::remove_file(file).unwrap();
}

/// `exercises --json` lists the catalogue as the app shows it: ids, titles, guide entries that the guide
/// knows, and each prediction with its options and the right one's index, or a typed number.
#[test]
fn exercises_list_the_catalogue_with_their_predictions() {
    let out = faultline(&["exercises", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows[0]["id"], "first-run");
    let guide: serde_json::Value = serde_json::from_slice(&faultline(&["guide", "--json"]).stdout).unwrap();
    let known = |id: &serde_json::Value| guide["entries"].as_array().unwrap().iter().any(|e| &e["id"] == id);
    let mut numeric = 0;
    for r in rows {
        assert!(r["title"].is_string() && !r["entries"].as_array().unwrap().is_empty(), "{r}");
        assert!(r["entries"].as_array().unwrap().iter().all(known), "{r}");
        let p = &r["prediction"];
        assert!(p["question"].is_string(), "{r}");
        if p["numeric"] == true {
            numeric += 1;
            assert!(
                p["answer"].is_null() && p["options"].as_array().unwrap().is_empty() && p["unit"].is_string(),
                "{r}"
            );
        } else {
            let options = p["options"].as_array().unwrap().len() as u64;
            assert!(p["answer"].as_u64().is_some_and(|a| a < options), "{r}");
        }
    }
    assert!(numeric >= 6, "{numeric} numeric predictions");
    let text = String::from_utf8_lossy(&faultline(&["exercises"]).stdout).into_owned();
    assert_eq!(text.lines().count(), rows.len(), "{text}");
    assert!(text.lines().next().unwrap().starts_with("first-run"), "{text}");
}
