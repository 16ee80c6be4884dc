// Offline and installable (src/offline/): the service worker that xtask writes into the build caches
// every file of the site, answers the page and its workers from that cache with the site's headers, and
// offers a new version when one is deployed; the web app manifest makes the site installable.
//
// Two of the tests load the site through a proxy that this file starts in front of the server under
// test: closing it takes the site's origin off the network as surely as a dropped connection, and it can
// serve a new deploy (the same build, its service worker with another version, as a deploy that changed
// a file would have). The third loads the site from the server's /plain/ alias, which sends no COOP, COEP
// or policy headers, as GitHub Pages and most school hosts: the service worker's reload makes it
// cross-origin isolated.

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { describe, test } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { baseUrl, cachedBuilds, evalInWorker, openPage, reloadWithWorker, screenshot, sharedBrowser, trainToEnd } from "./lib/browser.mjs";

const LOAD_TIMEOUT = 60_000;
/** 20 steps of `tiny` on the CPU of a 2-core machine take well under this. */
const RUN_TIMEOUT = 240_000;
/** 20 steps of 2 sequences on the CPU, evaluated once at the end, with a 4-token sample. */
const RUN = "config=tiny&steps=20&seed=3&batch=2&eval-every=1000&sample-tokens=4&compute=cpu";
/** Headers that describe one connection or one encoding, which the proxy does not pass on. */
const HOP_HEADERS = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"]);

const shared = sharedBrowser();

/**
 * A proxy on a free port of 127.0.0.1 (a secure context, like the server) in front of the server under
 * test. `deploy(version)` makes it serve the service worker with that version from then on; `close()`
 * takes it off the network.
 */
async function startProxy() {
  let version = null;
  const server = createServer(async (request, response) => {
    try {
      const upstream = await fetch(new URL(request.url.slice(1), baseUrl()), { method: request.method });
      let body = Buffer.from(await upstream.arrayBuffer());
      if (version && new URL(request.url, "http://proxy").pathname === "/service-worker.js") {
        body = Buffer.from(body.toString().replace(/"version":"[^"]*"/, `"version":"${version}"`));
      }
      const headers = Object.fromEntries([...upstream.headers].filter(([name]) => !HOP_HEADERS.has(name)));
      response.writeHead(upstream.status, { ...headers, "content-length": body.length });
      response.end(body);
    } catch (error) {
      response.writeHead(502).end(String(error));
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    deploy: (next) => {
      version = next;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      }),
  };
}

/** The version the server's build gives its service worker. */
async function builtVersion() {
  const source = await (await fetch(new URL("service-worker.js", baseUrl()))).text();
  const version = source.match(/^const BUILD = \{.*"version":"([0-9a-f]{16})"/m)?.[1];
  assert.ok(version, "xtask wrote the build's version into the service worker");
  return version;
}

/** Installed in the page before any of its scripts and in each worker as it starts (as csp.test.mjs). */
function recordViolations() {
  self.__cspViolations = [];
  self.addEventListener("securitypolicyviolation", (e) => {
    self.__cspViolations.push(`${e.effectiveDirective} refused ${e.blockedURI || "inline"}: ${e.sample}`);
  });
}

/** Installed in the page before any of its scripts: whether each load of this tab was isolated. */
function recordIsolation() {
  const loads = JSON.parse(sessionStorage.getItem("test-isolated-loads") ?? "[]");
  sessionStorage.setItem("test-isolated-loads", JSON.stringify([...loads, self.crossOriginIsolated]));
}

/**
 * Opens `url` with policy violations recorded in the page (across its reloads) and its workers, and
 * whether each load was cross-origin isolated.
 */
async function openWatched(url) {
  const workers = [];
  const opened = await openPage(shared.browser, url, {
    beforeLoad: async (page) => {
      await page.addInitScript(recordViolations);
      await page.addInitScript(recordIsolation);
      page.on("worker", (worker) => {
        workers.push(worker);
        worker.evaluate(recordViolations).catch(() => {});
      });
    },
  });
  // A pool thread waits in Atomics.wait between jobs and cannot answer; a closed worker has none left.
  const recorded = (worker) =>
    Promise.race([
      worker.evaluate(() => self.__cspViolations ?? []).catch(() => []),
      new Promise((resolve) => setTimeout(() => resolve([]), 2_000)),
    ]);
  const violations = async () => [
    ...(await opened.page.evaluate(() => self.__cspViolations)),
    ...(await Promise.all(workers.map(recorded))).flat(),
  ];
  const isolatedLoads = () => opened.page.evaluate(() => JSON.parse(sessionStorage.getItem("test-isolated-loads")));
  return { ...opened, workers, violations, isolatedLoads };
}

/** Waits until a service worker controls the page, through any reload that happens meanwhile. */
async function waitControlled(page) {
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: LOAD_TIMEOUT });
}

describe("offline and installable", { timeout: 3 * RUN_TIMEOUT }, () => {
  test("after one visit the app loads and trains 20 steps with the network off", async () => {
    const proxy = await startProxy();
    const { page, problems, violations } = await openWatched(proxy.url);
    try {
      await waitControlled(page);
      await page.workerLoaded;
      assert.equal(await page.evaluate(() => self.crossOriginIsolated), true, "the server sent COOP/COEP");
      // This browser offers no WebGPU adapter: of the worker's four builds, install cached the two
      // without WebGPU (threaded and single-thread) and left the other two to the network.
      assert.deepEqual(await cachedBuilds(page), ["faultline-worker-cpu-mt_bg.wasm", "faultline-worker-cpu_bg.wasm"]);
      // Should the browser's answer change (a GPU driver updated), the build it then needs comes from the
      // network once and is kept for offline use.
      const later = "faultline-worker-mt_bg.wasm";
      const fetched = await page.evaluate(async (file) => (await (await fetch(`./${file}`)).arrayBuffer()).byteLength, later);
      assert.ok(fetched > 100_000, `${later}: ${fetched} bytes`);
      const kept = ["faultline-worker-cpu-mt_bg.wasm", "faultline-worker-cpu_bg.wasm", later];
      for (let tries = 0; !isDeepStrictEqual(await cachedBuilds(page), kept) && tries < 50; tries += 1) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.deepEqual(await cachedBuilds(page), kept, "the service worker kept the build it fetched");

      const manifest = await page.evaluate(async () => {
        const link = document.querySelector('link[rel="manifest"]');
        return { href: link.getAttribute("href"), json: await (await fetch(link.href)).json() };
      });
      assert.equal(manifest.href, "./manifest.webmanifest");
      assert.equal(manifest.json.start_url, "./");
      assert.equal(manifest.json.scope, "./");
      assert.ok(manifest.json.icons.some((icon) => icon.type === "image/svg+xml" && icon.sizes === "any"));
      const cdp = await page.context().newCDPSession(page);
      const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors");
      const blocking = installabilityErrors.filter((e) => e.errorId !== "in-incognito");
      assert.deepEqual(blocking, [], "Chromium finds the site installable (a test's context is incognito)");

      await proxy.close();
      await page.context().setOffline(true);
      const served = [];
      page.on("response", (response) => served.push(response));
      await page.goto(`${proxy.url}?${RUN}`, { waitUntil: "load" });
      const missing = await page.evaluate(() => fetch("./not-in-the-build.txt").then((r) => r.status, (e) => e.name));
      assert.equal(missing, "TypeError", "what the cache does not hold cannot be fetched: the network is off");
      const offlineBytes = await page.evaluate(async (file) => (await (await fetch(`./${file}`)).arrayBuffer()).byteLength, later);
      assert.equal(offlineBytes, fetched, `${later} is served offline from the cache`);
      assert.equal(await trainToEnd(page), "finished");
      assert.equal(Number((await page.locator("#step-count").textContent()).trim()), 20);
      assert.match(await page.locator("#perf-backend").textContent(), /^CPU/);
      assert.equal(await page.evaluate(() => self.crossOriginIsolated), true, "isolated from the cache too");
      assert.match(await page.locator("#perf-threads").textContent(), /cross-origin isolated/, "the threaded build");
      const fromNetwork = served.filter((r) => !r.fromServiceWorker()).map((r) => r.url());
      assert.deepEqual(fromNetwork, [], "everything came from the service worker");
      assert.ok(!(await page.locator("#update-notice").isVisible()), "no new version was offered");
      assert.deepEqual(await violations(), [], "no policy violation");
      const offline = /ERR_INTERNET_DISCONNECTED|ERR_CONNECTION_REFUSED|not-in-the-build/;
      assert.deepEqual(problems.filter((p) => !offline.test(p)), []);
      await screenshot(page, "offline-run.png");
    } finally {
      await page.close();
      await proxy.close();
    }
  });

  test("served without COOP/COEP, the page is cross-origin isolated after the service worker's one reload", async () => {
    const { page, problems, workers, violations, isolatedLoads } = await openWatched(`plain/?${RUN}`);
    try {
      await page.waitForFunction(() => self.crossOriginIsolated, null, { timeout: LOAD_TIMEOUT });
      await waitControlled(page);
      await page.locator('html[data-worker="ready"]').waitFor({ state: "attached", timeout: LOAD_TIMEOUT });
      assert.equal(new URL(page.url()).pathname, "/plain/");
      assert.match(await page.locator("#perf-threads").textContent(), /cross-origin isolated/, "the threaded build");
      assert.equal(await trainToEnd(page), "finished");
      assert.equal(Number((await page.locator("#step-count").textContent()).trim()), 20);
      assert.deepEqual(await isolatedLoads(), [false, true], "not isolated at first, then one reload, no loop");

      // /plain/ sends no policy header: the service worker gave the training worker's script the policy.
      // The last one: the first load's training worker ended with the reload.
      const trainer = workers.findLast((w) => new URL(w.url()).pathname === "/plain/worker-boot.js");
      assert.ok(trainer, workers.map((w) => w.url()).join());
      const evaluated = await evalInWorker(trainer);
      assert.equal(evaluated, "EvalError", "the worker has the site's policy");
      assert.deepEqual((await violations()).filter((v) => !v.startsWith("script-src refused eval")), []);
      // The reload may cut the first load's requests short.
      assert.deepEqual(problems.filter((p) => !/ERR_ABORTED/.test(p)), []);
    } finally {
      await page.close();
    }
  });

  test("a new deploy is offered in a notice, and Reload moves the page to it", async () => {
    const proxy = await startProxy();
    const { page, problems, violations } = await openWatched(proxy.url);
    try {
      await waitControlled(page);
      await page.workerLoaded;
      const version = await builtVersion();
      const cacheNames = () => page.evaluate(() => caches.keys());
      assert.deepEqual(await cacheNames(), [`faultline / ${version}`]);

      const next = [...version].reverse().join("") === version ? `${version}0` : [...version].reverse().join("");
      proxy.deploy(next);
      await reloadWithWorker(page);
      const notice = page.locator("#update-notice");
      await notice.waitFor({ timeout: LOAD_TIMEOUT });
      assert.match(await notice.textContent(), /^A new version of Faultline is ready\. Reload$/);
      await screenshot(page, "offline-update-notice.png");
      assert.deepEqual((await cacheNames()).sort(), [`faultline / ${next}`, `faultline / ${version}`].sort());

      await Promise.all([page.waitForEvent("load"), page.locator("#update-reload").click()]);
      await page.locator('html[data-worker="ready"]').waitFor({ state: "attached", timeout: LOAD_TIMEOUT });
      assert.ok(!(await notice.isVisible()), "the new version serves the page: no notice");
      assert.deepEqual(await cacheNames(), [`faultline / ${next}`], "the old version's cache is gone");
      assert.deepEqual(await violations(), []);
      assert.deepEqual(problems.filter((p) => !/ERR_ABORTED/.test(p)), []);
    } finally {
      await page.close();
      await proxy.close();
    }
  });
});
