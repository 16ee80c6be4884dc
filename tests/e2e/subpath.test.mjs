// The built site from a sub-path, as a GitHub Pages project site serves it at /<repo>/: xtask's server
// serves the same files under /faultline/ (xtask/src/server.rs). Every request of the page and its
// workers must stay under /faultline/ while it trains. Then the same site from a host that is not
// localhost over plain http, which browsers do not treat as a secure context: the page must say what
// that turns off, and still train.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { baseUrl, launchBrowser, openPage, screenshot, sharedBrowser, trainToEnd } from "./lib/browser.mjs";

const LOAD_TIMEOUT = 60_000;
const RUN_TIMEOUT = 240_000;
/** A short run: 4 steps of 2 sequences, evaluated once at the end, with a 4-token sample. */
const SHORT_RUN = "config=tiny&steps=4&seed=3&batch=2&eval-every=1000&sample-tokens=4";
const SUBPATH = "/faultline/";
/** A name Chromium resolves to the server's address: plain http there is not a secure context. */
const INSECURE_HOST = "faultline.test";

const shared = sharedBrowser();

/** Opens `path` and records the URL of every request the page and its workers make. */
async function openRecorded(browser, path) {
  const requested = [];
  const workers = [];
  const opened = await openPage(browser, path, {
    beforeLoad: async (page) => {
      page.on("request", (request) => requested.push(request.url()));
      page.on("worker", (worker) => workers.push(worker));
    },
  });
  /**
   * Every URL requested so far: seen by the browser's network events, the workers' own URLs and the
   * resource timings of the page and of each worker that answers (a pool thread of the threaded build
   * waits in Atomics.wait between jobs and cannot).
   */
  const urls = async () => {
    const timed = (scope) => scope.evaluate(() => performance.getEntriesByType("resource").map((e) => e.name));
    const answer = (worker) =>
      Promise.race([timed(worker).catch(() => []), new Promise((resolve) => setTimeout(() => resolve([]), 2_000))]);
    const inWorkers = await Promise.all(workers.map(answer));
    const own = workers.map((w) => w.url());
    return [...new Set([...requested, ...own, ...(await timed(opened.page)), ...inWorkers.flat()])];
  };
  return { ...opened, workers, urls };
}

describe("hosting anywhere", { timeout: 3 * RUN_TIMEOUT }, () => {
  test("index.html names its files relative to itself", async () => {
    const html = await (await fetch(baseUrl())).text();
    const urls = [...html.matchAll(/\s(?:href|src)="([^"]*)"|from '([^']*)'|module_or_path: '([^']*)'/g)].map((m) => m[1] ?? m[2] ?? m[3]);
    assert.ok(urls.length >= 5, urls.join());
    for (const url of urls) {
      assert.ok(url.startsWith("./") || url.startsWith("data:"), `${url} is relative`);
    }
  });

  test(`served under ${SUBPATH}, the page, its workers and a run ask for nothing outside it`, async () => {
    const { page, problems, workers, urls } = await openRecorded(shared.browser, `${SUBPATH.slice(1)}?${SHORT_RUN}`);
    try {
      assert.equal(await trainToEnd(page), "finished");
      assert.equal(Number((await page.locator("#step-count").textContent()).trim()), 4);
      assert.ok(await page.evaluate(() => self.crossOriginIsolated), "the threaded build, from the sub-path too");
      assert.ok(workers.length >= 2, `the training worker and its pool: ${workers.map((w) => w.url())}`);
      await page.locator('.nav a[href="#/guide"]').click();
      await page.locator("#guide-index").waitFor({ timeout: 10_000 });
      assert.equal(new URL(page.url()).pathname, SUBPATH, "the hash routes keep the sub-path");
      const origin = new URL(baseUrl()).origin;
      const all = await urls();
      assert.ok(all.some((u) => u.endsWith(".wasm")), all.join("\n"));
      const outside = all.filter((u) => !u.startsWith(`${origin}${SUBPATH}`) && !u.startsWith("data:"));
      assert.deepEqual(outside, [], "every request stays under the sub-path");
      assert.ok(!(await page.locator("#context-notice").isVisible()), "127.0.0.1 is a secure context: no notice");
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  test("over plain http from another host, the page says what is missing and still trains", async () => {
    const { port } = new URL(baseUrl());
    const browser = await launchBrowser({ extraArgs: [`--host-resolver-rules=MAP ${INSECURE_HOST} 127.0.0.1`] });
    try {
      const { page, problems } = await openPage(browser, `http://${INSECURE_HOST}:${port}${SUBPATH}?${SHORT_RUN}`);
      try {
        assert.equal(await page.evaluate(() => self.isSecureContext), false);
        const notice = page.locator("#context-notice");
        await notice.waitFor({ timeout: LOAD_TIMEOUT });
        const text = await notice.textContent();
        for (const missing of ["service workers", "WebGPU", "cross-origin isolation", "https", "localhost"]) {
          assert.ok(text.includes(missing), `the notice names ${missing}: ${text}`);
        }
        assert.equal(await trainToEnd(page), "finished");
        assert.match(await page.locator("#perf-threads").textContent(), /^1: /, "one thread, without isolation");
        await screenshot(page, "insecure-context.png");
        // Chromium says, as an error, that it ignored the server's COOP header on an untrustworthy origin.
        const ignoredIsolation = /^console error: The Cross-Origin-Opener-Policy header has been ignored/;
        assert.deepEqual(problems.filter((p) => !ignoredIsolation.test(p)), []);
      } finally {
        await page.close();
      }
    } finally {
      await browser.close();
    }
  });
});
