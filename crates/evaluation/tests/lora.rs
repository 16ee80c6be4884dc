//! The overfitting entry's LoRA note against real runs: a pretrained model fine-tuned on a small text,
//! every weight against rank-4 adapters, from the same base. The note's figures come from
//! `faultline align sft` (its `reproduce` line); this test holds the relations it states, so an engine
//! change that breaks them fails here: full fine-tuning opens the wider gap and ends with the worse
//! held-out loss, while its best held-out loss, early, is at least as good as the adapters' best.

use faultline_engine::align::pretrain;
use faultline_engine::align::sft::{SftRun, SftSettings};
use faultline_engine::backend::CpuBackend;
use faultline_engine::config::RunConfig;
use faultline_engine::faults::{measured::MEASURED, FaultId};
use faultline_engine::telemetry::align::SftHistory;
use faultline_engine::trainer::{native_clock, Trainer};

const TEXT: &str = include_str!("../data/small-text.txt");

fn fine_tune(checkpoint: &[u8], cfg: &RunConfig, lora_rank: usize) -> SftHistory {
    let base = Trainer::from_checkpoint(checkpoint, CpuBackend::<f32>::new(), native_clock).expect("the base restores");
    let settings = SftSettings { lr: 1e-3, lora_rank, ..SftSettings::from_config(cfg) };
    let mut run = SftRun::new(base, TEXT, settings).expect("the text fits the base model's vocabulary");
    while !run.is_done() {
        run.step().expect("no run here stops early");
    }
    run.history().clone()
}

#[test]
fn lora_overfits_a_small_text_more_slowly_than_full_fine_tuning() {
    let cfg = RunConfig::default();
    let mut base = pretrain(cfg.clone(), CpuBackend::<f32>::new(), native_clock).expect("the base model pretrains");
    let checkpoint = base.checkpoint().expect("saves");
    let (full, lora) = (fine_tune(&checkpoint, &cfg, 0), fine_tune(&checkpoint, &cfg, 4));
    let last = |h: &SftHistory| h.evals.last().cloned().expect("evaluated");
    let best = |h: &SftHistory| h.evals.iter().map(|e| e.val_loss).fold(f32::INFINITY, f32::min);
    let gap = |h: &SftHistory| last(h).val_loss - last(h).train_loss;
    eprintln!(
        "full: gap {:.2}, held out {:.2} (best {:.2}); LoRA: gap {:.2}, held out {:.2} (best {:.2})",
        gap(&full),
        last(&full).val_loss,
        best(&full),
        gap(&lora),
        last(&lora).val_loss,
        best(&lora)
    );
    assert!(gap(&lora) < 0.5 * gap(&full), "the adapters open a far smaller gap");
    assert!(last(&lora).val_loss < last(&full).val_loss, "and end with the better held-out loss");
    assert!(best(&full) <= best(&lora) + 0.1, "but stopped at its best step, full fine-tuning is as good");
    let note = MEASURED.iter().find(|m| m.fault == FaultId::TinyDataset).expect("the overfitting entry's LoRA note");
    assert!(note.reproduce.contains("align sft") && note.measured.contains("early stopping"));
}
