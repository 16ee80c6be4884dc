// The policy-gradient lab (#/align/rl): a base model pretrained in the worker (the default 1,000
// steps, so it writes grammatical sentences), reward models trained on the corpus's preference pairs,
// then REINFORCE against them with a KL penalty. A short healthy run (30 policy-gradient steps, set by
// the link) draws the proxy reward and the true quality on one step axis, the KL and the response
// length, lists the reward models, shows samples before and after marked valid or not, and says why
// the detector names nothing yet. Without the KL penalty, 60 steps are enough for the proxy reward to
// climb while the quality falls, and the detector names the guide's entry. The method switch keeps
// the method in the address and moves the form's defaults; a fix button sets its setting and reruns;
// the guide entry's "Try it" opens this lab with the fault on.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { openPage, screenshots, sharedBrowser } from "./lib/browser.mjs";
import { LOAD_TIMEOUT, openAlign, runToTheEnd } from "./lib/align.mjs";

const RUN_TIMEOUT = 300_000;

const shared = sharedBrowser();

describe("the policy-gradient lab", { timeout: 3 * RUN_TIMEOUT }, () => {
  test("a short run draws reward against quality, its reward models, samples before and after, and no diagnosis", async (t) => {
    const { page, problems } = await openAlign(shared.browser, "?steps=30#/align/rl");
    try {
      assert.equal(await page.locator('.nav a[aria-current="page"]').textContent(), "Align");
      assert.equal(await page.locator('.method-switch a[aria-current="page"]').getAttribute("id"), "method-rl");
      assert.equal(await page.locator("#corpus").inputValue(), "toy-english", "the lab's default corpus");
      assert.equal(await page.locator("#steps").inputValue(), "30");
      assert.equal(await page.locator("#pretrain-steps").inputValue(), "1000");
      assert.equal(await page.locator('label[for="steps"]').textContent(), "Policy-gradient steps");
      for (const id of ["kl-coef", "reward-models", "reward-pairs", "entropy-bonus"]) {
        assert.ok(await page.locator(`#${id}`).isVisible(), `#${id} is a setting here`);
      }
      assert.equal(await page.locator("#beta").count(), 0, "β is DPO's");
      assert.deepEqual(await page.locator("[data-fault]").evaluateAll((els) => els.map((e) => e.dataset.fault)), [
        "no-kl-penalty",
      ]);

      const { state, status } = await runToTheEnd(page, RUN_TIMEOUT);
      t.diagnostic(status);
      assert.equal(state, "done", status);
      assert.match(
        status,
        /^Done: 30 policy-gradient steps; the proxy reward went from [+-]\d\.\d{3} to [+-]\d\.\d{3}; true quality \d+(\.\d)?% → \d+(\.\d)?%; KL to the reference -?\d+\.\d{3} nats\.$/,
      );
      assert.equal(await page.locator("#align-step").textContent(), "30 / 30");
      assert.match(await page.locator("#align-settings-used").textContent(), /^KL coefficient 1, entropy bonus 0, 3 reward model\(s\) × 64 pairs/);

      const drawn = await page.evaluate(() => document.querySelector("#rl-reward-chart")?.width ?? 0);
      assert.ok(drawn > 0, "the reward and quality are drawn");
      assert.match(await page.locator("#rl-reward-chart ~ figcaption .legend").textContent(), /proxy reward.*true quality/);
      for (const id of ["rl-kl-chart", "rl-length-chart"]) {
        assert.ok(await page.locator(`#${id}`).isVisible(), `#${id} is shown`);
      }

      assert.equal(await page.locator("#rl-reward-models tbody tr").count(), 3, "one row per reward model");
      assert.match(await page.locator("#rl-reward-models tbody tr td.rm-accuracy").first().textContent(), /^\d+(\.\d)?%$/);
      assert.match(await page.locator("#rl-ensemble-accuracy").textContent(), /ranks \d+(\.\d)?% of held-out preference pairs/);

      const before = await page.locator("#samples-before h3").textContent();
      assert.match(before, /^Before fine-tuning true quality \d+(\.\d)?%$/);
      assert.ok(Number(before.match(/(\d+(\.\d)?)%$/)[1]) > 50, `the base model mostly writes valid sentences: ${before}`);
      assert.match(await page.locator("#samples-after h3").textContent(), /^After 30 policy-gradient steps true quality \d+(\.\d)?%$/);
      for (const side of ["before", "after"]) {
        const samples = page.locator(`#samples-${side} li`);
        assert.ok((await samples.count()) > 0, `samples ${side}`);
        assert.match(await samples.first().locator(".sample-mark").textContent(), /^(✓ valid|✗ invalid)$/);
      }

      assert.match(
        await page.locator("#dpo-no-diagnosis").textContent(),
        /^Nothing to name: the run has 30 policy-gradient steps, fewer than the 40 the detector needs\.$/,
      );
      assert.equal(await page.locator("#dpo-findings .finding").count(), 0);
      assert.match(page.url(), /#\/align\/rl$/);

      await screenshots(page, "align-rl");
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  test("without the KL penalty the proxy reward climbs, the quality falls and the detector names the entry", async (t) => {
    const { page, problems } = await openAlign(shared.browser, "?steps=60&fault=no-kl-penalty#/align/rl");
    try {
      assert.ok(await page.locator('[data-fault="no-kl-penalty"]').isChecked());
      const { state, status } = await runToTheEnd(page, RUN_TIMEOUT);
      t.diagnostic(status);
      assert.equal(state, "done", status);
      assert.match(await page.locator("#align-settings-used").textContent(), /^KL coefficient 0, /, "the fault's coefficient");
      const [, first, last] = status.match(/proxy reward went from ([+-]\d\.\d{3}) to ([+-]\d\.\d{3})/);
      assert.ok(Number(last) > Number(first), status);
      const finding = page.locator('#dpo-findings .finding[data-entry="reward-increases-but-quality-decreases"]');
      await finding.waitFor();
      assert.equal(await finding.locator("h3 a").getAttribute("href"), "#/guide/reward-increases-but-quality-decreases");
      t.diagnostic(await finding.locator(".evidence li").first().textContent());
      assert.ok((await page.locator("#samples-after .invalid").count()) > 0, "hacked samples are marked invalid");
      await screenshots(page, "align-rl-hacked");
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  test("the switch keeps the method in the address and moves the defaults; a fix sets its setting and reruns", async () => {
    const { page, problems } = await openAlign(shared.browser, "?pretrain-steps=150#/align");
    try {
      assert.equal(await page.locator("#corpus").inputValue(), "sorting");
      await page.locator("#method-rl").click();
      await page.waitForFunction(() => location.hash === "#/align/rl", null, { timeout: LOAD_TIMEOUT });
      await page.locator('#align[data-method="rl"]').waitFor();
      await page.waitForFunction(() => document.querySelector("#corpus")?.value === "toy-english", null, { timeout: 5_000 });
      assert.equal(await page.locator("#pretrain-steps").inputValue(), "150", "the learner's setting stays");
      assert.equal(await page.locator("#steps").inputValue(), "200");
      assert.equal(await page.locator("#beta").count(), 0);

      await page.locator('[data-fault="no-kl-penalty"]').check();
      await page.locator('#rl-fixes button[data-fix="kl-penalty"]').click();
      await page.locator('#align[data-state="pretraining"]').waitFor({ timeout: LOAD_TIMEOUT });
      assert.equal(await page.locator("#kl-coef").inputValue(), "1");
      assert.ok(!(await page.locator('[data-fault="no-kl-penalty"]').isChecked()), "the fix turns the fault off");
      await page.locator('#rl-fixes button[data-fix="ensemble"]').click();
      assert.equal(await page.locator("#reward-models").inputValue(), "8");
      assert.match(page.url(), /[?&]reward-models=8(&|#|$)/);
      await page.locator("#align-stop").click();
      await page.locator('#align[data-state="stopped"]').waitFor({ timeout: LOAD_TIMEOUT });

      await page.locator("#method-dpo").click();
      await page.locator('#align[data-method="dpo"]').waitFor({ timeout: LOAD_TIMEOUT });
      await page.waitForFunction(() => document.querySelector("#corpus")?.value === "sorting", null, { timeout: 5_000 });
      assert.ok(await page.locator("#beta").isVisible());
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  test("the guide entry's Try it opens the lab with the fault on", async () => {
    const { page, problems } = await openPage(shared.browser, "#/guide/reward-increases-but-quality-decreases");
    try {
      await page.workerLoaded;
      await page.locator('button[data-try="no-kl-penalty"]').click();
      await page.waitForFunction(() => location.hash === "#/align/rl", null, { timeout: LOAD_TIMEOUT });
      assert.ok(await page.locator('[data-fault="no-kl-penalty"]').isChecked(), "the fault is on");
      assert.match(page.url(), /[?&]fault=no-kl-penalty(&|#|$)/);
      assert.equal(await page.locator("#corpus").inputValue(), "toy-english");
      await page.locator('#align[data-state="pretraining"]').waitFor({ timeout: LOAD_TIMEOUT });
      await page.locator("#align-stop").click();
      await page.locator('#align[data-state="stopped"]').waitFor({ timeout: LOAD_TIMEOUT });
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });
});
