// Starts the training worker's files downloading while the page's own WebAssembly does. The page starts
// the worker only once its module runs, so without this the worker's build (about half of what the
// first step needs) would wait for the page's; with it the two share the network, and the worker finds
// its files in the browser's HTTP cache (revalidated, as the server's Cache-Control asks). It picks the
// build that worker-boot.js will pick.
(() => {
  const oneThread = new URL(location.href).searchParams.get("threads") === "1";
  const threaded = self.crossOriginIsolated && typeof SharedArrayBuffer === "function" && !oneThread;
  const files = threaded
    ? ["worker-boot.js", "faultline-worker-mt.js", "faultline-worker-mt_bg.wasm", "faultline-thread.js"]
    : ["worker-boot.js", "faultline-worker_loader.js", "faultline-worker.js", "faultline-worker_bg.wasm"];
  for (const file of files) {
    fetch(new URL(file, document.baseURI))
      .then((response) => response.arrayBuffer())
      .catch(() => {});
  }
})();
