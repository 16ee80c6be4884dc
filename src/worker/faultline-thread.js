// One thread of the training worker's pool (src/worker/threads.rs), in one of the worker's threaded
// builds, which `?build=` names (with WebGPU or without: the glue must be the one the module was built
// with). The training worker sends this module, its shared memory and the address of a rayon
// ThreadBuilder; the thread instantiates the same wasm on that memory, says it started, and runs the
// builder's loop (it returns only when the pool shuts down, which it never does while the worker lives).
importScripts("./builds.js");
const { threadedBuilds } = self.faultlineBuilds;
const build = new URL(self.location.href).searchParams.get("build");
importScripts(`./${threadedBuilds.includes(build) ? build : threadedBuilds[0]}.js`);
self.onmessage = async (event) => {
  self.onmessage = null;
  const [module, memory, builder] = event.data;
  await wasm_bindgen({ module_or_path: module, memory });
  self.postMessage("started");
  wasm_bindgen.faultline_thread_run(builder);
};
