// Break it, see it, name it: the release build with faults switched on, as a learner would do it.
//
// Each test turns a fault on through the page's own controls, trains, and waits for the symptom
// detector's finding to appear in #symptoms as the matching guide entry (data-entry="<guide id>").
// Written against the DOM contract, not the layout. Waits are generous: CI is a 2-core machine and the
// model trains on the CPU in a Web Worker.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { openPage, screenshot, screenshots, sharedBrowser, typeInto } from "./lib/browser.mjs";

const LOAD_TIMEOUT = 60_000;
const RUN_TIMEOUT = 300_000;
/** How long a click on #ping may take to be answered. */
const PROMPT_MS = 1_500;

const shared = sharedBrowser();

/** Opens `path` of the app and waits until the trainer (or the page asked for) is ready. */
async function openApp(path = "") {
  const opened = await openPage(shared.browser, path);
  if (path === "") {
    await opened.page.locator('#status[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
  }
  return opened;
}

/** Opens the guide section that holds `fault` and switches the fault on. */
async function turnOn(page, fault) {
  const toggle = page.locator(`[data-fault="${fault}"]`);
  if (!(await toggle.isVisible())) {
    const section = page.locator("details.fault-section", { has: toggle });
    await section.locator("summary").click();
  }
  await toggle.check();
  assert.ok(await toggle.isChecked(), `${fault} is on`);
}

/** Clicks #ping and waits until the count goes up; returns the milliseconds it took. */
async function ping(page) {
  const before = Number(await page.locator("#ping-count").textContent());
  const clickedAt = Date.now();
  await page.locator("#ping").click({ timeout: PROMPT_MS });
  await page.waitForFunction(
    (count) => Number(document.querySelector("#ping-count")?.textContent) === count,
    before + 1,
    { timeout: PROMPT_MS, polling: 10 },
  );
  return Date.now() - clickedAt;
}

describe("break it, see it, name it", { timeout: RUN_TIMEOUT + 120_000 }, () => {
  test("no causal mask: the attention finding appears during the run", async (t) => {
    const { page, problems } = await openApp();
    try {
      await typeInto(page, "#steps", "150");
      await typeInto(page, "#seed", "1");
      await turnOn(page, "no-causal-mask");
      assert.equal(await page.locator("[data-error-for]").count(), 0, "the settings are valid");
      await page.locator("#start").click();
      await page.locator('#status[data-state="running"]').waitFor({ timeout: LOAD_TIMEOUT });

      const entry = page.locator('#symptoms [data-entry="attention-looks-at-future-in-causal-model"]');
      await entry.waitFor({ state: "visible", timeout: RUN_TIMEOUT });
      const state = await page.locator("#status").getAttribute("data-state");
      const step = Number(await page.locator("#step-count").textContent());
      t.diagnostic(`the finding appeared at step ${step}, run ${state}`);
      assert.ok(step <= 150, "within the run");
      const evidence = await entry.locator(".evidence").textContent();
      assert.match(evidence, /attention on later positions/, `the evidence is a measurement: ${evidence}`);
      assert.ok(await entry.locator('[data-fix="fault-off-no-causal-mask"]').isVisible(), "a fix turns the fault off");
      const confidence = await entry.locator(".score").textContent();
      assert.match(confidence, /^\d+% confidence$/, `the finding's confidence: ${confidence}`);
      const when = await entry.locator(".finding-when").textContent();
      const first = when.match(/First seen at step (\d+)\. What would settle it: \S/);
      assert.ok(first && Number(first[1]) <= step, `when it first showed, and what would settle it: ${when}`);
      assert.ok(await page.locator("#attention-map").isVisible(), "the attention map is drawn");
      await page.locator("#attention-hover").filter({ hasText: /on later positions/ }).waitFor({ timeout: 10_000 });

      await screenshots(page, "symptom-causal");
      assert.deepEqual(problems, [], "no console errors, page errors or failed requests");
    } finally {
      await page.close();
    }
  });

  test("SGD at lr 1 without clipping: NaN, the first bad tensor named, the page still answers", async (t) => {
    const { page, problems } = await openApp();
    try {
      await page.locator("#optimizer").selectOption("sgd");
      await typeInto(page, "#lr", "1");
      await typeInto(page, "#steps", "150");
      await typeInto(page, "#seed", "1");
      await turnOn(page, "no-grad-clip");
      assert.equal(await page.locator("[data-error-for]").count(), 0, "the settings are valid");
      await page.locator("#start").click();

      const entry = page.locator('#symptoms [data-entry="loss-becomes-nan"]');
      await entry.waitFor({ state: "visible", timeout: RUN_TIMEOUT });
      await page.locator('#status[data-state="stopped"]').waitFor({ timeout: 10_000 });
      const evidence = await entry.locator(".evidence").textContent();
      const named = evidence.match(/first appeared in (.+?) at step (\d+)/);
      assert.ok(named, `the panel names the first bad tensor: ${evidence}`);
      const [, tensor, step] = named;
      t.diagnostic(`NaN/Inf first in ${tensor} at step ${step}`);
      const message = await page.locator("#run-message").textContent();
      assert.ok(message.includes(tensor), `the run's message names ${tensor}: ${message}`);
      const top = page.locator("#symptoms [data-entry]").first();
      assert.equal(await top.getAttribute("data-entry"), "loss-becomes-nan", "the NaN is the top finding");
      assert.ok(await entry.locator("pre.code").count() > 0, "the fixes come with code");

      const answeredInMs = await ping(page);
      assert.ok(answeredInMs < PROMPT_MS, `#ping answered in ${answeredInMs} ms`);
      // On a log axis the blow-up and the ordinary losses before it show together.
      await page.locator("#loss-log").check();
      await screenshots(page, "symptom-nan");

      // The first fix is a setting: applying it restarts the run with it.
      await entry.locator('[data-fix="lower-lr"]').click();
      await page.waitForFunction(() => document.querySelector("#lr")?.value === "0.1", null, { timeout: 5_000 });
      await page.locator('#status[data-state="running"]').waitFor({ timeout: LOAD_TIMEOUT });
      await page.locator("#reset").click();
      assert.deepEqual(problems, [], "no console errors, page errors or failed requests");
    } finally {
      await page.close();
    }
  });

  test("a fault's strength is checked inline, and show me sets up its scenario", async () => {
    const { page, problems } = await openApp();
    try {
      await turnOn(page, "lr-too-high");
      await typeInto(page, "#fault-lr-too-high-strength", "0.5");
      const error = page.locator('[data-error-for="fault-lr-too-high"]');
      await error.waitFor({ state: "visible", timeout: 5_000 });
      assert.match(await error.textContent(), /between/, "the message gives the range");
      await page.locator("#start").click({ force: true });
      await page.waitForTimeout(1_000);
      assert.equal(await page.locator("#status").getAttribute("data-state"), "idle", "no run started");

      const gradients = page.locator('details.fault-section[data-section="Gradient Issues"]');
      await gradients.locator("summary").click();
      await page.locator('[data-show-me="no-grad-clip"]').click();
      assert.ok(await page.locator('[data-fault="no-grad-clip"]').isChecked(), "the fault is on");
      assert.ok(!(await page.locator('[data-fault="lr-too-high"]').isChecked()), "other faults are off");
      assert.equal(await page.locator("#optimizer").inputValue(), "sgd", "its scenario's optimizer");
      assert.equal(await page.locator("[data-error-for]").count(), 0, "the scenario is valid");
      assert.deepEqual(problems, [], "no console errors, page errors or failed requests");
    } finally {
      await page.close();
    }
  });

  test("the guide: an entry in full, and every entry reachable from the index", async () => {
    const { page, problems } = await openApp("#/guide/loss-becomes-nan");
    try {
      const article = page.locator('#guide-entry[data-entry-page="loss-becomes-nan"]');
      await article.waitFor({ timeout: LOAD_TIMEOUT });
      assert.equal((await article.locator("h1").textContent()).trim(), "Loss becomes NaN");
      const headings = await article.locator("h2").allTextContents();
      for (const heading of ["Symptoms", "Causes", "Diagnosis", "Fixes", "Related", "Reproduce it"]) {
        assert.ok(headings.includes(heading), `the entry has ${heading}: ${headings}`);
      }
      assert.ok((await article.locator("pre.code").count()) >= 4, "diagnosis and fixes show code");
      assert.ok((await article.locator("[data-try]").count()) >= 1, "a fault reproduces it");
      await screenshots(page, "guide-entry");

      await page.locator('.nav a[href="#/guide"]').click();
      await page.locator("#guide-index").waitFor({ timeout: 10_000 });
      assert.equal(await page.locator("#guide-index .entry-list a").count(), 19, "every entry is listed");
      assert.equal(await page.locator("#checklist li").count(), 8, "the quick checklist");
      assert.equal(await page.locator("#more-help .more-help li").count(), 5, "getting more help, in five steps");
      await page.locator('#guide-index .entry-list a[href="#/guide/out-of-memory-oom"]').click();
      await page.locator('#guide-entry[data-entry-page="out-of-memory-oom"]').waitFor({ timeout: 10_000 });
      assert.deepEqual(problems, [], "no console errors, page errors or failed requests");
    } finally {
      await page.close();
    }
  });
});
