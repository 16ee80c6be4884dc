// The training worker's first script: the page starts the worker with this file.
//
// WebGPU answers only through promises, while the engine's backend trait is synchronous. Where the
// browser has JavaScript Promise Integration (JSPI), this script makes the wasm import
// `faultlineSuspendYield` a `WebAssembly.Suspending` import, so a readback can suspend the worker's
// turn until the GPU answers (crates/gpu/src/wait.rs; the turns are in src/worker/runtime.rs). It
// hooks WebAssembly.instantiate(Streaming) because the imports object is built inside the
// wasm-bindgen glue that Trunk's loader runs next.
//
// Then it loads the build that builds.js picks for this browser (the page's prefetch asked the same). A
// build that is not there (`trunk serve` makes only Trunk's own) is skipped for the next.
importScripts("./builds.js");
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
  const { threaded, webgpu, candidates } = self.faultlineBuilds;
  const load = (adapter) => {
    for (const build of candidates(threaded(self.location.href), adapter)) {
      try {
        importScripts(`./${build}.js`);
      } catch (missing) {
        console.info(`no ${build} build here`, missing);
        continue;
      }
      if (typeof wasm_bindgen === "function") {
        wasm_bindgen({ module_or_path: `./${build}_bg.wasm` });
        return;
      }
    }
    importScripts("./faultline-worker_loader.js");
  };
  webgpu().then(load);
})();
