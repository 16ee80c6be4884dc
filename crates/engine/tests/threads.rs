//! The `threads` feature: products and attention split across a rayon pool give bit-identical results
//! to one thread, kernel by kernel on random shapes (odd ones included) and over whole training runs.
//! Run with `cargo test -p faultline-engine --features threads --test threads`.
#![cfg(feature = "threads")]

use faultline_engine::backend::cpu::parallel;
use faultline_engine::backend::{AttnShape, Backend, CpuBackend, Gemm, SoftmaxForm};
use faultline_engine::config::{Preset, RunConfig};
use faultline_engine::rng::Rng;
use faultline_engine::trainer::{native_clock, Trainer};
use proptest::prelude::*;

/// `len` numbers uniform in [-scale, scale).
fn random(seed: u64, len: usize, scale: f32) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| ((rng.uniform() * 2.0 - 1.0) as f32) * scale).collect()
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool")
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The backend's product on one thread and inside a pool of `threads`.
#[allow(clippy::too_many_arguments)]
fn matmul_both_ways(m: usize, k: usize, n: usize, ta: bool, tb: bool, acc: bool, threads: usize, seed: u64) {
    let (a, b, c0) = (random(seed, m * k, 1.0), random(seed + 1, k * n, 1.0), random(seed + 2, m * n, 1.0));
    let mut one = c0.clone();
    CpuBackend::new().matmul(&mut one, &a, &b, Gemm { m, k, n, trans_a: ta, trans_b: tb, accumulate: acc });
    let mut many = c0;
    pool(threads).install(|| {
        assert_eq!(parallel::threads(), threads);
        CpuBackend::new().matmul(&mut many, &a, &b, Gemm { m, k, n, trans_a: ta, trans_b: tb, accumulate: acc });
    });
    assert_eq!(bits(&many), bits(&one), "matmul {m}x{k}x{n} ta={ta} tb={tb} acc={acc} on {threads} threads");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn split_products_are_bit_identical(
        m in prop_oneof![Just(1usize), Just(5), Just(64), 1usize..300], k in 1usize..300, n in 1usize..200,
        ta in any::<bool>(), tb in any::<bool>(), acc in any::<bool>(), threads in 2usize..5, seed in 0u64..1000
    ) {
        matmul_both_ways(m, k, n, ta, tb, acc, threads, seed);
    }

    #[test]
    fn split_attention_is_bit_identical(
        batch in 1usize..7, time in prop_oneof![Just(1usize), Just(17), 1usize..70], heads in 1usize..4,
        head_dim in 1usize..20, causal in any::<bool>(), threads in 2usize..5, seed in 0u64..1000
    ) {
        let shape = AttnShape { batch, time, d_model: heads * head_dim, heads };
        let (n, c) = (batch * time, shape.d_model);
        let (qkv, dout) = (random(seed, n * 3 * c, 2.0), random(seed + 1, n * c, 1.0));
        let form = SoftmaxForm { subtract_max: true, log_softmax: true };
        let run = || {
            let mut b = CpuBackend::new();
            let (mut out, mut probs, mut dqkv) = (vec![f32::NAN; n * c], vec![f32::NAN; shape.probs_len()], vec![f32::NAN; n * 3 * c]);
            b.attention(&mut out, &mut probs, &qkv, shape, 0.25, causal, form);
            b.attention_backward(&mut dqkv, &dout, &qkv, &probs, shape, 0.25, causal);
            (bits(&out), bits(&probs), bits(&dqkv))
        };
        let one = run();
        let many = pool(threads).install(run);
        prop_assert_eq!(many, one);
    }
}

/// The shapes `tiny` multiplies, which the split must actually cut.
#[test]
fn the_models_products_split_and_match() {
    for (m, k, n) in [(1024, 64, 192), (64, 1024, 256), (1024, 256, 64), (1024, 64, 65)] {
        matmul_both_ways(m, k, n, false, false, false, 2, 9);
        matmul_both_ways(m, k, n, true, false, true, 3, 10);
    }
}

/// Whole runs: every loss, gradient norm and the final checkpoint are the same bits on 1 and 3 threads.
#[test]
fn training_on_threads_matches_one_thread() {
    let cfg = RunConfig { preset: Preset::Tiny, batch_size: 8, steps: 6, eval_every: 3, ..RunConfig::default() };
    let run = || {
        let mut t = Trainer::cpu(cfg.clone(), native_clock).expect("a trainer");
        let records: Vec<(u32, u32)> = (0..6)
            .map(|_| t.step().map(|r| (r.loss.to_bits(), r.grad_norm.to_bits())).expect("a healthy step"))
            .collect();
        (records, t.checkpoint().expect("a checkpoint"))
    };
    let one = run();
    let many = pool(3).install(run);
    assert_eq!(many.0, one.0, "step losses and gradient norms");
    assert!(many.1 == one.1, "the checkpoints differ");
}
