//! The engine's fast CPU kernels against their references in the browser, where `gemm` runs the
//! SIMD128 micro-kernel and the row loops are compiled to SIMD128. The checks are the engine's own
//! (`crates/engine/tests/parity/mod.rs`); natively, `kernel_parity.rs` runs them on proptest's shapes.
#![cfg(target_arch = "wasm32")]

#[path = "../crates/engine/tests/parity/mod.rs"]
mod parity;

use faultline_engine::backend::SoftmaxForm;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// Odd sizes, tile-sized ones and ones past a block boundary.
const SIZES: [usize; 8] = [1, 3, 6, 8, 17, 65, 97, 130];

#[wasm_bindgen_test]
fn matmul_every_layout_matches_the_reference() {
    let mut seed = 0;
    for (i, &m) in SIZES.iter().enumerate() {
        for (j, &k) in SIZES.iter().enumerate() {
            let n = SIZES[(i + 2 * j) % SIZES.len()];
            for layout in 0..8 {
                seed += 1;
                parity::matmul(m, k, n, layout & 1 != 0, layout & 2 != 0, layout & 4 != 0, seed);
            }
        }
    }
    parity::matmul(200, 600, 300, false, false, true, 1);
    parity::matmul(97, 257, 33, true, true, false, 2);
}

#[wasm_bindgen_test]
fn matmul_overwrites_nan_and_scales() {
    for (m, k, n) in [(1, 1, 1), (7, 5, 9), (64, 64, 64), (13, 300, 17)] {
        parity::matmul_ignores_old_output_and_scales(m, k, n);
    }
}

#[wasm_bindgen_test]
fn row_kernels_match_the_reference() {
    for (i, &rows) in SIZES.iter().enumerate() {
        let cols = SIZES[(i * 3 + 1) % SIZES.len()];
        parity::row_kernels(rows, cols, 3.0, i as u64);
        parity::row_kernels(rows, cols, 120.0, i as u64 + 100);
    }
}

#[wasm_bindgen_test]
fn attention_matches_the_reference() {
    for (time, heads, head_dim) in [(1, 1, 1), (3, 2, 3), (17, 3, 16), (64, 4, 16), (65, 2, 5)] {
        for causal in [true, false] {
            for subtract_max in [true, false] {
                let form = SoftmaxForm { subtract_max, log_softmax: true };
                parity::attention(2, time, heads, head_dim, causal, form, 1.0, time as u64);
            }
        }
    }
    parity::attention(1, 8, 2, 8, true, SoftmaxForm { subtract_max: false, log_softmax: true }, 30.0, 5);
}
