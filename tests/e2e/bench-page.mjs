// Runs the in-browser bench page once and prints its JSON result on one line (used by `cargo xtask bench`).
//
// usage: FAULTLINE_URL=http://127.0.0.1:PORT/ node tests/e2e/bench-page.mjs CONFIG BACKEND STEPS SEED [THREADS]
// (THREADS 1 keeps the CPU path on one thread where the page could run its threaded build.)

import { launchBrowser, runBenchPage } from "./lib/browser.mjs";

const BENCH_TIMEOUT = 600_000;

const [bench, backend, steps, seed, threads] = process.argv.slice(2);
if (!bench || !backend || !steps || !seed || (threads !== undefined && threads !== "1")) {
  console.error("usage: node tests/e2e/bench-page.mjs CONFIG BACKEND STEPS SEED [1]");
  process.exit(2);
}
const browser = await launchBrowser({ webgpu: backend === "webgpu" });
try {
  const params = { bench, backend, steps, seed, ...(threads ? { threads } : {}) };
  const { result, problems } = await runBenchPage(browser, params, BENCH_TIMEOUT);
  for (const problem of problems) {
    console.error(`bench page: ${problem}`);
  }
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
