// The diagnose page (#/diagnose): logs another program wrote, read in the browser by the worker and
// diagnosed. A healthy Trainer state gets no diagnosis, a W&B export is diagnosed run by run, a JSONL
// log whose loss turns NaN names the guide's entry (linked) and marks the NaN on its chart, a 12 MB log
// streams in chunks while the page answers, a broken file is refused with its name and line while the
// last report stays, and "Reproduce this in Faultline" opens the trainer with the fault the symptom
// matrix found for the entry.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { openPage, screenshots, sharedBrowser } from "./lib/browser.mjs";

const LOAD_TIMEOUT = 60_000;
const READ_TIMEOUT = 30_000;
/** How long the page may take to answer a script while a large log streams. */
const PROMPT_MS = 1_500;

const shared = sharedBrowser();

/** A Trainer's trainer_state.json: 300 steps logged every 10, the loss falling, evaluated every 100. */
function healthyTrainerState() {
  const log_history = [];
  for (let step = 10; step <= 300; step += 10) {
    const loss = 2.0 + 2.2 * Math.exp(-step / 80) + 0.02 * Math.sin(step);
    log_history.push({ epoch: step / 300, grad_norm: 0.9 + 0.1 * Math.cos(step), learning_rate: 3e-4, loss, step });
    if (step % 100 === 0) {
      log_history.push({ epoch: step / 300, eval_loss: loss + 0.05, step });
    }
  }
  return JSON.stringify({ global_step: 300, log_history, max_steps: 300 }, null, 2);
}

/** JSONL of `steps` steps whose loss falls from ln 64, then (from `nanAt`) blows up and turns NaN. */
function jsonlLog(steps, nanAt = Infinity) {
  const lines = [];
  for (let step = 1; step <= steps; step += 1) {
    let loss = 4.16 - 1.5 * (1 - Math.exp(-step / 60)) + 0.01 * Math.sin(step);
    let gradNorm = 1 + 0.1 * Math.cos(step);
    if (step >= nanAt - 8 && step < nanAt) {
      loss *= 1.5 ** (step - nanAt + 9);
      gradNorm *= 10 ** (step - nanAt + 9);
    }
    const value = (v) => (step >= nanAt ? "NaN" : String(v));
    lines.push(`{"step": ${step}, "loss": ${value(loss)}, "grad_norm": ${value(gradNorm)}, "lr": 0.0003}`);
  }
  return `${lines.join("\n")}\n`;
}

/** A W&B CSV export of two runs: `calm` trains on, `broken`'s loss turns NaN at step 150. */
function wandbExport() {
  const rows = ['"Step","calm - train/loss","broken - train/loss"'];
  for (let step = 1; step <= 200; step += 1) {
    const loss = 4.0 - 1.2 * (1 - Math.exp(-step / 50)) + 0.01 * Math.cos(step);
    rows.push(`${step},${loss},${step >= 150 ? "NaN" : loss}`);
  }
  return `${rows.join("\n")}\n`;
}

async function readFile(page, name, text, mimeType = "application/json") {
  await page.locator("#log-files").setInputFiles({ name, mimeType, buffer: Buffer.from(text, "utf8") });
}

async function settled(page, state) {
  await page.locator(`#diagnose[data-state="${state}"]`).waitFor({ timeout: READ_TIMEOUT });
  return (await page.locator("#log-status").textContent()) ?? "";
}

describe("diagnose a log", { timeout: 3 * LOAD_TIMEOUT }, () => {
  test("reads logs in the browser, names the entry, refuses a broken file and reproduces the fault", async (t) => {
    const { page, problems } = await openPage(shared.browser, "#/diagnose");
    try {
      await page.locator('#diagnose[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
      assert.match(await page.locator("#log-local").textContent(), /read here, in this browser.*nothing is uploaded/);
      assert.equal(await page.locator('.nav a[aria-current="page"]').textContent(), "Diagnose");

      await readFile(page, "trainer_state.json", healthyTrainerState());
      const healthy = await settled(page, "done");
      assert.equal(healthy, "trainer_state.json: Hugging Face Trainer state (trainer_state.json), 1 run.");
      await page.locator("#no-diagnosis").waitFor();
      assert.equal(await page.locator(".log-finding").count(), 0, "a healthy log names nothing");
      assert.ok(await page.locator("#log-loss-chart").isVisible(), "its loss is charted");
      assert.match(await page.locator(".log-facts").textContent(), /the loss every 10 steps/);

      await readFile(page, "wandb_export.csv", wandbExport(), "text/csv");
      assert.equal(await settled(page, "done"), "wandb_export.csv: W&B CSV export, 2 runs.");
      assert.equal(await page.locator(".log-run-list button").count(), 2, "each run of the export has its report");
      await page.locator("#no-diagnosis").waitFor();
      await page.locator('.log-run-list button[data-run="1"]').click();
      await page.locator('.log-finding[data-entry="loss-becomes-nan"]').waitFor();
      assert.equal(await page.locator("#log-run-title").textContent(), "Run: broken");

      await readFile(page, "train.jsonl", jsonlLog(240, 200));
      t.diagnostic(await settled(page, "done"));
      const finding = page.locator('.log-finding[data-entry="loss-becomes-nan"]');
      await finding.waitFor();
      assert.equal(await finding.locator("h3 a").getAttribute("href"), "#/guide/loss-becomes-nan");
      assert.match(await finding.locator(".finding-when").textContent(), /First seen at step 200\./);
      assert.match(await page.locator(".log-vocab").textContent(), /estimated from the first loss \(step 1\)/);
      assert.ok(await page.locator("#log-loss-chart ~ figcaption .key.non-finite").count(), "the NaN is marked");
      await page.locator("#log-smoothing").fill("0.9");
      assert.equal(await page.locator(".smoothing output").textContent(), "0.90");

      await page.locator("#log-vocab").fill("64");
      await page.locator("#log-vocab").press("Tab");
      await page.waitForFunction(() => /as given/.test(document.querySelector(".log-vocab")?.textContent ?? ""), null, {
        timeout: READ_TIMEOUT,
      });

      const big = jsonlLog(140_000);
      assert.ok(big.length > 12e6, `${big.length} bytes`);
      await page.evaluate(() => {
        window.progressSeen = [];
        const watch = () => {
          const bar = document.querySelector("#log-progress");
          if (bar) {
            window.progressSeen.push([bar.value, document.querySelector("#log-status").textContent]);
          }
        };
        const everything = { subtree: true, childList: true, attributes: true, characterData: true };
        new MutationObserver(watch).observe(document.querySelector("#diagnose"), everything);
      });
      await readFile(page, "long.jsonl", big);
      const started = Date.now();
      await page.evaluate(() => 1, null, { timeout: PROMPT_MS });
      assert.ok(Date.now() - started < PROMPT_MS, "the page answers while the log streams");
      assert.equal(await settled(page, "done"), "long.jsonl: JSONL, 1 run.");
      const seen = await page.evaluate(() => window.progressSeen);
      t.diagnostic(`progress seen: ${JSON.stringify(seen.at(-1))} (${seen.length} updates)`);
      const sending = /^Reading long\.jsonl: [\d.]+ MB of 12\.\d MB$/;
      assert.ok(seen.some(([share, text]) => share > 0 && share < 1 && sending.test(text)), "progress is shown");
      const drawn = await page.evaluate(() => document.querySelector("#log-loss-chart")?.width ?? 0);
      assert.ok(drawn > 0, "the long log is drawn");

      await readFile(page, "train.jsonl", jsonlLog(240, 200));
      await settled(page, "done");
      await finding.waitFor();
      const bad = '{"step": 1, "loss": 4.0}\n{"step": 5, "loss": 3.9}\n{"step": 2, "loss": 3.8}\n';
      await readFile(page, "bad.jsonl", bad);
      const refused = await settled(page, "failed");
      assert.match(refused, /^bad\.jsonl:3: /);
      assert.ok(await finding.isVisible(), "the last report stays while the broken file is refused");
      const note = await page.locator(".log-status .note").textContent();
      assert.match(note, /Still showing the last log read: train\.jsonl/);
      await readFile(page, "notes.txt", "just some notes\nnothing logged here\n", "text/plain");
      assert.match(await settled(page, "failed"), /^notes\.txt: cannot tell which format/);

      await screenshots(page, "diagnose");

      const reproduce = finding.locator("button.primary[data-reproduce]");
      const fault = await reproduce.getAttribute("data-reproduce");
      t.diagnostic(`reproducing with ${fault}`);
      await reproduce.click();
      await page.waitForFunction(() => location.hash === "#/", null, { timeout: READ_TIMEOUT });
      await page.locator(`[data-fault="${fault}"]`).waitFor({ state: "attached", timeout: READ_TIMEOUT });
      assert.ok(await page.locator(`[data-fault="${fault}"]`).isChecked(), `${fault} is on in the trainer`);
      await page.waitForFunction(
        () => ["starting", "running", "stopped", "finished"].includes(document.querySelector("#status")?.dataset.state),
        null,
        { timeout: READ_TIMEOUT },
      );
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });
});
