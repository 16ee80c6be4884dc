// The learning-rate range test on the trainer page: run the guide's sweep in the worker, read the curve
// and the suggestion, and put the suggestion into the learning-rate field with one click. And the
// generation panel: decode from the trained model and read the repeated-4-gram meter.

import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { openPage, screenshot, screenshotDir, sharedBrowser } from "./lib/browser.mjs";

const LOAD_TIMEOUT = 60_000;
const SWEEP_TIMEOUT = 120_000;
/** The guide's sweep, which the page runs. */
const [START_LR, END_LR] = [1e-7, 1];

const shared = sharedBrowser();

async function openApp() {
  const opened = await openPage(shared.browser);
  await opened.page.locator('#status[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
  return opened;
}

/** How many pixels of the canvas are clearly coloured (not white or grey): the drawn curve and marks. */
async function colouredPixels(page, selector) {
  return page.evaluate((sel) => {
    const canvas = document.querySelector(sel);
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
      const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
      if (Math.max(r, g, b) - Math.min(r, g, b) > 60) {
        count += 1;
      }
    }
    return count;
  }, selector);
}

describe("the learning-rate range test", { timeout: SWEEP_TIMEOUT + 120_000 }, () => {
  test("sweeps, plots, suggests a rate inside the sweep, and Use puts it into #lr", async (t) => {
    const { page, problems } = await openApp();
    try {
      const finder = page.locator("#lr-finder");
      assert.equal(await finder.getAttribute("data-state"), "idle");
      const blank = await colouredPixels(page, "#lr-chart");
      const startedAt = Date.now();
      await page.locator("#lr-find").click();
      await page.locator('#lr-finder[data-state="running"]').waitFor({ timeout: 5_000 });
      await page.waitForFunction(
        () => /^Step \d+ of 100/.test(document.querySelector("#lr-status")?.textContent ?? ""),
        null,
        { timeout: LOAD_TIMEOUT, polling: 50 },
      );
      await page.locator('#lr-finder[data-state="done"]').waitFor({ timeout: SWEEP_TIMEOUT });
      t.diagnostic(`sweep took ${Date.now() - startedAt} ms`);

      const status = (await page.locator("#lr-status").textContent()) ?? "";
      t.diagnostic(status);
      assert.match(status, /loss was lowest \(\d+\.\d+\) at /, "the status names the lowest loss");
      assert.ok(
        (await colouredPixels(page, "#lr-chart")) > blank + 200,
        "the curve and the suggestion are drawn on #lr-chart",
      );

      const suggestion = page.locator("#lr-suggestion");
      const exact = Number(await suggestion.getAttribute("data-lr"));
      const shown = ((await suggestion.textContent()) ?? "").trim();
      assert.ok(Number.isFinite(exact) && exact > START_LR && exact < END_LR, `suggestion ${exact} inside the sweep`);
      assert.ok(Math.abs(Number(shown) - exact) <= 0.006 * exact, `${shown} is ${exact} to three digits`);
      assert.ok(!(await page.locator("#lr-used").isVisible()), "the field does not hold it yet");

      await page.locator("#lr-use").click();
      assert.equal(await page.locator("#lr").inputValue(), shown, "#lr now holds the suggestion");
      assert.match((await page.locator("#lr-used").textContent()) ?? "", new RegExp(`now ${shown.replace(".", "\\.")}`));
      assert.equal(await page.locator('[data-error-for="lr"]').count(), 0, "the suggestion is a valid rate");

      await screenshot(page, "lr-finder.png");
      await finder.screenshot({ path: join(screenshotDir, "lr-finder-1280.png") });
      await page.setViewportSize({ width: 390, height: 844 });
      await page.waitForTimeout(300);
      await finder.screenshot({ path: join(screenshotDir, "lr-finder-390.png") });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `no sideways scrolling at 390 px (${overflow} px too wide)`);
      assert.deepEqual(problems, [], "no console errors, page errors or failed requests");
    } finally {
      await page.close();
    }
  });

  test("is refused with a message while a training run is active", async () => {
    const { page, problems } = await openApp();
    try {
      await page.locator("#step").click();
      await page.locator('#status[data-state="paused"]').waitFor({ timeout: LOAD_TIMEOUT });
      await page.locator("#lr-find").click();
      await page.locator('#lr-finder[data-state="failed"]').waitFor({ timeout: 10_000 });
      assert.match((await page.locator("#lr-status").textContent()) ?? "", /training run is in progress/);
      assert.equal(await page.locator("#lr-use").count(), 0, "nothing to use");
      assert.equal(await page.locator("#status").getAttribute("data-state"), "paused", "the run is untouched");
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  test("names the bad settings instead of sweeping", async () => {
    const { page } = await openApp();
    try {
      const lr = page.locator("#lr");
      await lr.fill("abc");
      await page.locator('[data-error-for="lr"]').waitFor({ state: "visible", timeout: 5_000 });
      await page.locator("#lr-find").click();
      assert.match((await page.locator("#lr-status").textContent()) ?? "", /Fix the settings .*\(lr\)/);
      assert.equal(await page.locator("#lr-finder").getAttribute("data-state"), "idle", "no sweep started");
      assert.equal(await lr.inputValue(), "abc", "the typed text stays");
    } finally {
      await page.close();
    }
  });
});

describe("the generation panel", { timeout: 240_000 }, () => {
  test("generates after a short run and measures the repetition", async (t) => {
    const { page, problems } = await openApp();
    try {
      assert.ok(await page.locator("#generate-btn").isDisabled(), "nothing to generate from before a run");
      const steps = page.locator("#steps");
      await steps.fill("30");
      await page.locator("#start").click();
      await page.locator('#status[data-state="finished"]').waitFor({ timeout: 180_000 });

      await page.locator("#gen-prompt").fill("the ");
      await page.locator("#gen-sample-tokens").fill("80");
      const temperature = page.locator("#gen-temperature");
      await temperature.fill("hot");
      await page.locator('[data-error-for="gen-temperature"]').waitFor({ state: "visible", timeout: 5_000 });
      assert.match((await page.locator("#gen-temperature-error").textContent()) ?? "", /'hot' is not a number/);
      assert.ok(await page.locator("#generate-btn").isDisabled(), "a bad field blocks Generate");
      assert.equal(await temperature.inputValue(), "hot", "the typed text stays");
      await temperature.fill("0.8");

      await page.locator("#generate-btn").click();
      await page.locator("#gen-text").waitFor({ timeout: 30_000 });
      const text = (await page.locator("#gen-text").textContent()) ?? "";
      assert.ok(text.startsWith("the ") && text.length > 40, `generated after the prompt: ${JSON.stringify(text)}`);
      const meter = page.locator("#gen-repeat");
      const rate = Number(await meter.getAttribute("data-rate"));
      const shown = Number(((await meter.textContent()) ?? "").replace("%", "").trim());
      assert.ok(rate >= 0 && rate <= 1, `repeated 4-gram rate ${rate}`);
      assert.ok(shown >= 0 && shown <= 100 && Math.abs(shown - 100 * rate) < 0.06, `meter shows ${shown} %`);
      t.diagnostic(`sampled: repeated 4-grams ${shown} %, ${await page.locator("#gen-entropy").textContent()}`);

      await page.locator("#gen-greedy").check();
      await page.locator("#generate-btn").click();
      await page.waitForFunction(
        () => /drew from 0\.00 nats/.test(document.querySelector("#gen-entropy")?.textContent ?? ""),
        null,
        { timeout: 30_000 },
      );
      const greedy = Number(await meter.getAttribute("data-rate"));
      t.diagnostic(`greedy: repeated 4-grams ${(100 * greedy).toFixed(1)} %`);
      assert.ok(greedy >= 0 && greedy <= 1);
      await page.locator("#generate").screenshot({ path: join(screenshotDir, "generate-1280.png") });
      await page.setViewportSize({ width: 390, height: 844 });
      await page.waitForTimeout(300);
      await page.locator("#generate").screenshot({ path: join(screenshotDir, "generate-390.png") });
      assert.deepEqual(problems, [], "no console errors, page errors or failed requests");
    } finally {
      await page.close();
    }
  });
});
