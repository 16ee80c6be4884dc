// The training worker's four builds (`cargo xtask dist` makes them, xtask/src/site.rs) and which one
// this browser gets, written once for every side that chooses: the page loads this script (index.html),
// and the worker's boot script (worker-boot.js), the threads of its pool (faultline-thread.js) and the
// service worker (src/offline/service-worker.js) load it with `importScripts`.
//
// Two questions pick the build. Is the scope cross-origin isolated, so memory can be shared? Then a
// threaded build, which trains on a pool of threads (src/worker/threads.rs); `?threads=1` on the page
// keeps one thread. Did the browser offer a WebGPU adapter? If not, a build without WebGPU, which
// carries no wgpu and is smaller (it says so when a run asks for WebGPU).
self.faultlineBuilds = (() => {
  const threaded = (href) =>
    self.crossOriginIsolated &&
    typeof SharedArrayBuffer === "function" &&
    new URL(href).searchParams.get("threads") !== "1";
  // Whether the browser offers a WebGPU adapter. One that takes more than 3 s to answer counts as one:
  // the WebGPU builds also train on the CPU.
  const webgpu = () => {
    const gpu = self.navigator && self.navigator.gpu;
    return gpu
      ? Promise.race([
          gpu.requestAdapter().then((adapter) => adapter !== null, () => false),
          new Promise((resolve) => setTimeout(() => resolve(true), 3000)),
        ])
      : Promise.resolve(false);
  };
  // The two threaded builds, with WebGPU first. A thread of the pool (faultline-thread.js) loads the
  // one its worker runs.
  const threadedBuilds = ["faultline-worker-mt", "faultline-worker-cpu-mt"];
  // The builds to try, best first. After them comes Trunk's own build (one thread, with WebGPU), the
  // only one `trunk serve` alone makes: its loader script, `faultline-worker_loader.js`.
  const candidates = (threaded, webgpu) => [
    ...(threaded ? [threadedBuilds[webgpu ? 0 : 1]] : []),
    ...(webgpu ? [] : ["faultline-worker-cpu"]),
  ];
  // The files of the build a browser with these answers loads, where `cargo xtask dist` made all four.
  const files = (threaded, webgpu) => {
    const [build] = candidates(threaded, webgpu);
    return build
      ? [`${build}.js`, `${build}_bg.wasm`]
      : ["faultline-worker_loader.js", "faultline-worker.js", "faultline-worker_bg.wasm"];
  };
  return { threaded, webgpu, threadedBuilds, candidates, files };
})();

// On the page: start the worker's files downloading while the page's own WebAssembly does. The page
// starts the worker only once its module runs, so without this the worker's build (about half of what
// the first step needs) would wait for the page's; with it the two share the network, and the worker
// finds its files in the browser's HTTP cache (revalidated, as the server's Cache-Control asks).
if (typeof document === "object") {
  const { threaded, webgpu, files } = self.faultlineBuilds;
  const fetchAll = (names) => {
    for (const name of names) {
      fetch(new URL(name, document.baseURI))
        .then((response) => response.arrayBuffer())
        .catch(() => {});
    }
  };
  const isolated = threaded(location.href);
  fetchAll(["worker-boot.js", ...(isolated ? ["faultline-thread.js"] : [])]);
  webgpu().then((adapter) => fetchAll(files(isolated, adapter)));
}
