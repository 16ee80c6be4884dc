// Shared set-up for the end-to-end tests and the bench: Debian's Chromium driven by playwright-core.
//
// FAULTLINE_URL (required) is the served release build, e.g. http://127.0.0.1:8080/; `cargo xtask test`
// and `cargo xtask bench` set it. FAULTLINE_CHROMIUM overrides the browser binary (default
// /usr/bin/chromium). Playwright never downloads a browser here.

import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before } from "node:test";
import { chromium } from "playwright-core";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** Where the tests leave their screenshots: target/e2e-screenshots/. */
export const screenshotDir = join(repoRoot, "target", "e2e-screenshots");

/** The base URL of the app under test, with a trailing slash. */
export function baseUrl() {
  const url = process.env.FAULTLINE_URL;
  if (!url) {
    throw new Error(
      "FAULTLINE_URL is not set: run the suite with `cargo xtask test`, or serve the app and set it",
    );
  }
  return url.endsWith("/") ? url : `${url}/`;
}

/** Launches headless Chromium with the flags a root user in a container needs, and `extraArgs`. */
export async function launchBrowser({ webgpu = false, extraArgs = [] } = {}) {
  const args = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    ...extraArgs,
  ];
  if (webgpu) {
    args.push("--enable-unsafe-webgpu");
  }
  return chromium.launch({
    executablePath: process.env.FAULTLINE_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args,
  });
}

/**
 * One browser for a test file: launched before its first test, closed after its last. Tests read
 * `shared.browser`.
 */
export function sharedBrowser(options) {
  const shared = { browser: null };
  before(async () => {
    shared.browser = await launchBrowser(options);
  });
  after(async () => {
    await shared.browser?.close();
  });
  return shared;
}

/**
 * Opens `path` (relative to the base URL) in a fresh page and records everything that went wrong on it:
 * console errors, uncaught exceptions and failed requests, in `problems`. `beforeLoad(page)`, if given,
 * runs before the page loads (to add init scripts or listeners that must see the first load).
 */
export async function openPage(browser, path = "", { beforeLoad } = {}) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  page.on("console", (message) => {
    if (message.type() === "error") {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) =>
    problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`),
  );
  page.on("response", (response) => {
    if (response.status() >= 400) {
      problems.push(`HTTP ${response.status()}: ${response.url()}`);
    }
  });
  await beforeLoad?.(page);
  await page.goto(new URL(path, baseUrl()).href, { waitUntil: "load" });
  page.workerLoaded = workerReady(page);
  return { page, problems };
}

/**
 * Resolves once the training worker has said it is ready (the page then marks `<html data-worker="ready">`):
 * it has loaded its WebAssembly and, in the threaded build, its threads' scripts. Or after a minute, or
 * when the page closes.
 */
function workerReady(page) {
  return page.waitForSelector('html[data-worker="ready"]', { state: "attached", timeout: 60_000 }).catch(() => {});
}

/**
 * Reloads the page and waits until the training worker is ready again, so that closing the page
 * afterwards aborts no request. It first lets the current load's worker finish loading, which the
 * reload would otherwise abort (a failed request).
 */
export async function reloadWithWorker(page) {
  await page.workerLoaded;
  await page.reload({ waitUntil: "load" });
  page.workerLoaded = workerReady(page);
  await page.workerLoaded;
}

/** Saves a full-page screenshot as target/e2e-screenshots/<name> and returns its path. */
export async function screenshot(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, name);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The two widths every view is checked at: a laptop and a phone. */
export const WIDE = { width: 1280, height: 900 };
export const NARROW = { width: 390, height: 844 };

/** Saves the page at the wide and the narrow width: <name>.png and <name>-390.png. */
export async function screenshots(page, name) {
  await page.setViewportSize(WIDE);
  await page.waitForTimeout(400);
  await screenshot(page, `${name}.png`);
  await page.setViewportSize(NARROW);
  await page.waitForTimeout(400);
  await screenshot(page, `${name}-390.png`);
  await page.setViewportSize(WIDE);
}

/** Types into a field the way a person does: clear it, type, leave it. */
export async function typeInto(page, selector, text) {
  const field = page.locator(selector);
  await field.click();
  await field.press("Control+A");
  await field.press("Delete");
  await field.pressSequentially(text);
  await field.press("Tab");
}

/**
 * Opens the bench page for `params` ({ bench, backend, steps, seed }), waits for `#bench-result` to be
 * marked done and returns the parsed JSON it holds.
 */
export async function runBenchPage(browser, params, timeoutMs) {
  const query = new URLSearchParams(params).toString();
  const { page, problems } = await openPage(browser, `?${query}`);
  try {
    const result = page.locator('#bench-result[data-done="1"]');
    await result.waitFor({ state: "attached", timeout: timeoutMs });
    const text = await result.textContent();
    // The same result as the tables a reader sees: rows per table id.
    const rows = await page.evaluate(() =>
      Object.fromEntries([...document.querySelectorAll(".bench-table")].map((t) => [t.id, t.querySelectorAll("tbody tr").length])),
    );
    // The link to the same bench on the other number of threads, if the page offers one.
    const threadsLink = await page.evaluate(() => document.querySelector("#bench-threads-link a")?.getAttribute("href"));
    return { result: JSON.parse(text), rows, threadsLink, problems };
  } finally {
    await page.close();
  }
}

/** Presses Start on a ready trainer and waits for the run's end; returns its final state. */
export async function trainToEnd(page, { loadTimeout = 60_000, runTimeout = 240_000 } = {}) {
  await page.locator('#status[data-state="idle"]').waitFor({ timeout: loadTimeout });
  await page.locator("#start").click();
  await page
    .locator('#status[data-state="finished"], #status[data-state="error"], #status[data-state="stopped"]')
    .waitFor({ timeout: runTimeout });
  return page.locator("#status").getAttribute("data-state");
}

/**
 * Calls eval in `worker` after a turn of its event loop (DevTools lets code it evaluates call eval while
 * that code runs); returns 2, or the name of the error a Content-Security-Policy raised.
 */
export async function evalInWorker(worker) {
  return worker.evaluate(async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
    try {
      return eval("1 + 1");
    } catch (error) {
      return error.name;
    }
  });
}

/** The training worker's builds whose WebAssembly the service worker's cache holds, by file name. */
export async function cachedBuilds(page) {
  return page.evaluate(async () => {
    const cache = await caches.open((await caches.keys())[0]);
    const names = (await cache.keys()).map((request) => new URL(request.url).pathname.split("/").pop());
    return names.filter((name) => /^faultline-worker.*_bg\.wasm$/.test(name)).sort();
  });
}
