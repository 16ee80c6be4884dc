// The training worker's first script: the page starts the worker with this file.
//
// WebGPU answers only through promises, while the engine's backend trait is synchronous. Where the
// browser has JavaScript Promise Integration (JSPI), this script makes the wasm import
// `faultlineSuspendYield` a `WebAssembly.Suspending` import, so a readback can suspend the worker's
// turn until the GPU answers (crates/gpu/src/wait.rs; the turns are in src/worker/runtime.rs). It
// hooks WebAssembly.instantiate(Streaming) because the imports object is built inside the
// wasm-bindgen glue that Trunk's loader runs next.
//
// Then it picks the build. Where the page is cross-origin isolated (so memory can be shared) and the
// threaded build is there (`cargo xtask dist` builds it; `trunk serve` does not), it loads that one,
// which trains on a pool of threads (src/worker/threads.rs); `?threads=1` on the page keeps one thread.
// Everywhere else it loads the single-thread build through Trunk's loader.
(() => {
  self.faultlineSuspendYield = () =>
    new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => resolve(0);
      channel.port2.postMessage(null);
    });
  if (typeof WebAssembly.Suspending !== "function" || typeof WebAssembly.promising !== "function") {
    return;
  }
  const suspending = (imports) => {
    for (const module of Object.values(imports || {})) {
      for (const name of Object.keys(module)) {
        if (name.includes("faultlineSuspendYield")) {
          module[name] = new WebAssembly.Suspending(module[name]);
          self.faultlineJspi = true;
        }
      }
    }
    return imports;
  };
  const streaming = WebAssembly.instantiateStreaming;
  const plain = WebAssembly.instantiate;
  WebAssembly.instantiateStreaming = (source, imports) => streaming(source, suspending(imports));
  WebAssembly.instantiate = (source, imports) => plain(source, suspending(imports));
})();
(() => {
  const oneThread = new URL(self.location.href).searchParams.get("threads") === "1";
  if (self.crossOriginIsolated && typeof SharedArrayBuffer === "function" && !oneThread) {
    try {
      importScripts("./faultline-worker-mt.js");
    } catch (missing) {
      console.info("no threaded build here; training on one thread", missing);
    }
    if (typeof wasm_bindgen === "function") {
      wasm_bindgen({ module_or_path: "./faultline-worker-mt_bg.wasm" });
      return;
    }
  }
  importScripts("./faultline-worker_loader.js");
})();
