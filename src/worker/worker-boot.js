// The training worker's first script: the page starts the worker with this file.
//
// WebGPU answers only through promises, while the engine's backend trait is synchronous. Where the
// browser has JavaScript Promise Integration (JSPI), this script makes the wasm import
// `faultlineSuspendYield` a `WebAssembly.Suspending` import, so a readback can suspend the worker's
// turn until the GPU answers (crates/gpu/src/wait.rs; the turns are in src/worker/runtime.rs). It
// hooks WebAssembly.instantiate(Streaming) because the imports object is built inside the
// wasm-bindgen glue that Trunk's loader runs next.
//
// Then it picks one of the four builds `cargo xtask dist` makes (xtask/src/site.rs), by two questions.
// Is the page cross-origin isolated, so memory can be shared? Then a threaded build, which trains on
// a pool of threads (src/worker/threads.rs); `?threads=1` on the page keeps one thread. Did the browser
// offer a WebGPU adapter? If not, a build without WebGPU, which carries no wgpu and is smaller (it
// says so when a run asks for WebGPU). A build that is not there (`trunk serve` makes only Trunk's
// own, the single-thread one with WebGPU) is skipped for the next. prefetch.js asks the same questions.
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
  const threaded = self.crossOriginIsolated && typeof SharedArrayBuffer === "function" && !oneThread;
  const load = (webgpu) => {
    const builds = [
      ...(threaded ? [webgpu ? "faultline-worker-mt" : "faultline-worker-cpu-mt"] : []),
      ...(webgpu ? [] : ["faultline-worker-cpu"]),
    ];
    for (const build of builds) {
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
  // An adapter that takes more than 3 s to answer counts as one: the WebGPU builds also train on the CPU.
  const gpu = self.navigator && self.navigator.gpu;
  const asked = gpu
    ? Promise.race([
        gpu.requestAdapter().then((adapter) => adapter !== null, () => false),
        new Promise((resolve) => setTimeout(() => resolve(true), 3000)),
      ])
    : Promise.resolve(false);
  asked.then(load);
})();
