//! The size budget of the built site: what a browser fetches before the first training step, file by
//! file, gzip-compressed as a static host serves it. `cargo xtask test` checks every budget after the
//! release build (a file over its budget fails the run), and `cargo xtask bench`'s `load` rows report
//! the same sizes beside the measured time to the first step; BENCHMARKS.md keeps the table.

use std::fs;
use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::Result;

/// One file of the built site and the most gzip bytes it may have. Its name is `prefix` then `suffix`,
/// or, where `hashed`, with the content hash Trunk adds between them.
#[derive(Debug)]
pub struct Budget {
    pub prefix: &'static str,
    pub suffix: &'static str,
    pub hashed: bool,
    pub max_gzip: usize,
}

/// A budget for the file named exactly `prefix` + `suffix`.
const fn exact(prefix: &'static str, suffix: &'static str, max_gzip: usize) -> Budget {
    Budget { prefix, suffix, hashed: false, max_gzip }
}

/// A budget for the file named `prefix`, a content hash, then `suffix`.
const fn hashed(prefix: &'static str, suffix: &'static str, max_gzip: usize) -> Budget {
    Budget { prefix, suffix, hashed: true, max_gzip }
}

const KB: usize = 1000;

/// The files the first training step needs, each with its budget: the page (built for size, the
/// `page` profile), the worker that trains (one of its four builds, xtask/src/site.rs: threaded where
/// the page is cross-origin isolated, with WebGPU where the browser offers an adapter), and their
/// scripts and styles. Each budget is the size measured when it was set plus about 3 %, so a
/// regression fails CI.
pub const BUDGETS: [Budget; 14] = [
    exact("index", ".html", 2 * KB),
    hashed("faultline-app-", "_bg.wasm", 680 * KB),
    hashed("faultline-app-", ".js", 11 * KB),
    exact("faultline-worker-mt", "_bg.wasm", 570 * KB),
    exact("faultline-worker-mt", ".js", 13 * KB),
    exact("faultline-worker-cpu-mt", "_bg.wasm", 445 * KB),
    exact("faultline-worker-cpu-mt", ".js", 9 * KB),
    exact("faultline-worker", "_bg.wasm", 560 * KB),
    exact("faultline-worker", ".js", 12 * KB),
    exact("faultline-worker-cpu", "_bg.wasm", 430 * KB),
    exact("faultline-worker-cpu", ".js", 8 * KB),
    hashed("main-", ".css", 8 * KB),
    exact("worker-boot", ".js", 2 * KB),
    exact("builds", ".js", 2 * KB),
];

/// The gzip-compressed length of `bytes` (best compression, as `gzip -9`).
pub fn gzip_len(bytes: &[u8]) -> usize {
    gzip(bytes, Compression::best()).len()
}

/// `bytes` gzip-compressed at `level`.
pub fn gzip(bytes: &[u8], level: Compression) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 3), level);
    encoder.write_all(bytes).expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

/// Whether `name` is the file `budget` is for.
fn matches(budget: &Budget, name: &str) -> bool {
    if budget.hashed {
        name.len() > budget.prefix.len() + budget.suffix.len()
            && name.starts_with(budget.prefix)
            && name.ends_with(budget.suffix)
    } else {
        name.strip_prefix(budget.prefix) == Some(budget.suffix)
    }
}

/// Every budgeted file in `dist` with its gzip size, in [`BUDGETS`] order; an error names a budget that
/// matches no file, or more than one.
pub fn measure(dist: &Path) -> Result<Vec<(String, usize, &'static Budget)>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dist)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    let mut sizes = Vec::new();
    for budget in &BUDGETS {
        let found: Vec<&String> = names.iter().filter(|name| matches(budget, name)).collect();
        let [name] = found[..] else {
            return Err(format!(
                "size budget {}*{}: expected one file in {}, found {found:?}",
                budget.prefix,
                budget.suffix,
                dist.display()
            )
            .into());
        };
        sizes.push((name.clone(), gzip_len(&fs::read(dist.join(name))?), budget));
    }
    Ok(sizes)
}

/// Prints each budgeted file's gzip size against its budget; an error names every file over budget.
pub fn check(dist: &Path) -> Result {
    let mut over = Vec::new();
    println!("xtask: size budget (gzip bytes before the first training step)");
    for (name, size, budget) in measure(dist)? {
        let verdict = if size <= budget.max_gzip { "ok" } else { "OVER" };
        println!("  {name:<44} {:>8.1} KB of {:>4} KB  {verdict}", size as f64 / 1e3, budget.max_gzip / KB);
        if size > budget.max_gzip {
            over.push(format!(
                "{name}: {size} bytes gzip, over its budget of {} (BENCHMARKS.md, \"load\")",
                budget.max_gzip
            ));
        }
    }
    if over.is_empty() {
        Ok(())
    } else {
        Err(over.join("; ").into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_budgeted_file_is_matched_once_and_a_big_one_fails() {
        let dist = std::env::temp_dir().join(format!("xtask-size-{}", std::process::id()));
        fs::create_dir_all(&dist).unwrap();
        for name in [
            "index.html",
            "faultline-app-0123abcd_bg.wasm",
            "faultline-app-0123abcd.js",
            "faultline-worker-mt_bg.wasm",
            "faultline-worker-mt.js",
            "faultline-worker-cpu-mt_bg.wasm",
            "faultline-worker-cpu-mt.js",
            "faultline-worker_bg.wasm",
            "faultline-worker.js",
            "faultline-worker_loader.js",
            "faultline-worker-cpu_bg.wasm",
            "faultline-worker-cpu.js",
            "main-99.css",
            "worker-boot.js",
            "builds.js",
            "align-1.css",
        ] {
            fs::write(dist.join(name), name.as_bytes()).unwrap();
        }
        let sizes = measure(&dist).unwrap();
        let names: Vec<&str> = sizes.iter().map(|(name, _, _)| name.as_str()).collect();
        assert_eq!(
            names[3..11],
            [
                "faultline-worker-mt_bg.wasm",
                "faultline-worker-mt.js",
                "faultline-worker-cpu-mt_bg.wasm",
                "faultline-worker-cpu-mt.js",
                "faultline-worker_bg.wasm",
                "faultline-worker.js",
                "faultline-worker-cpu_bg.wasm",
                "faultline-worker-cpu.js"
            ]
        );
        check(&dist).unwrap();

        // Random bytes do not compress: 600 KB of them is over the single-threaded worker's budget.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..600 * KB)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        fs::write(dist.join("faultline-worker_bg.wasm"), noise).unwrap();
        let err = check(&dist).unwrap_err().to_string();
        assert!(err.starts_with("faultline-worker_bg.wasm:") && err.contains("over its budget"), "{err}");

        fs::write(dist.join("faultline-app-other_bg.wasm"), b"x").unwrap();
        assert!(measure(&dist).unwrap_err().to_string().contains("expected one file"));
        fs::remove_dir_all(dist).unwrap();
    }
}
