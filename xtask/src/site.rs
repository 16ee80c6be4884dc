//! The release build of the web app (`dist`) and serving it (`serve`).

use std::fs;
use std::path::Path;

use crate::project::{self, Project};
use crate::server::StaticServer;
use crate::{csp, offline, tools, Result};

/// `cargo xtask dist`: the release static site in `dist/`.
pub fn dist(project: &Project) -> Result {
    tools::ensure_site_tools(project)?;
    let dist = project.root.join("dist");
    build_release(project, &dist)?;
    println!("xtask: the release site is in {} (its Content-Security-Policy is in index.html)", dist.display());
    Ok(())
}

/// `cargo xtask serve`: build the release site into `dist/` and serve it until Ctrl-C.
pub fn serve(project: &Project, port: u16) -> Result {
    // Bind first, so a busy port is reported before a build of several minutes.
    let dist = project.root.join("dist");
    let server = StaticServer::bind(&dist, port)?;
    tools::ensure_site_tools(project)?;
    let policy = build_release(project, &dist)?;
    println!("xtask: serving {} at {} (Ctrl-C to stop)", dist.display(), server.url()?);
    server.with_policy(policy).run()
}

/// The threaded worker's code generation: shared memory (atomics, an imported memory with a maximum)
/// and the thread-local storage exports wasm-bindgen's thread support needs, plus the SIMD128 the
/// single-thread build has (`.cargo/config.toml`, which `RUSTFLAGS` replaces).
const THREADED_RUSTFLAGS: &str = "-C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128 \
    -C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--max-memory=4294967296 \
    -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size -C link-arg=--export=__tls_align \
    -C link-arg=--export=__tls_base";

/// `trunk build --release` into `dist` (the page, and the single-thread worker with WebGPU), with
/// binaryen's wasm-opt from `.tools/` (pinned in Trunk.toml), then the worker's other builds beside it
/// ([`WORKERS`]), then the Content-Security-Policy written into `index.html` ([`csp`]), then the service
/// worker that caches it ([`offline`]); returns the policy, for a server to send as a header too.
/// Needs [`tools::ensure_site_tools`] first.
///
/// The threaded builds compile while Trunk does: they have their own toolchain and target folder, and
/// the page's link (fat LTO, one codegen unit) leaves all but one core idle for minutes. They go to a
/// folder of their own first, since Trunk replaces `dist` when it finishes.
pub fn build_release(project: &Project, dist: &Path) -> Result<String> {
    let stage = project.target_dir().join("xtask/threaded-stage");
    if stage.exists() {
        fs::remove_dir_all(&stage)?;
    }
    fs::create_dir_all(&stage)?;
    std::thread::scope(|scope| -> Result {
        let threaded = scope.spawn(|| -> std::result::Result<(), String> {
            WORKERS.iter().filter(|w| w.threads).try_for_each(|w| w.build(project, &stage)).map_err(|e| e.to_string())
        });
        let mut trunk = project.command("trunk");
        trunk.args(["build", "--release", "--dist"]).arg(dist).env("TRUNK_SKIP_VERSION_CHECK", "true");
        let trunk = project::run(&mut trunk);
        let threaded = threaded.join().map_err(|_| "the threaded builds' thread panicked")?;
        trunk?;
        Ok(threaded?)
    })?;
    for worker in WORKERS.iter().filter(|w| !w.threads) {
        worker.build(project, dist)?;
    }
    for file in fs::read_dir(&stage)? {
        let file = file?;
        fs::copy(file.path(), dist.join(file.file_name()))?;
    }
    let policy = csp::apply(&dist.join("index.html"))?;
    let version = offline::write_service_worker(&project.root.join(offline::TEMPLATE), dist, &policy)?;
    println!("xtask: the service worker caches version {version} of the site");
    Ok(policy)
}

/// One of the training worker's builds that Trunk does not make. Trunk builds the single-thread worker
/// with WebGPU (`faultline-worker.js`, through its loader); the boot script (src/worker/worker-boot.js)
/// loads the one of all four that src/worker/builds.js picks (it names them too) by two questions: is
/// the page cross-origin isolated (threads), and did the browser offer a WebGPU adapter (the builds
/// without WebGPU carry no wgpu, and are smaller).
struct WorkerBuild {
    /// `<name>.js` and `<name>_bg.wasm` in `dist`.
    name: &'static str,
    /// The `threads` feature (src/worker/threads.rs): nightly's `-Z build-std` recompiles the
    /// standard library with atomics, which Trunk cannot do.
    threads: bool,
    /// The `webgpu` feature (a default one; off, the worker trains on the CPU alone).
    webgpu: bool,
}

/// The worker's builds beside Trunk's.
const WORKERS: [WorkerBuild; 3] = [
    WorkerBuild { name: "faultline-worker-cpu", threads: false, webgpu: false },
    WorkerBuild { name: "faultline-worker-mt", threads: true, webgpu: true },
    WorkerBuild { name: "faultline-worker-cpu-mt", threads: true, webgpu: false },
];

impl WorkerBuild {
    /// Builds the worker's binary with this build's features, runs wasm-bindgen (`no-modules`, as the
    /// boot script loads it with `importScripts`) and wasm-opt -O3 (the worker is built for speed).
    fn build(&self, project: &Project, dist: &Path) -> Result {
        let mut cargo = project.command("cargo");
        let target = if self.threads {
            let target = project.target_dir().join("threaded");
            cargo
                .arg(format!("+{}", tools::NIGHTLY))
                .env("CARGO_TARGET_DIR", &target)
                .env("RUSTFLAGS", THREADED_RUSTFLAGS)
                .env_remove("RUSTUP_TOOLCHAIN");
            target
        } else {
            // Trunk's target folder and flags (`.cargo/config.toml`): only this crate compiles again.
            project.target_dir()
        };
        cargo.args(["build", "--release", "--target", tools::WASM_TARGET]);
        if self.threads {
            cargo.args(["-Z", "build-std=std,panic_abort", "--features", "threads"]);
        }
        if !self.webgpu {
            cargo.arg("--no-default-features");
        }
        project::run(cargo.args(["-p", "faultline-app", "--bin", "faultline-worker"]))?;
        let wasm = target.join(tools::WASM_TARGET).join("release/faultline-worker.wasm");
        let mut bindgen = project.command("wasm-bindgen");
        bindgen.args(["--target", "no-modules", "--no-typescript", "--out-name", self.name, "--out-dir"]);
        project::run(bindgen.arg(dist).arg(wasm))?;
        let out = dist.join(format!("{}_bg.wasm", self.name));
        project::run(project.command("wasm-opt").arg("-O3").arg(&out).arg("-o").arg(&out))
    }
}
