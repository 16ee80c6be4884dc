//! Every fast CPU kernel against its reference (`CpuBackend::reference()`), on random shapes including
//! odd ones and every transpose layout, plus whole training runs: the fast and the reference kernels
//! must train to the same losses within a stated tolerance. The checks themselves are in
//! `parity/mod.rs`, shared with the app's in-browser `tests/web_kernel_parity.rs`.

mod parity;

use faultline_engine::backend::{CpuBackend, SoftmaxForm};
use faultline_engine::config::{Preset, RunConfig};
use faultline_engine::trainer::{native_clock, Trainer};
use faultline_engine::Faults;
use proptest::prelude::*;

/// Sizes that hit every edge of the packed kernel: 1, below, between and above the 4×8 tile's sides, and past a block.
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![Just(1usize), Just(3), Just(6), Just(8), Just(17), Just(65), Just(97), 1usize..140]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn matmul_every_layout_matches_the_reference(
        m in size(), k in size(), n in size(), ta in any::<bool>(), tb in any::<bool>(), acc in any::<bool>(), seed in 0u64..1000
    ) {
        parity::matmul(m, k, n, ta, tb, acc, seed);
    }

    #[test]
    fn row_kernels_match_the_reference(rows in size(), cols in size(), big in any::<bool>(), seed in 0u64..1000) {
        parity::row_kernels(rows, cols, if big { 120.0 } else { 3.0 }, seed);
    }

    #[test]
    fn attention_matches_the_reference(
        batch in 1usize..3, time in prop_oneof![Just(1usize), Just(3), Just(17), 1usize..70], heads in 1usize..4,
        head_dim in prop_oneof![Just(1usize), Just(3), Just(16), 1usize..20], causal in any::<bool>(),
        subtract_max in any::<bool>(), seed in 0u64..1000
    ) {
        let form = SoftmaxForm { subtract_max, log_softmax: true };
        parity::attention(batch, time, heads, head_dim, causal, form, 1.0, seed);
    }
}

#[test]
fn packed_matmul_past_every_block_boundary() {
    // KC = 256, MC = 96, NC = 1024: cross each once.
    parity::matmul(200, 600, 1100, false, false, true, 1);
    parity::matmul(97, 257, 33, true, true, false, 2);
}

#[test]
fn packed_matmul_overwrites_nan_and_scales() {
    for (m, k, n) in [(1, 1, 1), (7, 5, 9), (64, 64, 64), (13, 300, 17)] {
        parity::matmul_ignores_old_output_and_scales(m, k, n);
    }
}

/// A row whose values nearly agree ([1.069, 1.062, 1.041]: rstd 82, the last of seed 142's eight rows)
/// magnifies the two LayerNorms' different rounding of the mean. Proptest drew it once, and CI failed on
/// a tolerance that left that out (`parity::row_kernels` derives it now); so it is checked every time.
#[test]
fn layernorm_of_a_nearly_constant_row_matches_the_reference() {
    parity::row_kernels(8, 3, 3.0, 142);
}

#[test]
fn attention_overflows_like_the_reference_without_the_max_shift() {
    // Scores far above 88: exp overflows to Inf, the probabilities become NaN, in both.
    let form = SoftmaxForm { subtract_max: false, log_softmax: true };
    parity::attention(1, 8, 2, 8, true, form, 30.0, 5);
    parity::attention(1, 8, 2, 8, false, SoftmaxForm::STABLE, 30.0, 6);
}

/// Losses of `steps` steps of `cfg`, with the fast or the reference kernels.
fn losses(cfg: &RunConfig, reference: bool) -> Vec<f32> {
    let backend: CpuBackend = if reference { CpuBackend::reference() } else { CpuBackend::new() };
    let mut trainer = Trainer::new(cfg.clone(), backend, native_clock).expect("trainer");
    (0..cfg.steps).map(|_| trainer.step().map(|r| r.loss).unwrap_or(f32::NAN)).collect()
}

/// The fast and reference kernels train the tiny model to the same losses: the first step's loss
/// within 1e-5, every later one within 2e-3 (rounding differences grow slowly through training).
#[test]
fn whole_steps_match_the_reference() {
    for faults in [Faults::default(), Faults { no_causal_mask: true, ..Faults::default() }] {
        let cfg = RunConfig { steps: 20, seed: 3, faults, ..RunConfig::preset(Preset::Tiny) };
        let (fast, reference) = (losses(&cfg, false), losses(&cfg, true));
        assert!((fast[0] - reference[0]).abs() <= 1e-5, "first loss {} vs {}", fast[0], reference[0]);
        for (step, (f, r)) in fast.iter().zip(&reference).enumerate() {
            assert!((f - r).abs() <= 2e-3, "step {}: loss {f} vs reference {r}", step + 1);
        }
    }
}

/// The NaN faults stop both kernel sets at the same step, naming the same tensor.
#[test]
fn nan_faults_stop_at_the_same_step() {
    let faults = Faults { softmax_no_max_shift: true, no_attn_scale: true, ..Faults::default() };
    let cfg = RunConfig { steps: 60, seed: 2, lr: 0.05, faults, ..RunConfig::preset(Preset::Tiny) };
    let run = |reference: bool| {
        let backend: CpuBackend = if reference { CpuBackend::reference() } else { CpuBackend::new() };
        let mut trainer = Trainer::new(cfg.clone(), backend, native_clock).expect("trainer");
        (0..cfg.steps).find_map(|_| trainer.step().err()).map(|e| e.to_string())
    };
    let fast = run(false);
    assert!(fast.is_some(), "the run never stopped");
    assert_eq!(fast, run(true));
}
