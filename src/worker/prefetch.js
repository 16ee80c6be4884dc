// Starts the training worker's files downloading while the page's own WebAssembly does. The page starts
// the worker only once its module runs, so without this the worker's build (about half of what the
// first step needs) would wait for the page's; with it the two share the network, and the worker finds
// its files in the browser's HTTP cache (revalidated, as the server's Cache-Control asks). It picks the
// build that worker-boot.js will pick: threaded where the page is cross-origin isolated, with WebGPU
// where the browser offers an adapter.
(() => {
  const oneThread = new URL(location.href).searchParams.get("threads") === "1";
  const threaded = self.crossOriginIsolated && typeof SharedArrayBuffer === "function" && !oneThread;
  const fetchAll = (files) => {
    for (const file of files) {
      fetch(new URL(file, document.baseURI))
        .then((response) => response.arrayBuffer())
        .catch(() => {});
    }
  };
  const prefetch = (webgpu) => {
    const build = threaded
      ? webgpu
        ? "faultline-worker-mt"
        : "faultline-worker-cpu-mt"
      : webgpu
        ? null
        : "faultline-worker-cpu";
    const files = build
      ? [`${build}.js`, `${build}_bg.wasm`]
      : ["faultline-worker_loader.js", "faultline-worker.js", "faultline-worker_bg.wasm"];
    fetchAll(["worker-boot.js", ...files, ...(threaded ? ["faultline-thread.js"] : [])]);
  };
  const gpu = navigator.gpu;
  const asked = gpu
    ? Promise.race([
        gpu.requestAdapter().then((adapter) => adapter !== null, () => false),
        new Promise((resolve) => setTimeout(() => resolve(true), 3000)),
      ])
    : Promise.resolve(false);
  asked.then(prefetch);
})();
