// Opens the app once, as a first visit, and prints as one JSON line what the browser fetched before the
// first training step (each file's bytes on the wire: gzip, as the server sends them) and how long the
// first step took to come, from the start of navigation. Start is pressed as soon as it can be.
//
// usage: FAULTLINE_URL=http://127.0.0.1:PORT/ [FAULTLINE_WEBGPU=1] node tests/e2e/load-page.mjs
// FAULTLINE_WEBGPU=1 starts Chromium with --enable-unsafe-webgpu (an adapter, SwiftShader's), so the
// worker's build with WebGPU is the one fetched; without it Chromium offers none, and the build without.
// `cargo xtask bench` runs it against a server that plays a slow network (9 Mbit/s, 170 ms round
// trips: the `load` rows of BENCHMARKS.md); against a plain `cargo xtask serve` it measures loopback.

import { baseUrl, launchBrowser } from "./lib/browser.mjs";

const TIMEOUT = 120_000;

const webgpu = process.env.FAULTLINE_WEBGPU === "1";
const browser = await launchBrowser({ webgpu });
try {
  // A visit first, in a context of its own, so that the server has compressed every file (a static
  // host serves them compressed already); the measured visit's context shares no cache with it.
  const warm = await browser.newContext({ serviceWorkers: "block" });
  const warmPage = await warm.newPage();
  await warmPage.goto(baseUrl());
  await warmPage.waitForSelector('html[data-worker="ready"]', { state: "attached", timeout: TIMEOUT });
  await warm.close();

  const context = await browser.newContext();
  const page = await context.newPage();
  const fetched = [];
  const record = async (request) => {
    const sizes = await request.sizes().catch(() => null);
    fetched.push({
      url: request.url(),
      by_service_worker: Boolean(request.serviceWorker()),
      bytes: sizes ? sizes.responseBodySize + sizes.responseHeadersSize : null,
    });
  };
  // The page's requests and its dedicated workers' come to the page; the service worker's own fetches
  // (its install caches the site) come to the context.
  const seen = new Set();
  const once = (request) => {
    if (!seen.has(request)) {
      seen.add(request);
      record(request);
    }
  };
  page.on("requestfinished", once);
  context.on("requestfinished", once);
  await page.goto(baseUrl(), { waitUntil: "commit" });
  await page.locator('#status[data-state="idle"]').waitFor({ timeout: TIMEOUT });
  await page.locator("#start:not([disabled])").click({ timeout: TIMEOUT });
  const handle = await page.waitForFunction(
    () => Number(document.querySelector("#step-count")?.textContent) >= 1 && performance.now(),
    null,
    { polling: "raf", timeout: TIMEOUT },
  );
  const firstStepMs = await handle.jsonValue();
  const files = fetched.map(({ url, by_service_worker, bytes }) => ({
    name: new URL(url).pathname.split("/").pop() || "index.html",
    by_service_worker,
    bytes,
  }));
  const total = files.reduce((sum, file) => sum + (file.bytes ?? 0), 0);
  console.log(JSON.stringify({ webgpu, first_step_ms: firstStepMs, total_bytes: total, files }));
  await context.close();
} finally {
  await browser.close();
}
