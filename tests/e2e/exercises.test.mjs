// The guided exercises, done as a learner does them: open the list, pick the first-run exercise, type
// a numeric prediction (a word is refused with the reason), apply the setup, start training on the trainer page, and wait for the checks (computed
// from the run's telemetry in the page) to pass and the recap to quote the run's numbers. Progress must
// survive a reload, and unreadable stored progress must be reset with a notice. The range-test exercise
// is done the same way, with the learner's own range test choosing the rate of the fix. A fix is a
// controlled comparison: the no-causal-mask exercise's fix run with another seed fails, naming the seed,
// and the one change passes, with both runs overlaid in the recap. A decoding fix needs no new run: the
// temperature exercise's fix samples the reproduce run's own model again from the Generate panel.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { openPage, reloadWithWorker, screenshot, screenshots, sharedBrowser } from "./lib/browser.mjs";

const LOAD_TIMEOUT = 60_000;
const RUN_TIMEOUT = 180_000;

const shared = sharedBrowser();

async function openList(path = "#/exercises") {
  const opened = await openPage(shared.browser, path);
  await opened.page.locator(".exercise-list .exercise-item").first().waitFor({ timeout: LOAD_TIMEOUT });
  return opened;
}

async function statusOf(page, id) {
  return page.locator(`.exercise-item[data-exercise-id="${id}"]`).getAttribute("data-status");
}

describe("the exercises", { timeout: 4 * RUN_TIMEOUT }, () => {
  test("the first-run exercise, from the list to the recap", async () => {
    const { page, problems } = await openList();
    try {
      const ids = await page.locator(".exercise-item").evaluateAll((items) => items.map((i) => i.dataset.exerciseId));
      assert.ok(ids.length >= 12, `${ids.length} exercises`);
      assert.equal(ids[0], "first-run");
      assert.equal(new Set(ids).size, ids.length, "ids are unique");
      const statuses = await page.locator(".exercise-item").evaluateAll((items) => items.map((i) => i.dataset.status));
      assert.ok(statuses.every((s) => s === "not-started"), statuses.join());
      assert.equal(await page.locator('nav a[href="#/exercises"][aria-current="page"]').count(), 1);
      await screenshots(page, "exercises-list");

      await page.locator('.exercise-item[data-exercise-id="first-run"] a').click();
      const exercise = page.locator('.exercise-page[data-exercise-id="first-run"]');
      await exercise.waitFor();
      assert.equal(await page.locator(".exercise-stage").count(), 0, "the steps wait for a prediction");
      const guess = page.locator("[data-prediction-number]");
      await guess.fill("three");
      await page.locator(".prediction-number button").click();
      assert.match(await page.locator("#prediction-problem").textContent(), /'three' is not a number/);
      assert.equal(await page.locator("[data-stage]").count(), 0, "a refused guess unlocks nothing");
      await guess.fill("3.4");
      await guess.press("Enter");
      await page.locator("[data-stage]").first().waitFor();
      assert.ok(await guess.isDisabled(), "the guess is locked");

      await page.locator('[data-stage="reproduce"] [data-setup]').first().click();
      await page.locator('#status[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
      assert.equal(await page.locator("#steps").inputValue(), "60", "the setup is in the form");
      const strip = page.locator(".exercise-strip");
      assert.match(await strip.textContent(), /first run/i);
      await page.locator("#start").click();
      await page.locator('#status[data-state="finished"]').waitFor({ timeout: RUN_TIMEOUT });
      await page.locator('.exercise-strip[data-status="fixed"]').waitFor({ timeout: 10_000 });
      await screenshot(page, "exercise-strip.png");

      await strip.locator("a").click();
      await exercise.waitFor();
      for (const stage of ["reproduce", "fix"]) {
        await page.locator(`[data-stage="${stage}"] [data-check-state="passed"]`).waitFor();
      }
      const recap = page.locator(".exercise-recap");
      const text = await recap.textContent();
      assert.match(text, /You guessed 3\.40 nats; your run measured 3\.\d\d nats: within 20 %/);
      assert.equal(await recap.locator(".guess-plot svg[role=img]").count(), 1, "the guess and the measurement on one scale");
      assert.match(text, /your first loss was \d+\.\d\d, next to ln V = \d+\.\d\d/);
      assert.match(text, /after 60 steps your loss was \d+\.\d\d/);
      await screenshots(page, "exercise-first-run");
      await recap.locator(".mark-done").click();
      await recap.locator(".exercise-done").waitFor();

      await page.locator('nav a[href="#/exercises"]').click();
      await page.locator('.exercise-item[data-exercise-id="first-run"][data-status="done"]').waitFor();
      await reloadWithWorker(page);
      await page.locator(".exercise-item").first().waitFor({ timeout: LOAD_TIMEOUT });
      assert.equal(await statusOf(page, "first-run"), "done", "progress survives a reload");
      assert.equal(await page.locator(".exercise-notice").count(), 0);
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  test("the range-test exercise: crawl, then train at the rate the range test suggests", async () => {
    const { page, problems } = await openPage(shared.browser, "#/exercises/find-lr");
    try {
      await page.locator('.exercise-page[data-exercise-id="find-lr"]').waitFor({ timeout: LOAD_TIMEOUT });
      await page.locator('[data-prediction-option="1"]').click();
      await page.locator('[data-stage="reproduce"] [data-setup]').first().click();
      await page.locator('#status[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
      await page.locator("#start").click();
      await page.locator('#status[data-state="finished"]').waitFor({ timeout: RUN_TIMEOUT });
      await page.locator('.exercise-strip[data-status="reproduced"]').waitFor({ timeout: 10_000 });
      assert.match(
        await page.locator(".exercise-strip").textContent(),
        /this run has your reproduce run's settings; make the one change: the range test's learning rate/,
      );

      await page.locator(".exercise-strip a").click();
      await page.locator('[data-stage="fix"] [data-setup]').first().click();
      await page.locator("#lr-find").click();
      await page.locator('#lr-finder[data-state="done"]').waitFor({ timeout: RUN_TIMEOUT });
      assert.doesNotMatch(await page.locator(".exercise-strip").textContent(), /no suggestion/);
      await page.locator("#lr-use").click();
      await page.locator("#start").click();
      await page.locator('#status[data-state="finished"]').waitFor({ timeout: RUN_TIMEOUT });
      await page.locator('.exercise-strip[data-status="fixed"]').waitFor({ timeout: 10_000 });

      await page.locator(".exercise-strip a").click();
      const text = await page.locator(".exercise-recap").textContent();
      assert.match(text, /the loss fell only \d+\.\d\d nats in 100 steps/);
      assert.match(text, /a tenth of that, \d\.\de-\d, took your run to \d+\.\d\d, against \d+\.\d\d with the crawling rate/);
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  test("a fix is compared with the learner's own reproduce run: another seed fails, the one change passes", async () => {
    const { page, problems } = await openPage(shared.browser, "#/exercises/cheating");
    try {
      const exercise = page.locator('[data-exercise-id="cheating"]').first();
      await exercise.waitFor({ timeout: LOAD_TIMEOUT });
      await page.locator("[data-prediction-number]").fill("40 %");
      await page.locator(".prediction-number button").click();
      const reproduce = page.locator('[data-stage="reproduce"] [data-check-state]');
      assert.equal(await reproduce.getAttribute("data-check-state"), "waiting");
      await page.locator('[data-stage="reproduce"] [data-setup]').first().click();
      await page.locator('#status[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
      await page.locator("#seed").fill("5");
      await page.locator("#start").click();
      await page.locator('#status[data-state="finished"]').waitFor({ timeout: RUN_TIMEOUT });
      await page.locator('.exercise-strip[data-status="reproduced"]').waitFor({ timeout: 10_000 });

      await page.locator(".exercise-strip a").click();
      await page.locator('[data-stage="reproduce"] [data-check-state="passed"]').waitFor();
      await page.locator('[data-stage="fix"] [data-setup]').first().click();
      await page.locator("#seed").waitFor({ timeout: LOAD_TIMEOUT });
      assert.equal(await page.locator("#seed").inputValue(), "5", "the fix keeps the learner's own seed");
      await page.locator("#seed").fill("6");
      await page.locator("#start").click();
      await page.locator('#status[data-state="finished"]').waitFor({ timeout: RUN_TIMEOUT });
      await page.locator('.exercise-strip[data-status="reproduced"]').waitFor({ timeout: 10_000 });
      assert.match(await page.locator(".exercise-strip").textContent(), /also changes seed \(5 → 6\)/);

      await page.locator(".exercise-strip a").click();
      const fix = page.locator('[data-stage="fix"] [data-check-state]');
      assert.equal(await fix.getAttribute("data-check-state"), "failed");
      assert.match(await fix.textContent(), /seed \(5 → 6\)/);
      await page.locator('[data-stage="fix"] [data-setup]').first().click();
      await page.locator("#seed").waitFor({ timeout: LOAD_TIMEOUT });
      assert.equal(await page.locator("#seed").inputValue(), "5", "the setup puts the reproduce run's seed back");
      await page.locator("#start").click();
      await page.locator('#status[data-state="finished"]').waitFor({ timeout: RUN_TIMEOUT });
      await page.locator('.exercise-strip[data-status="fixed"]').waitFor({ timeout: 10_000 });

      await page.locator(".exercise-strip a").click();
      await page.locator('[data-stage="fix"] [data-check-state="passed"]').waitFor();
      const recap = page.locator(".exercise-recap");
      assert.match(await recap.textContent(), /no head looked ahead \(0% instead of \d+%\)/);
      assert.equal(await recap.locator("canvas").count(), 3, "the recap overlays both runs");
      await screenshots(page, "exercise-cheating-recap");
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  test("a decoding fix samples the same trained model again, with no new run", async () => {
    const { page, problems } = await openPage(shared.browser, "#/exercises/temperature");
    try {
      await page.locator('.exercise-page[data-exercise-id="temperature"]').waitFor({ timeout: LOAD_TIMEOUT });
      await page.locator("[data-prediction-option]").first().click();
      await page.locator('[data-stage="reproduce"] [data-setup]').first().click();
      await page.locator('#status[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
      await page.locator("#start").click();
      await page.locator('#status[data-state="finished"]').waitFor({ timeout: RUN_TIMEOUT });
      await page.locator('.exercise-strip[data-status="reproduced"]').waitFor({ timeout: 10_000 });
      const runs = await page.locator("#step-count").textContent();

      await page.locator(".exercise-strip a").click();
      await page.locator('[data-stage="reproduce"] [data-check-state="passed"]').waitFor();
      await page.locator('[data-stage="fix"] [data-setup]').first().click();
      await page.locator("#generate-btn").waitFor({ timeout: LOAD_TIMEOUT });
      assert.equal(await page.locator('#status[data-state="finished"]').count(), 1, "no new run was started");
      await page.locator("#generate-btn").click();
      await page.locator("#gen-repeat").waitFor({ timeout: RUN_TIMEOUT });
      await page.locator('.exercise-strip[data-status="fixed"]').waitFor({ timeout: 10_000 });
      assert.equal(await page.locator("#step-count").textContent(), runs, "the same run, still");

      await page.locator(".exercise-strip a").click();
      await page.locator('[data-stage="fix"] [data-check-state="passed"]').waitFor();
      assert.match(await page.locator(".exercise-recap").textContent(), /same weights/);
      await screenshots(page, "exercise-temperature-recap");
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  test("unreadable stored progress is reset with a notice and kept aside", async () => {
    const { page, problems } = await openList();
    try {
      // Let the worker finish loading first: a reload would abort its request.
      await page.waitForLoadState("networkidle");
      await page.evaluate(() => localStorage.setItem("faultline.progress.v1", '{"version":1,"exercises":'));
      await page.reload({ waitUntil: "load" });
      await page.locator(".exercise-notice").waitFor({ timeout: LOAD_TIMEOUT });
      assert.match(await page.locator(".exercise-notice").textContent(), /could not be read/);
      assert.equal(await statusOf(page, "first-run"), "not-started");
      const kept = await page.evaluate(() => localStorage.getItem("faultline.progress.v1.unreadable"));
      assert.equal(kept, '{"version":1,"exercises":');
      const saved = await page.evaluate(() => JSON.parse(localStorage.getItem("faultline.progress.v1")));
      assert.equal(saved.version, 1);
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });
});
