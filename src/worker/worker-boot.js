// The training worker's first script: the page starts the worker with this file.
//
// WebGPU answers only through promises, while the engine's backend trait is synchronous. Where the
// browser has JavaScript Promise Integration (JSPI), this script makes the wasm import
// `faultlineSuspendYield` a `WebAssembly.Suspending` import, so a readback can suspend the worker's
// turn until the GPU answers (crates/gpu/src/wait.rs; the turns are in src/worker/runtime.rs). It
// hooks WebAssembly.instantiate(Streaming) because the imports object is built inside the
// wasm-bindgen glue that Trunk's loader runs next.
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
importScripts("./faultline-worker_loader.js");
