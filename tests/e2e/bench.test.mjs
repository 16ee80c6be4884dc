// The bench page: `/?bench=tiny&backend=cpu&steps=20&seed=1` trains with no interaction and reports JSON,
// and shows the same figures as tables.

import assert from "node:assert/strict";
import { test } from "node:test";
import { runBenchPage, sharedBrowser } from "./lib/browser.mjs";

const BENCH_TIMEOUT = 300_000;

const shared = sharedBrowser();

test("the bench page reports a finite first loss, a positive speed and its kernel report", { timeout: BENCH_TIMEOUT + 60_000 }, async () => {
  const params = { bench: "tiny", backend: "cpu", steps: "20", seed: "1" };
  const { result, rows, problems } = await runBenchPage(shared.browser, params, BENCH_TIMEOUT);
  assert.equal(result.error, undefined, `the bench ran without error: ${result.error}`);
  assert.equal(result.backend, "cpu");
  assert.equal(result.config, "tiny");
  assert.equal(result.steps, 20);
  assert.ok(Number.isInteger(result.threads) && result.threads >= 1, `threads: ${result.threads}`);
  assert.ok(Number.isFinite(result.first_loss), `first_loss is finite: ${result.first_loss}`);
  assert.ok(Number.isFinite(result.last_loss), `last_loss is finite: ${result.last_loss}`);
  assert.ok(result.steps_per_s > 0, `steps_per_s > 0: ${result.steps_per_s}`);
  assert.ok(result.tokens_per_s > 0, `tokens_per_s > 0: ${result.tokens_per_s}`);
  // The same run with the reference kernels, and the kernel report, measured in the same page.
  assert.ok(result.reference_steps_per_s > 0, `reference_steps_per_s > 0: ${result.reference_steps_per_s}`);
  const kernels = result.kernels;
  assert.ok(kernels, "the result carries a kernel report");
  assert.ok(kernels.simd_ceiling_gflops > 0, `simd_ceiling_gflops > 0: ${kernels.simd_ceiling_gflops}`);
  assert.ok(Number.isFinite(kernels.matmul_256_of_ceiling), `matmul_256_of_ceiling: ${kernels.matmul_256_of_ceiling}`);
  const names = kernels.matmul.map((k) => k.name);
  for (const name of ["256x256x256", "256x256x256 packed", "256x256x256 matrixmultiply"]) {
    assert.ok(names.includes(name), `matmul ${name} measured: ${names}`);
  }
  for (const k of kernels.matmul) {
    assert.ok(k.gflops > 0, `${k.name}: ${k.gflops} GFLOP/s`);
  }
  for (const r of kernels.rows) {
    assert.ok(r.fast_ms > 0 && r.reference_ms > 0, `${r.name}: ${r.fast_ms} ms vs ${r.reference_ms} ms`);
  }
  assert.deepEqual(
    rows,
    { "bench-training": 4, "bench-matmul": kernels.matmul.length, "bench-kernels": kernels.rows.length },
    "the page shows the result as tables",
  );
  assert.deepEqual(problems, [], "no console errors, page errors or failed requests");
});

test("the threaded build trains the same bits on every core as on one thread", { timeout: 2 * BENCH_TIMEOUT }, async (t) => {
  const params = { bench: "tiny", backend: "cpu", steps: "6", seed: "3" };
  const threaded = await runBenchPage(shared.browser, params, BENCH_TIMEOUT);
  const single = await runBenchPage(shared.browser, { ...params, threads: "1" }, BENCH_TIMEOUT);
  const cores = Math.min(await coresOf(shared.browser), 8);
  assert.equal(threaded.result.threads, cores > 1 ? cores : 1, "a thread per core on a cross-origin isolated page");
  assert.equal(single.result.threads, 1, "?threads=1 keeps one thread");
  if (cores > 1) {
    assert.equal(threaded.threadsLink, "?bench=tiny&backend=cpu&steps=6&seed=3&threads=1", "the link to one thread");
    assert.equal(single.threadsLink, "?bench=tiny&backend=cpu&steps=6&seed=3", "the link back to every core");
  }
  for (const field of ["first_loss", "last_loss"]) {
    assert.ok(Number.isFinite(single.result[field]), `${field} is finite: ${single.result[field]}`);
    assert.equal(threaded.result[field], single.result[field], `${field}: the same bits on ${cores} threads`);
  }
  t.diagnostic(
    `tiny: ${threaded.result.steps_per_s.toFixed(2)} steps/s on ${threaded.result.threads} threads, ` +
      `${single.result.steps_per_s.toFixed(2)} on one`,
  );
  assert.deepEqual([...threaded.problems, ...single.problems], [], "no console errors, page errors or failed requests");
});

/** The cores the browser reports. */
async function coresOf(browser) {
  const page = await browser.newPage();
  try {
    return await page.evaluate(() => navigator.hardwareConcurrency);
  } finally {
    await page.close();
  }
}
