// Shareable runs and mystery mode, in the release build, driven as a learner would: open a link, change a
// setting, reload, copy the link; play one mystery round from start to reveal.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { baseUrl, openPage, reloadWithWorker, screenshot, screenshots, sharedBrowser, typeInto } from "./lib/browser.mjs";

const LOAD_TIMEOUT = 60_000;
const RUN_TIMEOUT = 240_000;

const shared = sharedBrowser();

function query(page) {
  return new URL(page.url()).searchParams;
}

describe("links", { timeout: LOAD_TIMEOUT * 4 }, () => {
  test("a link's settings reach the form, bad ones get a notice and their default, edits reach the link", async () => {
    const link = "?lr=0.01&seed=5&fault=no-causal-mask&steps=many&colour=red";
    const { page, problems } = await openPage(shared.browser, link);
    try {
      await page.locator('#status[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
      const notices = await page.locator("#link-notices li").allTextContents();
      assert.equal(notices.length, 2, `two notices: ${notices.join(" | ")}`);
      assert.match(notices[0], /steps=many: 'many' is not a whole number; using the default \d+/);
      assert.match(notices[1], /'colour' is not a setting; ignored/);
      assert.equal(await page.locator("#lr").inputValue(), "0.01");
      assert.equal(await page.locator("#seed").inputValue(), "5");
      assert.ok(await page.locator('[data-fault="no-causal-mask"]').isChecked(), "the link's fault is on");
      assert.equal(await page.locator("[data-error-for]").count(), 0, "the form is valid: defaults replaced the bad values");
      await screenshots(page, "link-notices");

      await typeInto(page, "#seed", "9");
      await page.waitForFunction(() => new URL(location.href).searchParams.get("seed") === "9");
      const written = query(page);
      assert.equal(written.get("lr"), "0.01");
      assert.deepEqual(written.getAll("fault"), ["no-causal-mask"]);
      assert.equal(written.get("colour"), null, "what the form could not take is not written back");

      // Moving between pages keeps the document (and so the form and a running run): the hash links
      // must not drop the query and reload.
      await page.evaluate(() => { window.faultlineSameDocument = true; });
      for (const name of ["Guide", "Exercises", "Mystery", "Trainer"]) {
        await page.locator("nav.nav a", { hasText: name }).click();
        await page.waitForFunction((n) => document.querySelector('nav.nav a[aria-current="page"]')?.textContent.trim() === n, name);
      }
      assert.equal(await page.evaluate(() => window.faultlineSameDocument), true, "no page load between pages");
      assert.equal(await page.locator("#seed").inputValue(), "9", "the form survives the trip");
      assert.equal(query(page).get("seed"), "9", "and so does the link");

      await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: new URL(baseUrl()).origin });
      await page.locator("#copy-link").click();
      await page.locator("#copy-link-status").filter({ hasText: "Link copied" }).waitFor({ timeout: 5_000 });
      const copied = await page.evaluate(() => navigator.clipboard.readText());
      assert.equal(copied, page.url(), "the clipboard holds the page's link");

      const again = await openPage(shared.browser, copied.slice(baseUrl().length));
      try {
        await again.page.locator('#status[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
        assert.equal(await again.page.locator("#link-notices").count(), 0, "a link the page wrote has nothing to complain about");
        assert.equal(await again.page.locator("#seed").inputValue(), "9");
        assert.equal(await again.page.locator("#lr").inputValue(), "0.01");
        assert.ok(await again.page.locator('[data-fault="no-causal-mask"]').isChecked());
        assert.deepEqual(again.problems, []);
      } finally {
        await again.page.close();
      }
      assert.deepEqual(problems, [], "no console errors, page errors or failed requests");
    } finally {
      await page.close();
    }
  });
});

describe("mystery mode", { timeout: 2 * RUN_TIMEOUT + 60_000 }, () => {
  test("one round: start, watch, guess, reveal and score", async (t) => {
    // Round 20's hidden fault is no-causal-mask (the seed picks it through the engine's Rng, so the test
    // can know it); the page must not show it, or the detector's panel, before the guess.
    const { page, problems } = await openPage(shared.browser, "#/mystery/20");
    try {
      await page.locator("#mystery-start").waitFor({ timeout: LOAD_TIMEOUT });
      assert.equal(await page.locator("#symptoms").count(), 0, "no detector panel before the guess");
      assert.ok(!(await page.locator("main").textContent()).includes("no-causal-mask"), "the fault is hidden");
      assert.ok(await page.locator("#mystery-submit").isDisabled(), "no guessing before the run starts");
      const scoreBefore = await page.locator("#mystery-score").textContent();

      await page.locator("#mystery-start").click();
      await page.waitForFunction(() => Number(document.querySelector("#step-count")?.textContent) >= 80, null, {
        timeout: RUN_TIMEOUT,
      });
      await page.locator("#mystery-guess").selectOption("attention-looks-at-future-in-causal-model");
      await page.locator("#mystery-submit").click();

      const reveal = page.locator("#mystery-reveal");
      await reveal.waitFor({ timeout: 5_000 });
      assert.equal(await reveal.getAttribute("data-verdict"), "right");
      assert.match(await page.locator("#mystery-answer").textContent(), /no-causal-mask/);
      assert.match(await page.locator("#mystery-your-guess").textContent(), /future/i);
      const scoreAfter = await page.locator("#mystery-score").textContent();
      t.diagnostic(`score ${scoreBefore} → ${scoreAfter}`);
      assert.match(scoreAfter, /^2 points for 1 hidden fault \(1 named exactly\)$/);
      await page.locator("#mystery-reveal .mystery-finding").first().waitFor({ timeout: RUN_TIMEOUT });
      const detector = await page.locator("#mystery-reveal .mystery-finding").first().textContent();
      t.diagnostic(`the detector read: ${detector}`);
      await screenshots(page, "mystery");

      await reloadWithWorker(page);
      await page.locator("#mystery-score").waitFor({ timeout: LOAD_TIMEOUT });
      assert.match(await page.locator("#mystery-score").textContent(), /^2 points for 1 hidden fault /, "the score is kept");
      assert.deepEqual(problems, [], "no console errors, page errors or failed requests");
    } finally {
      await page.close();
    }
  });

  test("a two-fault round: two guesses, both faults revealed, each scored", async () => {
    const { page, problems } = await openPage(shared.browser, "#/mystery/two/3");
    try {
      await page.locator("#mystery-start").waitFor({ timeout: LOAD_TIMEOUT });
      assert.match(await page.locator("#mystery-title").textContent(), /two faults/);
      await page.locator("#mystery-start").click();
      await page.waitForFunction(() => Number(document.querySelector("#step-count")?.textContent) >= 10, null, {
        timeout: RUN_TIMEOUT,
      });
      await page.locator("#mystery-guess").selectOption("loss-oscillates-wildly");
      assert.ok(await page.locator("#mystery-submit").isDisabled(), "both entries must be named");
      await page.locator("#mystery-guess-2").selectOption("model-outputs-repetitive-text");
      await page.locator("#mystery-submit").click();

      const reveal = page.locator("#mystery-reveal");
      await reveal.waitFor({ timeout: 5_000 });
      const verdicts = (await reveal.getAttribute("data-verdict")).split(" ");
      assert.equal(verdicts.length, 2);
      assert.ok(verdicts.every((v) => ["right", "same-section", "wrong"].includes(v)), verdicts.join());
      const answers = [await page.locator("#mystery-answer").textContent(), await page.locator("#mystery-answer-2").textContent()];
      const ids = answers.map((a) => a.split(":")[0]);
      assert.notEqual(ids[0], ids[1], "two different faults");
      const points = { right: 2, "same-section": 1, wrong: 0 };
      const earned = verdicts.reduce((sum, v) => sum + points[v], 0);
      assert.match(await page.locator("#mystery-score").textContent(), new RegExp(`^${earned} points? for 2 hidden faults`));
      await screenshots(page, "mystery-two");
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });
});
