// One thread of the training worker's pool (src/worker/threads.rs), in the worker's threaded build.
// The training worker sends this module, its shared memory and the address of a rayon ThreadBuilder;
// the thread instantiates the same wasm on that memory, says it started, and runs the builder's loop
// (it returns only when the pool shuts down, which it never does while the worker lives).
importScripts("./faultline-worker-mt.js");
self.onmessage = async (event) => {
  self.onmessage = null;
  const [module, memory, builder] = event.data;
  await wasm_bindgen({ module_or_path: module, memory });
  self.postMessage("started");
  wasm_bindgen.faultline_thread_run(builder);
};
