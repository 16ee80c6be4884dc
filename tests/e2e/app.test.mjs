// The training page of the release build, driven as a learner would: load it, train, break the inputs.
//
// Written against the app's DOM contract (ids and data attributes), not its layout. Waits are generous:
// CI is a 2-core machine and the model trains on the CPU in a Web Worker.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { join } from "node:path";
import { openPage, reloadWithWorker, screenshot, screenshotDir, sharedBrowser, typeInto } from "./lib/browser.mjs";

const LOAD_TIMEOUT = 60_000;
const RUN_TIMEOUT = 300_000;
/** How long a click on #ping may take to be answered while training runs. */
const PROMPT_MS = 1_500;

const shared = sharedBrowser();

/** Opens the app and waits until it is ready for input. */
async function openApp() {
  const opened = await openPage(shared.browser);
  await opened.page.locator('#status[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
  return opened;
}

async function state(page) {
  return page.locator("#status").getAttribute("data-state");
}

async function numberIn(page, selector) {
  const text = (await page.locator(selector).textContent())?.trim() ?? "";
  return text === "" ? NaN : Number(text);
}

describe("the training page", { timeout: RUN_TIMEOUT + 120_000 }, () => {
  test("loads without errors and shows its controls", async () => {
    const { page, problems } = await openApp();
    try {
      for (const id of ["start", "config", "corpus", "lr", "steps", "seed", "loss-chart"]) {
        assert.ok(await page.locator(`#${id}`).isVisible(), `#${id} is visible`);
      }
      for (const id of ["pause", "resume", "step", "reset", "step-count", "train-loss", "val-loss",
        "tokens-per-s", "backend", "sample", "ping", "ping-count"]) {
        assert.equal(await page.locator(`#${id}`).count(), 1, `#${id} is on the page`);
      }
      assert.equal(await page.locator("[data-error-for]").count(), 0, "no field errors at first");
      assert.ok(await page.evaluate(() => self.crossOriginIsolated), "served cross-origin isolated");
      // The worker's export lives in the worker's binary: had the library exported it, the page's
      // WebAssembly would carry the whole training worker too (a third more bytes to load).
      const pageExports = await page.evaluate(() => Object.keys(window.wasmBindings ?? {}));
      assert.ok(pageExports.length > 0, "Trunk exposes the page's module as window.wasmBindings");
      assert.ok(!pageExports.includes("faultline_worker_turn"), `the page carries no training worker: ${pageExports}`);
      assert.ok(!(await page.locator("#error-banner").isVisible()), "the error banner is hidden");
      // Give the worker a moment to start, so errors it reports are caught too.
      await page.waitForTimeout(2_000);
      assert.deepEqual(problems, [], "no console errors, page errors or failed requests");
    } finally {
      await page.close();
    }
  });

  test("counts the worker's threads before any run, and a threads=1 link keeps one thread across a reload", async () => {
    const { page, problems } = await openApp();
    try {
      await page.workerLoaded;
      const cores = await page.evaluate(() => Math.min(navigator.hardwareConcurrency, 8));
      const threads = await page.locator("#perf-threads").textContent();
      assert.match(threads, new RegExp(cores > 1 ? `^${cores}: the page is cross-origin isolated` : "^1: "));
      assert.equal(await page.locator('#status').getAttribute("data-state"), "idle", "no run has started");
    } finally {
      await page.close();
    }
    const single = await openPage(shared.browser, "?threads=1");
    try {
      await single.page.locator('#status[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
      await single.page.workerLoaded;
      const one = /^1: training runs in one Web Worker on one core of the \d+ this browser reports\. The link asks for one thread/;
      assert.match(await single.page.locator("#perf-threads").textContent(), one);
      assert.match(single.page.url(), /[?&]threads=1(&|$)/, "the address bar keeps threads=1 as the form writes it");
      await reloadWithWorker(single.page);
      assert.match(await single.page.locator("#perf-threads").textContent(), one, "still one thread after a reload");
      assert.deepEqual([...problems, ...single.problems], [], "no console errors, page errors or failed requests");
    } finally {
      await single.page.close();
    }
  });

  test("trains: the loss falls, a sample appears, the page stays responsive", async (t) => {
    const { page, problems } = await openApp();
    try {
      await typeInto(page, "#steps", "60");
      await typeInto(page, "#seed", "1");
      // Record every step count and training loss the page shows, from the first step on.
      await page.evaluate(() => {
        const read = (selector) => Number(document.querySelector(selector)?.textContent?.trim() || "x");
        window.__seen = { steps: [], losses: [] };
        setInterval(() => {
          for (const [selector, list] of [["#step-count", window.__seen.steps],
            ["#train-loss", window.__seen.losses]]) {
            const value = read(selector);
            if (Number.isFinite(value) && value !== list.at(-1)) {
              list.push(value);
            }
          }
        }, 20);
      });
      await page.locator("#start").click();
      await page.locator('#status[data-state="running"]').waitFor({ timeout: LOAD_TIMEOUT });

      // While the worker trains, the page answers clicks at once.
      let pings = 0;
      while ((await state(page)) === "running" && pings < 3) {
        const before = await numberIn(page, "#ping-count");
        const clickedAt = Date.now();
        await page.locator("#ping").click({ timeout: PROMPT_MS });
        await page.waitForFunction(
          (count) => Number(document.querySelector("#ping-count")?.textContent) === count,
          before + 1,
          { timeout: PROMPT_MS, polling: 10 },
        );
        const answeredInMs = Date.now() - clickedAt;
        assert.ok(answeredInMs < PROMPT_MS, `#ping answered in ${answeredInMs} ms`);
        t.diagnostic(`#ping answered in ${answeredInMs} ms while training`);
        pings += 1;
        await page.waitForTimeout(500);
      }
      assert.ok(pings > 0, "the run lasted long enough to ping the page while it trained");

      await page.locator('#status[data-state="finished"]').waitFor({ timeout: RUN_TIMEOUT });
      assert.equal(await numberIn(page, "#step-count"), 60, "all 60 steps ran");
      const { steps, losses } = await page.evaluate(() => window.__seen);
      assert.ok(steps.length >= 3, `the step count rose as training went: ${steps}`);
      assert.ok(steps.every((step, i) => i === 0 || step > steps[i - 1]), `steps only rise: ${steps}`);
      assert.ok(losses.length >= 2, `the loss was reported as training went: ${losses}`);
      const [firstLoss, lastLoss] = [losses[0], losses.at(-1)];
      assert.ok(
        lastLoss < 0.9 * firstLoss,
        `the training loss fell clearly: ${firstLoss} -> ${lastLoss}`,
      );
      t.diagnostic(`train loss ${firstLoss} -> ${lastLoss} over ${steps.length} step counts seen`);
      await page.waitForFunction(
        () => (document.querySelector("#sample")?.textContent?.trim().length ?? 0) > 0,
        null,
        { timeout: LOAD_TIMEOUT },
      );
      assert.ok(!(await page.locator("#error-banner").isVisible()), "no error banner");
      // The Performance panel reads the same run's step times.
      assert.match(await page.locator("#perf-speed").textContent(), /^\d+\.\d steps\/s \(\d+\.\d ms a step/);
      const shares = await page.locator("#perf-phases tbody tr td:nth-child(3)").allTextContents();
      assert.equal(shares.length, 5, `five phases: ${shares}`);
      const total = shares.reduce((sum, s) => sum + Number.parseFloat(s), 0);
      assert.ok(Math.abs(total - 100) <= 3, `the phase shares add up to about 100%: ${shares}`);
      // The test server sends COOP/COEP, so the worker runs its threaded build: a thread per core (at most 8).
      const cores = await page.evaluate(() => Math.min(navigator.hardwareConcurrency, 8));
      const threads = await page.locator("#perf-threads").textContent();
      if (cores > 1) {
        assert.match(threads, new RegExp(`^${cores}: the page is cross-origin isolated, so the worker runs its threaded`));
      } else {
        assert.match(threads, /^1: training runs in one Web Worker/);
      }
      await page.locator("#performance").screenshot({ path: join(screenshotDir, "performance.png") });
      await screenshot(page, "training.png");
      assert.deepEqual(problems, [], "no console errors, page errors or failed requests");
    } finally {
      await page.close();
    }
  });

  test("rejects invalid input inline and does not start", async () => {
    const { page } = await openApp();
    try {
      await typeInto(page, "#lr", "abc");
      await typeInto(page, "#steps", "-5");
      await page.locator('[data-error-for="lr"]').waitFor({ state: "visible", timeout: 5_000 });
      await page.locator('[data-error-for="steps"]').waitFor({ state: "visible", timeout: 5_000 });

      await page.locator("#start").click({ force: true });
      await page.waitForTimeout(2_000);
      assert.equal(await state(page), "idle", "no run started");
      assert.equal(await numberIn(page, "#step-count") || 0, 0, "no step ran");
      assert.ok(await page.locator('[data-error-for="lr"]').isVisible(), "the lr error stays");
      await screenshot(page, "invalid-input.png");
    } finally {
      await page.close();
    }
  });
});
