// The app from the keyboard alone: the first-run exercise (pick it, type the prediction, apply the setup,
// train, see the checks pass) and one mystery round (start, watch, guess, reveal and score), with
// nothing but Tab, Shift+Tab, Enter, Space, the arrow keys and typing. Every control used shows a focus
// ring when the keyboard reaches it. On the way, the charts are read from the keyboard: the loss chart's
// and the attention map's readouts follow the arrow keys, and the loss chart's data table opens.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { openPage, screenshot, sharedBrowser } from "./lib/browser.mjs";

const LOAD_TIMEOUT = 60_000;
const RUN_TIMEOUT = 180_000;
/** Tab presses before giving up on reaching a control. */
const MAX_PRESSES = 150;

const shared = sharedBrowser();

/** Whether the focused element matches `selector`. */
function focusedIs(page, selector) {
  return page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector);
}

/**
 * Presses Tab (Shift+Tab with `back`) until the focused element matches `selector`, then checks that it
 * shows a focus indicator: an outline or a box shadow while it matches :focus-visible.
 */
async function tabTo(page, selector, { back = false } = {}) {
  for (let presses = 0; !(await focusedIs(page, selector)); presses++) {
    assert.ok(presses < MAX_PRESSES, `${selector} reached within ${MAX_PRESSES} presses of ${back ? "Shift+Tab" : "Tab"}`);
    await page.keyboard.press(back ? "Shift+Tab" : "Tab");
  }
  const ring = await page.evaluate(() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
    return { focusVisible: el.matches(":focus-visible"), outline, shadow: style.boxShadow !== "none" };
  });
  assert.ok(ring.focusVisible && (ring.outline || ring.shadow), `${selector} shows a focus ring: ${JSON.stringify(ring)}`);
}

/** The text of `selector`. */
function text(page, selector) {
  return page.locator(selector).textContent();
}

describe("keyboard only", { timeout: 2 * RUN_TIMEOUT + 4 * LOAD_TIMEOUT }, () => {
  test("the first-run exercise, and the charts read with the keys", async () => {
    const { page, problems } = await openPage(shared.browser, "#/exercises");
    try {
      await page.locator('.exercise-item[data-exercise-id="first-run"] a').waitFor({ timeout: LOAD_TIMEOUT });
      await tabTo(page, '.exercise-item[data-exercise-id="first-run"] a');
      await page.keyboard.press("Enter");
      await page.locator('.exercise-page[data-exercise-id="first-run"]').waitFor();

      await tabTo(page, "#prediction-number");
      await page.keyboard.type("3.4");
      await page.keyboard.press("Enter");
      const setup = '[data-stage="reproduce"] [data-setup]';
      await page.locator(setup).first().waitFor();
      await tabTo(page, setup);
      await page.keyboard.press("Enter");
      await page.locator('#status[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
      assert.equal(await page.locator("#steps").inputValue(), "60", "the setup is in the form");

      await tabTo(page, "#start");
      await page.keyboard.press("Space");
      await page.locator('#status[data-state="finished"]').waitFor({ timeout: RUN_TIMEOUT });

      await tabTo(page, "#loss-chart");
      await page.keyboard.press("End");
      assert.match(await text(page, "#chart-hover"), /^step 60 · train loss \d/, "End reads the last step");
      assert.equal(await page.locator("#chart-hover").getAttribute("aria-live"), "polite", "spoken while focused");
      await page.keyboard.press("Home");
      await page.keyboard.press("ArrowRight");
      assert.match(await text(page, "#chart-hover"), /^step 2 · train loss \d/, "Home, then Right: the second step");
      await tabTo(page, "#loss-chart ~ .chart-data > summary");
      await page.keyboard.press("Enter");
      const table = page.locator("#loss-chart ~ .chart-data table").first();
      await table.waitFor();
      assert.match(await table.locator("caption").textContent(), /^Training loss at each step: /);
      assert.equal(await table.locator('thead th[scope="col"]').count(), 2);
      const rows = await table.locator("tbody tr").count();
      assert.ok(rows >= 2 && rows <= 51, `${rows} rows`);
      assert.equal(await table.locator('tbody tr:last-child th[scope="row"]').textContent(), "60", "the last step is kept");

      await tabTo(page, "#attention-map");
      await page.keyboard.press("ArrowDown");
      await page.keyboard.press("ArrowDown");
      await page.keyboard.press("ArrowRight");
      assert.match(await text(page, "#attention-hover"), /^query 1 '[\s\S]*' → key 1 '[\s\S]*': \d/, "the arrows move over cells");
      await tabTo(page, "#loss-chart", { back: true });
      await page.keyboard.press("End");
      await screenshot(page, "keyboard-loss-chart.png");

      await tabTo(page, ".exercise-strip a", { back: true });
      await page.keyboard.press("Enter");
      await page.locator('.exercise-page[data-exercise-id="first-run"]').waitFor();
      for (const stage of ["reproduce", "fix"]) {
        await page.locator(`[data-stage="${stage}"] [data-check-state="passed"]`).waitFor({ timeout: 10_000 });
      }
      assert.deepEqual(problems, [], "no console errors, page errors or failed requests");
    } finally {
      await page.close();
    }
  });

  test("a mystery round: start, guess, reveal and score", async () => {
    // Round 20 hides no-causal-mask (see links-mystery.test.mjs).
    const { page, problems } = await openPage(shared.browser, "#/mystery/20");
    try {
      await page.locator("#mystery-start").waitFor({ timeout: LOAD_TIMEOUT });
      await page.workerLoaded;
      await tabTo(page, "#mystery-start");
      await page.keyboard.press("Enter");
      await page.waitForFunction(() => Number(document.querySelector("#step-count")?.textContent) >= 80, null, {
        timeout: RUN_TIMEOUT,
      });

      await tabTo(page, "#mystery-guess");
      const target = "attention-looks-at-future-in-causal-model";
      const options = await page.locator("#mystery-guess option").count();
      for (let i = 0; i < options && (await page.locator("#mystery-guess").inputValue()) !== target; i++) {
        await page.keyboard.press("ArrowDown");
      }
      assert.equal(await page.locator("#mystery-guess").inputValue(), target, "the arrow keys pick the entry");
      await tabTo(page, "#mystery-submit");
      await page.keyboard.press("Enter");

      const reveal = page.locator("#mystery-reveal");
      await reveal.waitFor({ timeout: 5_000 });
      assert.equal(await reveal.getAttribute("data-verdict"), "right");
      assert.match(await text(page, "#mystery-answer"), /no-causal-mask/);
      assert.match(await text(page, "#mystery-score"), /^2 points for 1 hidden fault/);
      await screenshot(page, "keyboard-mystery.png");
      assert.deepEqual(problems, [], "no console errors, page errors or failed requests");
    } finally {
      await page.close();
    }
  });
});
