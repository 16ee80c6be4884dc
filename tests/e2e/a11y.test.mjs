// An accessibility audit of every route of the release build with axe-core: no finding of impact
// "serious" or "critical" anywhere; the milder ones are printed as diagnostics.
//
// The site's Content-Security-Policy blocks inline scripts, so axe is not added as a <script>: its source
// is evaluated through the DevTools protocol (page.evaluate), which the policy does not govern.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, test } from "node:test";
import { openPage, sharedBrowser } from "./lib/browser.mjs";

const LOAD_TIMEOUT = 60_000;
const RUN_TIMEOUT = 240_000;
const BLOCKING = new Set(["serious", "critical"]);

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const shared = sharedBrowser();

/** Runs axe on the page as it is now; returns its violations as { id, impact, help, targets }. */
async function audit(page) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) {
    await page.evaluate(axeSource);
  }
  return page.evaluate(async () => {
    const results = await window.axe.run(document, { resultTypes: ["violations"] });
    return results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => `${n.target.join(" ")}${n.failureSummary ? `: ${n.failureSummary.replace(/\s+/g, " ")}` : ""}`),
    }));
  });
}

/** Audits the page, prints every finding and fails on the serious and critical ones. */
async function assertAccessible(t, page, name) {
  const violations = await audit(page);
  for (const v of violations) {
    t.diagnostic(`${name}: [${v.impact}] ${v.id} (${v.help}) on ${v.targets.length} node(s): ${v.targets.slice(0, 5).join(" | ")}`);
  }
  const blocking = violations.filter((v) => BLOCKING.has(v.impact));
  assert.deepEqual(
    blocking.map((v) => `${v.id}: ${v.targets.join(" | ")}`),
    [],
    `${name}: no serious or critical accessibility findings`,
  );
}

/** Opens `path`, waits for `ready` and the training worker, lets `act(page)` (if given) act, audits, closes. */
async function auditRoute(t, path, ready, act) {
  const { page, problems } = await openPage(shared.browser, path);
  try {
    await page.locator(ready).first().waitFor({ timeout: LOAD_TIMEOUT });
    await page.workerLoaded;
    await act?.(page);
    await assertAccessible(t, page, path || "#/");
    assert.deepEqual(problems, [], "no console errors, page errors or failed requests");
  } finally {
    await page.close();
  }
}

describe("accessibility (axe-core)", { timeout: 2 * RUN_TIMEOUT + 20 * LOAD_TIMEOUT }, () => {
  test("the trainer: idle, and after a short run whose fault the detector names", async (t) => {
    const { page, problems } = await openPage(shared.browser, "?steps=80&fault=lr-too-high#/");
    try {
      await page.locator('#status[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
      await page.workerLoaded;
      assert.equal(await page.locator("#status").getAttribute("aria-live"), "polite", "run states are announced");
      await assertAccessible(t, page, "#/ idle");
      // Everything the findings' live region says during the run, in order.
      await page.evaluate(() => {
        const region = document.querySelector("#finding-announcement");
        window.heard = [];
        new MutationObserver(() => region.textContent && window.heard.push(region.textContent)).observe(region, {
          childList: true,
          characterData: true,
          subtree: true,
        });
      });
      await page.locator("#start").click();
      await page.locator('#status[data-state="finished"], #status[data-state="stopped"]').waitFor({ timeout: RUN_TIMEOUT });
      await page.locator("#symptoms [data-entry]").first().waitFor({ timeout: LOAD_TIMEOUT });
      const region = page.locator("#finding-announcement");
      assert.equal(await region.getAttribute("aria-live"), "polite", "new findings are announced");
      const heard = await page.evaluate(() => window.heard);
      t.diagnostic(`announced: ${heard.join(" | ")}`);
      assert.ok(heard.length >= 1, "the detector's finding was announced");
      for (const said of heard) {
        assert.match(said, /^(Finding: [^—]+ — (first at step \d+|before the first step)\. ?)+$/);
      }
      const titles = heard.flatMap((said) => [...said.matchAll(/Finding: ([^—]+) —/g)].map((m) => m[1]));
      assert.equal(new Set(titles).size, titles.length, `each finding is announced once: ${titles.join(", ")}`);
      await assertAccessible(t, page, "#/ after a run");
      await page.locator(".chart-data > summary").evaluateAll((summaries) => summaries.forEach((s) => s.click()));
      await page.locator("#attention-map ~ .chart-data table").waitFor();
      await assertAccessible(t, page, "#/ after a run, every chart's data table open");
      assert.deepEqual(problems, [], "no console errors, page errors or failed requests");
    } finally {
      await page.close();
    }
  });

  test("nothing moves for a reader who asks for reduced motion", async () => {
    const { page, problems } = await openPage(shared.browser, "#/");
    try {
      await page.emulateMedia({ reducedMotion: "reduce" });
      await page.locator('#status[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
      await page.workerLoaded;
      const moving = await page.evaluate(() =>
        [...document.querySelectorAll("*")]
          .filter((e) => {
            const style = getComputedStyle(e);
            const durations = `${style.transitionDuration},${style.animationDuration}`.split(",");
            return durations.some((d) => parseFloat(d) > 0) || style.scrollBehavior === "smooth";
          })
          .map((e) => e.id || e.className || e.tagName),
      );
      assert.deepEqual(moving, [], "no transition, animation or smooth scrolling");
      assert.deepEqual(problems, [], "no console errors, page errors or failed requests");
    } finally {
      await page.close();
    }
  });

  test("the guide's index", (t) => auditRoute(t, "#/guide", "#guide-index"));

  test("a guide entry", (t) => auditRoute(t, "#/guide/loss-becomes-nan", '#guide-entry[data-entry-page="loss-becomes-nan"]'));

  test("the exercises' list", (t) => auditRoute(t, "#/exercises", ".exercise-item"));

  test("an exercise after its prediction", (t) =>
    auditRoute(t, "#/exercises/first-run", "[data-prediction-number]", async (page) => {
      const guess = page.locator("[data-prediction-number]");
      await guess.fill("3.4");
      await guess.press("Enter");
      await page.locator("[data-stage]").first().waitFor({ timeout: LOAD_TIMEOUT });
    }));

  test("a mystery round, before the run and after the reveal", (t) =>
    auditRoute(t, "#/mystery/20", "#mystery-start", async (page) => {
      await assertAccessible(t, page, "#/mystery/20 before the run");
      await page.locator("#mystery-start").click();
      await page.waitForFunction(() => Number(document.querySelector("#step-count")?.textContent) >= 80, null, {
        timeout: RUN_TIMEOUT,
      });
      await page.locator("#mystery-guess").selectOption("attention-looks-at-future-in-causal-model");
      await page.locator("#mystery-submit").click();
      await page.locator("#mystery-reveal .mystery-finding").first().waitFor({ timeout: RUN_TIMEOUT });
    }));

  test("the diagnose page", (t) => auditRoute(t, "#/diagnose", '#diagnose[data-state="idle"]'));

  test("the alignment page", (t) => auditRoute(t, "#/align", '#align[data-state="idle"]'));

  test("the policy-gradient lab", (t) => auditRoute(t, "#/align/rl", '#align[data-method="rl"]'));

  test("an alignment mystery", (t) => auditRoute(t, "#/align/mystery", "#align-mystery-title"));
});
