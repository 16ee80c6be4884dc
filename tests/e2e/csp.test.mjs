// The built site's Content-Security-Policy (xtask/src/csp.rs): the first element of index.html's <head>
// and, from xtask's server, a header that also reaches the workers. A short training run on the CPU
// (on the threaded build: the training worker starts its own pool of workers), one on WebGPU, an
// exercise page and the guide must raise no `securitypolicyviolation`, in the page or in its workers;
// a script injected into the page must not run, and neither may eval.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { baseUrl, evalInWorker, openPage, screenshot, sharedBrowser, trainToEnd } from "./lib/browser.mjs";

const LOAD_TIMEOUT = 60_000;
/** SwiftShader trains `tiny` at a few seconds a step on a 2-core machine. */
const RUN_TIMEOUT = 240_000;
/** A short run: 4 steps of 2 sequences, evaluated once at the end, with a 4-token sample. */
const SHORT_RUN = "config=tiny&steps=4&seed=3&batch=2&eval-every=1000&sample-tokens=4";

const shared = sharedBrowser({ webgpu: true });

/** Installed in the page before any of its own scripts, and in each worker as it starts. */
function recordViolations() {
  self.__cspViolations = [];
  self.addEventListener("securitypolicyviolation", (e) => {
    const where = e.sourceFile ? ` at ${e.sourceFile}:${e.lineNumber}` : "";
    self.__cspViolations.push(`${e.effectiveDirective} refused ${e.blockedURI || "inline"}${where}: ${e.sample}`);
  });
}

/**
 * Opens `path` with every policy violation recorded: the page's from its first script on, its workers'
 * from their start, and any console message that mentions the policy.
 */
async function openWatched(path) {
  const workers = [];
  const messages = [];
  const mentionsPolicy = (message) => {
    if (/Content.Security.Policy/i.test(message.text())) {
      messages.push(`console: ${message.text()}`);
    }
  };
  const opened = await openPage(shared.browser, path, {
    beforeLoad: async (page) => {
      await page.addInitScript(recordViolations);
      page.on("console", mentionsPolicy);
      page.on("worker", (worker) => {
        workers.push(worker);
        worker.on("console", mentionsPolicy);
        worker.evaluate(recordViolations).catch(() => {});
      });
    },
  });
  // A pool thread of the threaded build waits in Atomics.wait between jobs and cannot answer: its
  // violations reach the console listener only; the training worker answers between its turns.
  const recorded = (worker) =>
    Promise.race([
      worker.evaluate(() => self.__cspViolations ?? []).catch(() => []),
      new Promise((resolve) => setTimeout(() => resolve([]), 2_000)),
    ]);
  const violations = async () => {
    const inPage = await opened.page.evaluate(() => self.__cspViolations);
    const inWorkers = await Promise.all(workers.map(recorded));
    return [...inPage, ...inWorkers.flat(), ...messages];
  };
  return { ...opened, workers, violations };
}

/** The policy as the page's first <meta> states it. */
async function metaPolicy(page) {
  return page.evaluate(() => {
    const first = document.head.firstElementChild;
    return first?.matches('meta[http-equiv="Content-Security-Policy"]') ? first.getAttribute("content") : null;
  });
}

describe("the Content-Security-Policy", { timeout: 3 * RUN_TIMEOUT }, () => {
  test("is the first element of <head>, strict, and the header of the page and of the worker scripts", async () => {
    const page = await fetch(baseUrl());
    const html = await page.text();
    const header = page.headers.get("content-security-policy");
    const meta = html.match(/<head>\s*<meta http-equiv="Content-Security-Policy" content="([^"]+)" \/>/);
    assert.ok(meta, "the policy's <meta> comes first in <head>");
    assert.equal(header, meta[1], "the server sends the policy the page states");
    const directives = Object.fromEntries(header.split("; ").map((d) => [d.split(" ")[0], d.split(" ").slice(1)]));
    assert.deepEqual(Object.keys(directives), [
      "default-src", "script-src", "style-src", "img-src", "connect-src", "worker-src", "object-src", "base-uri",
      "form-action",
    ]);
    const inline = [...html.matchAll(/<script(?![^>]*\ssrc=)[^>]*>/g)].length;
    assert.ok(inline >= 1, "Trunk writes an inline loader");
    const hashes = directives["script-src"].filter((s) => s.startsWith("'sha256-"));
    assert.equal(hashes.length, inline, "one hash for each inline script");
    assert.deepEqual(directives["script-src"].slice(0, 2), ["'self'", "'wasm-unsafe-eval'"]);
    assert.deepEqual(directives["style-src"], ["'self'"]);
    assert.deepEqual(directives["worker-src"], ["'self'"]);
    assert.deepEqual(directives["img-src"], ["'self'", "data:", "blob:"]);
    assert.doesNotMatch(header, /unsafe-inline|'unsafe-eval'/);
    for (const script of ["worker-boot.js", "faultline-worker_loader.js", "faultline-thread.js"]) {
      const response = await fetch(new URL(script, baseUrl()));
      assert.equal(response.status, 200, script);
      assert.equal(response.headers.get("content-security-policy"), header, `${script} carries the policy`);
      await response.arrayBuffer();
    }
  });

  test("a CPU run on the threaded build raises no violation, and injected scripts, eval and style attributes are refused", async () => {
    const { page, problems, workers, violations } = await openWatched(`?${SHORT_RUN}&compute=cpu`);
    try {
      assert.equal(await trainToEnd(page), "finished");
      assert.match(await page.locator("#perf-backend").textContent(), /^CPU/);
      assert.ok(await page.evaluate(() => self.crossOriginIsolated), "the threaded build ran");
      assert.ok(workers.length >= 2, `the training worker and its pool started: ${workers.map((w) => w.url())}`);
      // This Chromium offers a WebGPU adapter (SwiftShader's): the pool's threads load the glue of the
      // threaded build with WebGPU, the one the training worker loaded.
      const threads = workers.map((w) => w.url()).filter((url) => url.includes("faultline-thread.js"));
      assert.ok(threads.length >= 1, `${workers.map((w) => w.url())}`);
      for (const url of threads) {
        assert.equal(new URL(url).searchParams.get("build"), "faultline-worker-mt", url);
      }
      assert.ok(await metaPolicy(page), "the page states its policy");
      // What the app styles through the CSSOM is applied: the memory bar, the phases' bars and key colours.
      const styled = await page.evaluate(() => ({
        segment: document.querySelector("#memory-estimate .segment")?.style.width,
        bar: document.querySelector("#performance .bar")?.style.width,
        key: getComputedStyle(document.querySelector(".key.block")).getPropertyValue("--key").trim(),
      }));
      assert.match(styled.segment, /^\d+(\.\d+)?%$/, JSON.stringify(styled));
      assert.match(styled.bar, /^\d+(\.\d+)?%$/, JSON.stringify(styled));
      assert.match(styled.key, /^rgb\(\d+, \d+, \d+\)$/, JSON.stringify(styled));
      await screenshot(page, "csp-cpu-run.png");
      assert.deepEqual(await violations(), [], "no policy violation during the run");
      assert.deepEqual(problems, []);

      const refused = await page.evaluate(async () => {
        const script = document.createElement("script");
        script.textContent = "window.__injected = 1";
        document.head.append(script);
        const handler = document.createElement("img");
        handler.setAttribute("onerror", "window.__injected = 2");
        handler.src = "data:,not-an-image";
        document.body.append(handler);
        const styled = document.createElement("p");
        styled.setAttribute("style", "color: rgb(1, 2, 3)");
        document.body.append(styled);
        // After a turn, as DevTools lets the code it evaluates call eval while it runs.
        await new Promise((resolve) => setTimeout(resolve, 300));
        let evaluated;
        try {
          evaluated = eval("1 + 1");
        } catch (error) {
          evaluated = error.name;
        }
        const colour = getComputedStyle(styled).color;
        handler.remove();
        styled.remove();
        return { injected: window.__injected ?? null, evaluated, colour };
      });
      assert.equal(refused.injected, null, "neither the injected script nor the injected handler ran");
      assert.equal(refused.evaluated, "EvalError", "eval is refused");
      assert.notEqual(refused.colour, "rgb(1, 2, 3)", "a style attribute written as markup is refused");
      // Each refusal is reported once for each of the two policies, the <meta>'s and the header's.
      const events = (await violations()).filter((v) => !v.startsWith("console:"));
      assert.deepEqual([...new Set(events.map((v) => v.split(" ")[0]))].sort(), [
        "script-src", "script-src-attr", "script-src-elem", "style-src-attr",
      ], events.join("\n"));

      // The header reaches the workers, which a <meta> cannot: eval is refused in the training worker too.
      // (DevTools lets code it evaluates call eval while it runs: the calls come after a turn.)
      const trainer = workers.find((w) => new URL(w.url()).pathname === "/worker-boot.js");
      assert.ok(trainer, workers.map((w) => w.url()).join());
      const inWorker = await evalInWorker(trainer);
      assert.equal(inWorker, "EvalError");
      const inTrainer = await trainer.evaluate(() => self.__cspViolations);
      assert.ok(inTrainer.some((v) => v.startsWith("script-src refused eval")), "the worker's listener sees it");
    } finally {
      await page.close();
    }
  });

  test("a WebGPU run raises no violation", async () => {
    const { page, problems, violations } = await openWatched(`?${SHORT_RUN}&compute=webgpu`);
    try {
      assert.equal(await trainToEnd(page), "finished");
      assert.match(await page.locator("#perf-backend").textContent(), /^WebGPU/);
      assert.deepEqual(await violations(), []);
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  test("an exercise page and the guide raise no violation", async () => {
    const { page, problems, violations } = await openWatched("#/exercises/first-run");
    try {
      await page.locator('.exercise-page[data-exercise-id="first-run"]').waitFor({ timeout: LOAD_TIMEOUT });
      await page.locator('.nav a[href="#/guide"]').click();
      await page.locator("#guide-index").waitFor({ timeout: LOAD_TIMEOUT });
      await page.locator('#guide-index .entry-list a[href="#/guide/loss-becomes-nan"]').click();
      await page.locator('#guide-entry[data-entry-page="loss-becomes-nan"]').waitFor({ timeout: 10_000 });
      await page.workerLoaded;
      assert.deepEqual(await violations(), []);
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });
});
