// The alignment page (#/align): a base model pretrained in the worker, then fine-tuned with DPO. A
// short healthy run (150 pretraining steps, 30 DPO steps, set by the link: `steps` counts DPO steps on
// this page) draws its loss against ln 2, shows samples before and after with their true quality and
// where the memory goes, and names nothing; a bad β gets the settings table's message and Start does
// nothing; the same run with the reference not frozen names the guide's "DPO loss not decreasing"
// entry, linked; and the guide entry's "Try it" opens this page with its fault on, which Stop ends.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { openPage, screenshots, sharedBrowser, typeInto } from "./lib/browser.mjs";
import { LOAD_TIMEOUT, openAlign, runToTheEnd } from "./lib/align.mjs";

const RUN_TIMEOUT = 240_000;

const shared = sharedBrowser();

/** The link of a short run: 150 pretraining steps, 30 DPO steps, and `extra`. */
function shortRun(extra = "") {
  return `?pretrain-steps=150&steps=30${extra}#/align`;
}

describe("the alignment page", { timeout: 3 * RUN_TIMEOUT }, () => {
  test("a short DPO run draws its loss, samples before and after, its memory, and names nothing", async (t) => {
    const { page, problems } = await openAlign(shared.browser, shortRun("&fine-tune-lr=0.001"));
    try {
      assert.equal(await page.locator('.nav a[aria-current="page"]').textContent(), "Align");
      assert.equal(await page.locator("#corpus").inputValue(), "sorting", "the page's default corpus");
      assert.equal(await page.locator("#pretrain-steps").inputValue(), "150");
      assert.equal(await page.locator("#steps").inputValue(), "30", "the link's steps are the DPO steps");
      assert.equal(await page.locator('label[for="steps"]').textContent(), "DPO steps");
      assert.equal(await page.locator("[data-fault]").count(), 4, "the four fine-tuning faults");

      const { state, status } = await runToTheEnd(page, RUN_TIMEOUT);
      t.diagnostic(status);
      assert.equal(state, "done", status);
      assert.match(status, /^Done: 30 DPO steps; the DPO loss went from 0\.693 to 0\.\d+/);
      assert.equal(await page.locator("#align-step").textContent(), "30 / 30");
      assert.match(await page.locator("#align-pretraining").textContent(), /^150 \/ 150, loss \d+\.\d{3}$/);

      const drawn = await page.evaluate(() => document.querySelector("#dpo-loss-chart")?.width ?? 0);
      assert.ok(drawn > 0, "the DPO loss is drawn");
      const legend = await page.locator("#dpo-loss-chart ~ figcaption .legend").textContent();
      assert.match(legend, /training pairs.*held-out pairs/);
      for (const id of ["dpo-margin-chart", "dpo-kl-chart", "dpo-quality-chart"]) {
        assert.ok(await page.locator(`#${id}`).isVisible(), `#${id} is shown`);
      }

      assert.match(await page.locator("#samples-before h3").textContent(), /^Before fine-tuning true quality \d+(\.\d)?%$/);
      assert.match(await page.locator("#samples-after h3").textContent(), /^After 30 DPO steps true quality \d+(\.\d)?%$/);
      for (const side of ["before", "after"]) {
        const samples = page.locator(`#samples-${side} li`);
        assert.ok((await samples.count()) > 0, `samples ${side}`);
        assert.match(await samples.first().locator(".sample-mark").textContent(), /^(✓ valid|✗ invalid)$/);
        assert.match(await samples.first().locator(".sample-prompt").textContent(), /^[a-h]+>$/, "a sorting prompt");
      }

      const numbers = async (part) =>
        Number((await page.locator(`#dpo-memory tr[data-part="${part}"] td`).first().textContent()).replaceAll(",", ""));
      const weights = await numbers("weights");
      assert.ok(weights > 100_000, `${weights} weights`);
      assert.equal(await numbers("trainable"), weights, "without LoRA every weight trains");
      assert.equal(await numbers("optimizer"), 2 * weights);
      assert.equal(await numbers("frozen"), 0);
      const mib = await page.locator('#dpo-memory tr[data-part="weights"] td').nth(1).textContent();
      assert.equal(Number(mib), Number(((weights * 4) / 1048576).toFixed(2)));

      assert.match(await page.locator("#dpo-no-diagnosis").textContent(), /^No diagnosis: the DPO loss is falling \(from 0\.693 at step 1 to 0\.\d+ at step 30\)\.$/);
      assert.equal(await page.locator("#dpo-findings .finding").count(), 0);
      const url = page.url();
      assert.match(url, /[?&]pretrain-steps=150(&|#|$)/);
      assert.match(url, /[?&]steps=30(&|#|$)/);
      assert.match(url, /#\/align$/);

      await screenshots(page, "align");
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  test("a bad β keeps the form; the reference not frozen names the DPO entry", async (t) => {
    const { page, problems } = await openAlign(shared.browser, shortRun("&fault=dpo-reference-not-frozen"));
    try {
      assert.ok(await page.locator('[data-fault="dpo-reference-not-frozen"]').isChecked());
      await typeInto(page, "#beta", "0");
      assert.equal(
        await page.locator('[data-error-for="beta"]').textContent(),
        "beta: must be between 0.0001 and 1000, got 0",
      );
      await page.locator("#align-start").click();
      await page.waitForTimeout(500);
      assert.equal(await page.locator("#align").getAttribute("data-state"), "idle", "Start does nothing");
      assert.equal(await page.locator("#steps").inputValue(), "30", "nothing else is lost");
      await typeInto(page, "#beta", "0.1");
      assert.equal(await page.locator("[data-error-for]").count(), 0);

      const { state, status } = await runToTheEnd(page, RUN_TIMEOUT);
      t.diagnostic(status);
      assert.equal(state, "done", status);
      const finding = page.locator('#dpo-findings .finding[data-entry="dpo-loss-not-decreasing"]');
      await finding.waitFor();
      assert.equal(await finding.locator("h3 a").getAttribute("href"), "#/guide/dpo-loss-not-decreasing");
      assert.match(await finding.locator(".evidence li").first().textContent(), /^after 30 DPO steps the recent loss is 0\.693 against ln 2/);
      assert.match(await page.locator("#align-loss").textContent(), /^0\.693/);

      await screenshots(page, "align-fault");
      await finding.locator("h3 a").click();
      await page.locator('#guide-entry[data-entry-page="dpo-loss-not-decreasing"]').waitFor({ timeout: LOAD_TIMEOUT });
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  test("the guide entry's Try it opens the alignment page with the fault on, and Stop ends the run", async () => {
    const { page, problems } = await openPage(shared.browser, "#/guide/dpo-loss-not-decreasing");
    try {
      await page.workerLoaded;
      await page.locator('button[data-try="dpo-lr-too-low"]').click();
      await page.waitForFunction(() => location.hash === "#/align", null, { timeout: LOAD_TIMEOUT });
      assert.ok(await page.locator('[data-fault="dpo-lr-too-low"]').isChecked(), "the fault is on");
      assert.match(page.url(), /[?&]fault=dpo-lr-too-low(&|#|$)/);
      assert.equal(await page.locator("#corpus").inputValue(), "sorting");
      await page.locator('#align[data-state="pretraining"]').waitFor({ timeout: LOAD_TIMEOUT });
      await page.locator("#align-stop").click();
      await page.locator('#align[data-state="stopped"]').waitFor({ timeout: LOAD_TIMEOUT });
      assert.match(await page.locator("#align-status").textContent(), /^Stopped during pretraining, at step \d+ of 1000\.$/);
      assert.ok(await page.locator("#align-stop").isDisabled());
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });
});
