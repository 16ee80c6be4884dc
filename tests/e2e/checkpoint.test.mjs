// Checkpoints: train a few steps, pause, save the run as a file, reset and change the form, load the
// file, and see the status line say where the run continues, the form show the checkpoint's settings
// and training go on from that step. A file that is not a checkpoint is refused with the reason, and
// the run in progress and the form stay as they were.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";
import { openPage, screenshots, sharedBrowser, typeInto } from "./lib/browser.mjs";

const LOAD_TIMEOUT = 60_000;
const RUN_TIMEOUT = 60_000;

const shared = sharedBrowser();

async function stepCount(page) {
  return Number((await page.locator("#step-count").textContent())?.trim());
}

async function statusLine(page, pattern) {
  await page.waitForFunction(
    (source) => new RegExp(source).test(document.querySelector("#checkpoint-status")?.textContent ?? ""),
    pattern.source,
    { timeout: RUN_TIMEOUT },
  );
  return (await page.locator("#checkpoint-status").textContent()) ?? "";
}

describe("checkpoints", { timeout: 4 * LOAD_TIMEOUT }, () => {
  test("a saved run loads and continues; a bad file changes nothing", async (t) => {
    const { page, problems } = await openPage(shared.browser);
    try {
      await page.locator('#status[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
      assert.ok(await page.locator("#save-checkpoint").isDisabled(), "there is nothing to save yet");
      assert.equal(await page.locator("#checkpoint-status").getAttribute("role"), "status");
      await typeInto(page, "#steps", "200");
      await page.locator("#start").click();
      await page.waitForFunction(() => Number(document.querySelector("#step-count")?.textContent) >= 5, null, {
        timeout: RUN_TIMEOUT,
      });
      await page.locator("#pause").click();
      await page.locator('#status[data-state="paused"]').waitFor({ timeout: RUN_TIMEOUT });
      const saved = await stepCount(page);

      const [download] = await Promise.all([
        page.waitForEvent("download", { timeout: RUN_TIMEOUT }),
        page.locator("#save-checkpoint").click(),
      ]);
      assert.equal(download.suggestedFilename(), `faultline-toy-english-step${saved}.flckpt`);
      const bytes = await readFile(await download.path());
      assert.equal(bytes.subarray(0, 6).toString("latin1"), "FLCKPT");
      assert.match(await statusLine(page, /^Saved /), new RegExp(`Saved faultline-toy-english-step${saved}\\.flckpt`));

      await page.locator("#reset").click();
      await page.locator('#status[data-state="idle"]').waitFor({ timeout: 5_000 });
      await typeInto(page, "#steps", "50");
      await page.locator("#load-checkpoint").setInputFiles({
        name: "my-run.flckpt",
        mimeType: "application/octet-stream",
        buffer: bytes,
      });
      const resumed = await statusLine(page, /^Resumed from step/);
      t.diagnostic(resumed);
      assert.ok(resumed.startsWith(`Resumed from step ${saved} of 200 (my-run.flckpt)`), resumed);
      await page.locator('#status[data-state="paused"]').waitFor({ timeout: 5_000 });
      assert.equal(await stepCount(page), saved, "the run continues from the saved step");
      assert.equal(await page.locator("#steps").inputValue(), "200", "the form shows the checkpoint's settings");

      await page.locator("#resume").click();
      await page.waitForFunction((n) => Number(document.querySelector("#step-count")?.textContent) > n, saved, {
        timeout: RUN_TIMEOUT,
      });
      await page.locator("#pause").click();
      await page.locator('#status[data-state="paused"]').waitFor({ timeout: RUN_TIMEOUT });
      const continued = await stepCount(page);
      assert.ok(continued > saved, `training went on from step ${saved} to ${continued}`);

      await page.locator("#load-checkpoint").setInputFiles({
        name: "notes.flckpt",
        mimeType: "application/octet-stream",
        buffer: Buffer.from("just some notes, not a checkpoint\n", "utf8"),
      });
      const refused = await statusLine(page, /was not loaded/);
      assert.equal(
        refused,
        "notes.flckpt was not loaded: not a Faultline checkpoint (the file does not start with FLCKPT). " +
          "Your run and settings are unchanged.",
      );
      assert.equal(await page.locator("#status").getAttribute("data-state"), "paused", "the run is still there");
      assert.equal(await stepCount(page), continued);
      assert.equal(await page.locator("#steps").inputValue(), "200");
      await page.locator("#step").click();
      await page.waitForFunction((n) => Number(document.querySelector("#step-count")?.textContent) === n + 1, continued, {
        timeout: RUN_TIMEOUT,
      });

      await screenshots(page, "checkpoint");
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });
});
