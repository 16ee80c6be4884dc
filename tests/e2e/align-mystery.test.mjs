// The alignment page's mystery round: #/align links to a round with a new seed; round 2 (the link's
// seed) hides dpo-beta-too-high in a short run (150 pretraining steps, 30 DPO steps, fine-tune-lr
// 0.001) whose settings and faults stay out of the page and the address bar. Played to its verdict:
// the answer "DPO loss not decreasing" (the fault's guide entry) is right, the detector's reading is
// judged beside it, and the reveal shows what Faultline measured: the loss falls rather than staying
// flat near ln 2. Round 1 hides no-kl-penalty in a short policy-gradient run (800 pretraining steps,
// 40 policy-gradient steps): the round shows the proxy reward and true quality, and the KL; the
// answer "Reward increases but quality decreases" is right, and so is the detector, which names it.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { openPage, screenshots, sharedBrowser } from "./lib/browser.mjs";

const LOAD_TIMEOUT = 60_000;
const RUN_TIMEOUT = 240_000;

const shared = sharedBrowser();

/** Waits for the round's run to end and asserts that it finished. */
async function roundEnds(page, t) {
  await page.waitForFunction(
    () => ["done", "failed", "stopped"].includes(document.querySelector("#align")?.dataset.state),
    null,
    { timeout: RUN_TIMEOUT },
  );
  const status = (await page.locator("#align-status").textContent()) ?? "";
  t.diagnostic(status);
  assert.equal(await page.locator("#align").getAttribute("data-state"), "done", status);
}

describe("the alignment page's mystery round", { timeout: 2 * RUN_TIMEOUT }, () => {
  test("round 2 hides dpo-beta-too-high, runs short, and is judged with the detector and the measured note", async (t) => {
    const { page, problems } = await openPage(shared.browser, "#/align");
    try {
      await page.locator('#align[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
      assert.match(await page.locator("#align-mystery").getAttribute("href"), /^#\/align\/mystery\/\d+$/);

      await page.evaluate(() => {
        location.hash = "#/align/mystery/2";
      });
      await page.locator("#align-mystery-title").waitFor({ timeout: LOAD_TIMEOUT });
      await page.workerLoaded;
      assert.equal(await page.locator("#align-mystery-title").textContent(), "Mystery fine-tuning run #2");
      assert.equal(await page.locator('.nav a[aria-current="page"]').textContent(), "Align");
      const shortRun = await page.locator(".mystery-head ul").textContent();
      for (const setting of ["pretrain-steps=150", "steps=30", "fine-tune-lr=0.001"]) {
        assert.ok(shortRun.includes(setting), `${setting} is shown: ${shortRun}`);
      }
      assert.equal(await page.locator("[data-fault]").count(), 0, "the faults are not on the page");
      assert.ok(await page.locator("#align-mystery-submit").isDisabled(), "no answer before the run");

      await page.locator("#align-mystery-start").click();
      await page.locator('#align[data-state="pretraining"]').waitFor({ timeout: LOAD_TIMEOUT });
      await roundEnds(page, t);
      assert.doesNotMatch(page.url(), /fault=/, "the hidden fault is not in the address bar");
      assert.equal(await page.locator("#align-settings-used").count(), 0, "the β the run used is hidden");
      assert.equal(await page.locator("#dpo-findings").count(), 0, "the detector is hidden until the answer");

      await page.locator("#align-mystery-guess").selectOption("dpo-loss-not-decreasing");
      await page.locator("#align-mystery-submit").click();
      const reveal = page.locator("#align-mystery-reveal");
      await reveal.waitFor({ timeout: LOAD_TIMEOUT });
      assert.equal(await reveal.getAttribute("data-answer"), "dpo-beta-too-high");
      assert.equal(await reveal.getAttribute("data-verdict"), "right");
      assert.match(await page.locator("#align-mystery-answer").textContent(), /^dpo-beta-too-high: .*DPO loss not decreasing$/i);

      const detector = page.locator("#align-mystery-detector");
      const said = await detector.textContent();
      t.diagnostic(said);
      assert.match(said, /^The detector said: /);
      const measured = await page.locator("#align-mystery-measured").textContent();
      t.diagnostic(measured);
      assert.match(measured, /falls to about 0/, "the measured note says the loss falls");
      const [, first, last] = measured.match(/In this run the DPO loss went from (\d+\.\d{3}) to (\d+\.\d{3})\./);
      assert.equal(first, "0.693", "it starts at ln 2");
      assert.ok(Number(last) < 0.693 - 0.03, `the loss fell out of the flat band (to ${last})`);
      assert.equal(await detector.getAttribute("data-verdict"), "wrong", "so the detector names nothing, and is wrong");
      assert.match(said, /^The detector said: Healthy: nothing wrong\. Not this time\.$/);
      assert.ok(await page.locator("#align-mystery-reveal #dpo-no-diagnosis").isVisible());
      assert.ok(await page.locator("#align-mystery-submit").isDisabled(), "one answer a round");

      await screenshots(page, "align-mystery");
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  test("round 1 hides no-kl-penalty in a policy-gradient run, shows its charts, and the detector names it", async (t) => {
    const { page, problems } = await openPage(shared.browser, "#/align/mystery/1");
    try {
      await page.locator("#align-mystery-title").waitFor({ timeout: LOAD_TIMEOUT });
      await page.workerLoaded;
      const shortRun = await page.locator(".mystery-head ul").textContent();
      for (const setting of ["pretrain-steps=800", "steps=40"]) {
        assert.ok(shortRun.includes(setting), `${setting} is shown: ${shortRun}`);
      }
      assert.match(await page.locator(".lede").textContent(), /policy gradient/);
      assert.equal(await page.locator("[data-fault]").count(), 0, "the faults are not on the page");

      await page.locator("#align-mystery-start").click();
      await roundEnds(page, t);
      for (const chart of ["#rl-reward-chart", "#rl-kl-chart"]) {
        assert.ok(await page.locator(chart).isVisible(), `${chart} is shown`);
      }
      assert.equal(await page.locator("#align-settings-used").count(), 0, "the KL coefficient is hidden");
      assert.equal(await page.locator("#dpo-findings").count(), 0, "the detector is hidden until the answer");

      await page.locator("#align-mystery-guess").selectOption("reward-increases-but-quality-decreases");
      await page.locator("#align-mystery-submit").click();
      const reveal = page.locator("#align-mystery-reveal");
      await reveal.waitFor({ timeout: LOAD_TIMEOUT });
      assert.equal(await reveal.getAttribute("data-answer"), "no-kl-penalty");
      assert.equal(await reveal.getAttribute("data-verdict"), "right");
      assert.match(await page.locator("#align-mystery-answer").textContent(), /^no-kl-penalty: .*Reward increases but quality decreases$/i);
      const detector = page.locator("#align-mystery-detector");
      t.diagnostic(await detector.textContent());
      assert.equal(await detector.getAttribute("data-verdict"), "right", "the detector names the entry");
      assert.equal(await page.locator("#align-mystery-measured").count(), 0, "its symptom is its entry's");

      await screenshots(page, "align-mystery-rl");
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });
});
