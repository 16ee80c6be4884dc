// The WebGPU path in the browser: Chromium started with --enable-unsafe-webgpu, which gives SwiftShader
// (a software GPU). The worker trains through JSPI turns (src/worker/runtime.rs); these tests check
// that the kernels compile in the browser's own WGSL compiler, that a run chosen onto WebGPU trains the
// same losses as the CPU, and that the page says which backend runs and why.

import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import { cachedBuilds, launchBrowser, openPage, runBenchPage, screenshot, sharedBrowser } from "./lib/browser.mjs";

const LOAD_TIMEOUT = 60_000;
/** SwiftShader trains `tiny` at a few seconds a step on this 2-core machine. */
const RUN_TIMEOUT = 240_000;
/** A short run: 4 steps of 2 sequences, evaluated once at the end, with a 4-token sample. */
const SHORT_RUN = "config=tiny&steps=4&seed=3&batch=2&eval-every=1000&sample-tokens=4";

const kernelDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "crates", "gpu", "src", "kernels");

const shared = sharedBrowser({ webgpu: true });

/**
 * The worker builds whose WebAssembly the page fetched, each named once: the prefetch's requests (builds.js) and the
 * worker's own both come to the page.
 */
function watchBuilds(page) {
  const builds = new Set();
  page.on("request", (request) => {
    const name = new URL(request.url()).pathname.split("/").pop();
    if (/^faultline-worker.*_bg\.wasm$/.test(name)) {
      builds.add(name);
    }
  });
  return builds;
}

/**
 * Opens the trainer at `query`, waits until it is ready, presses Start and waits for the run's end. The
 * facts include the worker builds the page fetched.
 */
async function train(browser, query) {
  let builds = new Set();
  const opened = await openPage(browser, `?${query}`, {
    beforeLoad: (page) => {
      builds = watchBuilds(page);
    },
  });
  const { page } = opened;
  await page.locator('#status[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
  await page.locator("#start").click();
  await page
    .locator('#status[data-state="finished"], #status[data-state="error"], #status[data-state="stopped"]')
    .waitFor({ timeout: RUN_TIMEOUT });
  const text = async (id) => (await page.locator(`#${id}`).textContent())?.trim() ?? "";
  const facts = {
    state: await page.locator("#status").getAttribute("data-state"),
    steps: Number(await text("step-count")),
    trainLoss: Number(await text("train-loss")),
    backend: await text("perf-backend"),
    reason: await text("perf-backend-reason"),
    builds: [...builds],
    // The builds whose glue the pool's threads loaded (`faultline-thread.js?build=`).
    threads: page
      .workers()
      .map((worker) => new URL(worker.url()))
      .filter((url) => url.pathname.endsWith("faultline-thread.js"))
      .map((url) => url.searchParams.get("build")),
  };
  return { ...opened, facts };
}

describe("WebGPU in the browser", { timeout: 4 * RUN_TIMEOUT }, () => {
  test("every WGSL kernel compiles in the browser's own WebGPU", async () => {
    const { page, problems } = await openPage(shared.browser);
    try {
      const sources = Object.fromEntries(
        readdirSync(kernelDir).filter((f) => f.endsWith(".wgsl")).map((f) => [f, readFileSync(join(kernelDir, f), "utf8")]),
      );
      assert.ok(Object.keys(sources).length >= 9, "the kernel files were found");
      const messages = await page.evaluate(async (sources) => {
        const adapter = await navigator.gpu?.requestAdapter();
        if (!adapter) {
          return { adapter: "none" };
        }
        const device = await adapter.requestDevice();
        const out = {};
        for (const [name, code] of Object.entries(sources)) {
          const info = await device.createShaderModule({ code }).getCompilationInfo();
          out[name] = info.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`);
        }
        return out;
      }, sources);
      assert.notDeepEqual(messages, { adapter: "none" }, "Chromium with --enable-unsafe-webgpu has an adapter");
      for (const [name, list] of Object.entries(messages)) {
        assert.deepEqual(list, [], `${name} compiles without errors or warnings`);
      }
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  test("a run chosen onto WebGPU trains the CPU's losses and says why it runs there", async () => {
    const gpu = await train(shared.browser, `${SHORT_RUN}&compute=webgpu`);
    try {
      assert.equal(gpu.facts.state, "finished", `the WebGPU run finished: ${JSON.stringify(gpu.facts)}`);
      assert.equal(gpu.facts.steps, 4);
      assert.match(gpu.facts.backend, /^WebGPU/);
      assert.match(gpu.facts.reason, /^WebGPU, as chosen in the Compute setting$/);
      // The browser offered an adapter and the page is cross-origin isolated: the threaded build with
      // WebGPU, fetched once (builds.js picked it for the page's prefetch and for the worker's boot script).
      assert.deepEqual(gpu.facts.builds, ["faultline-worker-mt_bg.wasm"]);
      assert.ok(gpu.facts.threads.length >= 1, JSON.stringify(gpu.facts));
      assert.deepEqual(new Set(gpu.facts.threads), new Set(["faultline-worker-mt"]));
      assert.equal(await gpu.page.locator("#compute-select").inputValue(), "webgpu");
      assert.ok(await gpu.page.locator("#perf-gpu-note").isVisible(), "the note on where a GPU step waits");
      assert.match(await gpu.page.locator("#perf-threads").textContent(), /^the GPU computes the step/);
      assert.ok(!(await gpu.page.locator("#error-banner").isVisible()), "no error banner");
      assert.deepEqual(gpu.problems, []);
      await gpu.page.locator("#performance").scrollIntoViewIfNeeded();
      await screenshot(gpu.page, "webgpu-run.png");
      // The service worker asks the same question: it caches the two builds with WebGPU, not the others.
      await gpu.page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: LOAD_TIMEOUT });
      assert.deepEqual(await cachedBuilds(gpu.page), ["faultline-worker-mt_bg.wasm", "faultline-worker_bg.wasm"]);
    } finally {
      await gpu.page.close();
    }
    const cpu = await train(shared.browser, `${SHORT_RUN}&compute=cpu`);
    try {
      assert.equal(cpu.facts.state, "finished");
      assert.match(cpu.facts.backend, /^CPU/);
      assert.equal(cpu.facts.reason, "the CPU, as chosen in the Compute setting");
      // The same seed on both backends: the losses agree to the page's four decimals, within summation order.
      assert.ok(Number.isFinite(gpu.facts.trainLoss) && Number.isFinite(cpu.facts.trainLoss));
      assert.ok(
        Math.abs(gpu.facts.trainLoss - cpu.facts.trainLoss) <= 2e-3,
        `step 4 loss: WebGPU ${gpu.facts.trainLoss} vs CPU ${cpu.facts.trainLoss}`,
      );
    } finally {
      await cpu.page.close();
    }
  });

  test("auto keeps a software GPU off and says so; the choice is remembered", async () => {
    const auto = await train(shared.browser, SHORT_RUN);
    const { page } = auto;
    try {
      assert.equal(auto.facts.state, "finished");
      assert.equal(await page.locator("#compute-select").inputValue(), "auto", "auto is the default");
      assert.match(auto.facts.backend, /^CPU/);
      assert.match(auto.facts.reason, /^auto: WebGPU here is .*software renderer.*training on the CPU/);
      await page.locator("#compute-select").selectOption("webgpu");
      await page.reload({ waitUntil: "load" });
      await page.locator('#status[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
      assert.equal(await page.locator("#compute-select").inputValue(), "webgpu", "kept in this browser");
      await page.locator("#compute-select").selectOption("auto");
      assert.deepEqual(auto.problems, []);
    } finally {
      await page.close();
    }
  });

  test("a run too big for its memory on WebGPU fails with the out-of-memory entry, not a crash", async () => {
    const run = await train(shared.browser, "config=tiny&steps=4&seed=3&fault=batch-too-large&compute=webgpu");
    try {
      assert.equal(run.facts.state, "error", JSON.stringify(run.facts));
      await run.page.locator('#symptoms [data-entry="out-of-memory-oom"]').waitFor({ timeout: 10_000 });
      assert.match(await run.page.locator("#error-banner").textContent(), /memory/i);
      assert.deepEqual(run.problems, []);
    } finally {
      await run.page.close();
    }
  });

  test("the bench page measures WebGPU training and the GPU's work per step", async () => {
    const { result, rows, problems } = await runBenchPage(
      shared.browser,
      { bench: "tiny", backend: "webgpu", steps: 9, seed: 1 },
      RUN_TIMEOUT,
    );
    assert.ok(!result.error, `no error: ${result.error}`);
    assert.equal(result.backend, "webgpu");
    assert.match(result.backend_name, /^WebGPU/);
    assert.ok(result.steps_per_s > 0 && Number.isFinite(result.last_loss), JSON.stringify(result));
    // Outside evaluations, one submission and one readback per launch of steps_per_readback steps:
    // after the untimed first step, steps 2-9 are one launch (step 10, the last, has the evaluation).
    assert.ok(result.dispatches_per_step > 50, `dispatches per step: ${result.dispatches_per_step}`);
    assert.equal(result.steps_per_readback, 8);
    assert.equal(result.plain_steps, 8);
    assert.equal(result.submissions_per_plain_step, 1 / 8);
    assert.ok(result.bytes_read_back_per_plain_step > 0);
    // The dispatch-cost probe: recording alone is part of recording, running and reading back.
    assert.ok(result.record_us_per_dispatch > 0, `recording: ${result.record_us_per_dispatch} µs`);
    assert.ok(result.run_us_per_dispatch > result.record_us_per_dispatch, JSON.stringify(result));
    assert.deepEqual(rows, { "bench-webgpu": 11 });
    assert.deepEqual(problems, []);
  });

  test("without WebGPU, the worker loads its build without wgpu, and a run chosen onto WebGPU trains on the CPU and says why", async () => {
    const plain = await launchBrowser();
    try {
      const run = await train(plain, `${SHORT_RUN}&compute=webgpu`);
      try {
        assert.equal(run.facts.state, "finished");
        assert.match(run.facts.backend, /^CPU/);
        assert.match(
          run.facts.reason,
          /^this browser has no WebGPU adapter \(the worker loaded its build without WebGPU\): training on the CPU$/,
        );
        // No adapter: the threaded build without WebGPU (no wgpu in it), and only that one.
        assert.deepEqual(run.facts.builds, ["faultline-worker-cpu-mt_bg.wasm"]);
        assert.ok(run.facts.threads.length >= 1, JSON.stringify(run.facts));
        assert.deepEqual(new Set(run.facts.threads), new Set(["faultline-worker-cpu-mt"]));
        assert.deepEqual(run.problems, []);
      } finally {
        await run.page.close();
      }
      const { page } = await openPage(plain, "?compute=quantum");
      try {
        const notices = await page.locator("#link-notices").textContent();
        assert.match(notices, /compute=quantum: there is no backend 'quantum'/);
      } finally {
        await page.close();
      }
    } finally {
      await plain.close();
    }
  });
});
