// Runs the in-browser bench page once and prints its JSON result on one line (used by `cargo xtask bench`).
//
// usage: FAULTLINE_URL=http://127.0.0.1:PORT/ node tests/e2e/bench-page.mjs CONFIG BACKEND STEPS SEED

import { launchBrowser, runBenchPage } from "./lib/browser.mjs";

const BENCH_TIMEOUT = 600_000;

const [bench, backend, steps, seed] = process.argv.slice(2);
if (!bench || !backend || !steps || !seed) {
  console.error("usage: node tests/e2e/bench-page.mjs CONFIG BACKEND STEPS SEED");
  process.exit(2);
}
const browser = await launchBrowser({ webgpu: backend === "webgpu" });
try {
  const { result, problems } = await runBenchPage(browser, { bench, backend, steps, seed }, BENCH_TIMEOUT);
  for (const problem of problems) {
    console.error(`bench page: ${problem}`);
  }
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
