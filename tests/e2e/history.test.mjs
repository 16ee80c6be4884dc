// Kept runs, in the release build, as a learner would use them: train a healthy run and a broken one,
// find both in the Runs panel, draw the two on the same charts, reload and find them still there; and a
// stored list the page cannot read is set aside with a notice.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { openPage, reloadWithWorker, screenshots, sharedBrowser } from "./lib/browser.mjs";

const LOAD_TIMEOUT = 60_000;
const RUN_TIMEOUT = 240_000;
const KEY = "faultline.history.v1";

const shared = sharedBrowser();

/** Opens the trainer with the settings of `query` and waits until it is ready. */
async function openTrainer(query = "") {
  const opened = await openPage(shared.browser, query);
  await opened.page.locator('#status[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
  return opened;
}

/** Starts a run and waits until it has ended (finished or stopped). */
async function trainToTheEnd(page) {
  await page.locator("#start").click();
  await page.locator('#status:is([data-state="finished"], [data-state="stopped"])').waitFor({ timeout: RUN_TIMEOUT });
}

/** The kept runs' rows (not the live run's), newest first. */
function keptRows(page) {
  return page.locator('#run-history li[data-run-id]:not([data-run-id="live"])');
}

describe("kept runs", { timeout: RUN_TIMEOUT * 3 }, () => {
  test("a healthy and a broken run are kept, drawn together, and survive a reload", async (t) => {
    const { page, problems } = await openTrainer("?steps=40&eval-every=10&seed=1");
    try {
      await trainToTheEnd(page);
      await keptRows(page).first().waitFor({ timeout: 5_000 });

      // The broken run: the link's settings with a fault on, through the fault's own toggle.
      const toggle = page.locator('[data-fault="no-causal-mask"]');
      if (!(await toggle.isVisible())) {
        await page.locator("details.fault-section", { has: toggle }).locator("summary").click();
      }
      await toggle.check();
      await trainToTheEnd(page);
      await page.waitForFunction(
        () => document.querySelectorAll('#run-history li[data-run-id]:not([data-run-id="live"])').length === 2,
        null,
        { timeout: 5_000 },
      );

      const rows = keptRows(page);
      const labels = await rows.locator(".run-label").allTextContents();
      t.diagnostic(`kept: ${labels.join(" | ")}`);
      assert.match(labels[0], /no-causal-mask/, "the newest run, with its fault, comes first");
      assert.match(labels[1], /no fault/, "then the healthy one");
      for (const detail of await rows.locator(".run-detail").allTextContents()) {
        assert.match(detail, /^(finished|stopped).* · 40 steps · train \d+\.\d{3} · val \d+\.\d{3}$/, detail);
      }
      const ids = await rows.evaluateAll((els) => els.map((el) => el.getAttribute("data-run-id")));
      const live = await page.locator('#run-history [data-run-id="live"] .run-detail').textContent();
      assert.match(live, new RegExp(`kept as run ${ids[0]}$`), `the page's run is the newest kept: ${live}`);

      // Nothing picked: the last healthy run is drawn behind the page's run, as the ghost was.
      const legend = page.locator("#loss-legend");
      await legend.locator(`[data-run-id="${ids[1]}"]`).waitFor({ timeout: 5_000 });

      // Both kept runs picked, by keyboard: the charts show just the two, each named in the legend.
      for (const row of [rows.nth(0), rows.nth(1)]) {
        await row.locator("input.compare").focus();
        await page.keyboard.press("Space");
      }
      assert.equal(await page.locator("#run-history input.compare:checked").count(), 2);
      await legend.locator(`[data-run-id="${ids[0]}"]`).waitFor({ timeout: 5_000 });
      const keys = await legend.locator("[data-run-id]").allTextContents();
      assert.equal(keys.length, 2, `two runs in the legend: ${keys.join(" | ")}`);
      assert.ok(keys.some((k) => k.includes(`run ${ids[0]}`) && k.includes("no-causal-mask")), keys.join(" | "));
      assert.ok(keys.some((k) => k.includes(`run ${ids[1]}`) && k.includes("no fault")), keys.join(" | "));
      assert.equal(await legend.locator(".key.train-step").count(), 0, "the page's run is not drawn");
      const gradKeys = await page.locator("#grad-chart ~ figcaption .key").allTextContents();
      assert.deepEqual(
        gradKeys.slice(-2),
        [`run ${ids[0]}, all parameters`, `run ${ids[1]}, all parameters`],
        "the line charts name them too",
      );
      assert.equal(gradKeys.length, 2, `only what is drawn has a key: ${gradKeys.join(" | ")}`);
      await page.locator("#runs").scrollIntoViewIfNeeded();
      await screenshots(page, "history-compare");

      await reloadWithWorker(page);
      await page.locator('#status[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
      const after = await keptRows(page).evaluateAll((els) => els.map((el) => el.getAttribute("data-run-id")));
      assert.deepEqual(after, ids, "the kept runs survive a reload");
      assert.deepEqual(await keptRows(page).locator(".run-label").allTextContents(), labels);

      const [download] = await Promise.all([
        page.waitForEvent("download"),
        keptRows(page).first().locator(".run-export").click(),
      ]);
      assert.equal(download.suggestedFilename(), `faultline-kept-run-${ids[0]}.json`);
      const exported = JSON.parse(readFileSync(await download.path(), "utf8"));
      assert.equal(exported.format, "faultline-kept-run-v1");
      assert.equal(exported.label, labels[0]);
      assert.equal(exported.curves.train.length, 40, "every step's measured loss");

      await page.locator("#clear-history").click();
      assert.equal(await keptRows(page).count(), 0, "Clear history empties the list");
      const stored = await page.evaluate((key) => JSON.parse(localStorage.getItem(key)), KEY);
      assert.deepEqual(stored.runs, [], "and the stored list");
      assert.deepEqual(problems, [], "no console errors, page errors or failed requests");
    } finally {
      await page.close();
    }
  });

  test("a mystery round's run is kept under the round's name, its fault not given away", async () => {
    const { page, problems } = await openPage(shared.browser, "#/mystery/20");
    try {
      await page.locator("#mystery-start").click();
      await page.waitForFunction(() => Number(document.querySelector("#step-count")?.textContent) >= 20, null, {
        timeout: RUN_TIMEOUT,
      });
      // Reset on the trainer replaces the round's run, which keeps it.
      await page.locator("nav.nav a", { hasText: "Trainer" }).click();
      await page.locator("#reset").click();
      const row = keptRows(page).first();
      await row.waitFor({ timeout: LOAD_TIMEOUT });
      assert.equal(await row.locator(".run-label").textContent(), "mystery run #20");
      assert.equal(await row.locator(".run-finding").count(), 0, "no detector finding either");
      assert.deepEqual(problems, [], "no console errors, page errors or failed requests");
    } finally {
      await page.close();
    }
  });

  test("a stored list the page cannot read is set aside with a notice", async () => {
    const { page, problems } = await openTrainer();
    try {
      await page.evaluate((key) => localStorage.setItem(key, "garbage{"), KEY);
      await reloadWithWorker(page);
      const notice = page.locator("#history-notice");
      await notice.waitFor({ timeout: LOAD_TIMEOUT });
      assert.match(await notice.textContent(), /could not be read.*faultline\.history\.v1\.unreadable/);
      const kept = await page.evaluate((key) => localStorage.getItem(`${key}.unreadable`), KEY);
      assert.equal(kept, "garbage{", "the old text is kept");
      assert.equal(await keptRows(page).count(), 0);
      await page.locator("#runs").scrollIntoViewIfNeeded();
      await screenshots(page, "history-notice");
      assert.deepEqual(problems, [], "no console errors, page errors or failed requests");
    } finally {
      await page.close();
    }
  });
});
