// Training on the learner's own text: choose "your own text", paste into #own-text, see its size
// against the 2 MB limit, train a short run on it, and have the file input refuse a file that is too
// large or not UTF-8 with an inline message while the pasted text stays, read a good file, and keep the
// text through a fault's "show me" and a reload (the browser keeps it); a short text gets a warning at
// the field. The text never enters the link.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { openPage, reloadWithWorker, screenshots, sharedBrowser, typeInto } from "./lib/browser.mjs";

const LOAD_TIMEOUT = 60_000;
const RUN_TIMEOUT = 60_000;
const MAX_TEXT_BYTES = 2_000_000;

const shared = sharedBrowser();

/** About 12 KB of varied lines (the engine asks for at least ~10,000 characters at context 64). */
function pastedText() {
  const subjects = ["the heron", "a lighthouse keeper", "my neighbour", "the old ferry", "a quiet fox"];
  const verbs = ["watches", "remembers", "counts", "follows", "mends"];
  const objects = ["the tide", "seven lanterns", "the northern road", "a borrowed coat", "the morning bell"];
  const lines = [];
  for (let i = 0; lines.join("\n").length < 12_000; i += 1) {
    const pick = (list, k) => list[(i * k + Math.floor(i / list.length)) % list.length];
    lines.push(`${pick(subjects, 1)} ${pick(verbs, 3)} ${pick(objects, 2)} before the rain, line ${i}.`);
  }
  return `${lines.join("\n")}\n`;
}

async function ownTextError(page) {
  const error = page.locator('[data-error-for="own-text"]');
  await error.waitFor({ timeout: 5_000 });
  return (await error.textContent()) ?? "";
}

describe("own text", { timeout: 6 * LOAD_TIMEOUT }, () => {
  test("pasted text trains, stays out of the link, and survives refused files", async (t) => {
    const { page, problems } = await openPage(shared.browser);
    try {
      await page.locator('#status[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
      assert.equal(await page.locator("#own-text").count(), 0, "no text box until own text is chosen");
      await page.locator("#corpus").selectOption("own-text");
      await page.locator("#own-text").waitFor({ timeout: 5_000 });
      assert.match(await ownTextError(page), /paste some text/, "an empty text is named");
      await page.locator("#start").click();
      await page.waitForTimeout(300);
      assert.equal(await page.locator("#status").getAttribute("data-state"), "idle", "Start does nothing");

      const text = pastedText();
      await page.locator("#own-text").fill(text);
      await page.locator('[data-error-for="own-text"]').waitFor({ state: "detached", timeout: 5_000 });
      const size = (await page.locator("#own-text-size").textContent()) ?? "";
      assert.equal(size, `${text.length} characters, ${(text.length / 1000).toFixed(1)} KB of at most 2 MB`);

      assert.ok(await page.locator("#link-own-text-note").isVisible(), "the page says the text is not in links");
      await typeInto(page, "#steps", "30");
      const link = new URL(page.url());
      assert.equal(link.searchParams.get("steps"), "30", "the rest of the form is in the link");
      assert.equal(link.searchParams.get("corpus"), null, "no corpus in the link");
      assert.ok(!page.url().includes("heron"), "none of the text is in the link");

      const vocab = new Set(text).size;
      await page.waitForFunction(
        (v) => document.querySelector("#memory-estimate")?.textContent?.includes(`Vocabulary ${v};`),
        vocab,
        { timeout: LOAD_TIMEOUT },
      );

      await page.locator("#start").click();
      await page.locator('#status[data-state="finished"]').waitFor({ timeout: RUN_TIMEOUT });
      assert.equal((await page.locator("#step-count").textContent())?.trim(), "30");
      const message = (await page.locator("#run-message").textContent()) ?? "";
      t.diagnostic(message);
      assert.ok(
        message.includes(`'pasted text' (${text.length} characters, vocabulary ${vocab})`),
        `the run names the text and its vocabulary: ${message}`,
      );
      assert.ok(Number.isFinite(Number((await page.locator("#train-loss").textContent())?.trim())));

      await page.locator("#own-text-file").setInputFiles({
        name: "too-big.txt",
        mimeType: "text/plain",
        buffer: Buffer.alloc(MAX_TEXT_BYTES + 1, "a"),
      });
      const tooBig = await ownTextError(page);
      assert.match(tooBig, /'too-big\.txt' is 2 MB \(2000001 bytes\) but a corpus can be at most 2 MB/);
      assert.equal(await page.locator("#own-text").inputValue(), text, "the pasted text is kept");
      assert.equal(await page.locator("#own-text").getAttribute("aria-invalid"), "false", "and is still usable");
      await screenshots(page, "own-text");

      await page.locator("#own-text-file").setInputFiles({
        name: "picture.png",
        mimeType: "image/png",
        buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0xfe, 0x00]),
      });
      await page.waitForFunction(
        () => /'picture\.png' is not UTF-8 text/.test(document.querySelector('[data-error-for="own-text"]')?.textContent ?? ""),
        null,
        { timeout: 5_000 },
      );
      assert.equal(await page.locator("#own-text").inputValue(), text, "the pasted text is still kept");

      const notes = `${text}notes from a file, ünïcödé included.\n`;
      await page.locator("#own-text-file").setInputFiles({
        name: "notes.txt",
        mimeType: "text/plain",
        buffer: Buffer.from(notes, "utf8"),
      });
      await page.waitForFunction(
        (expected) => document.querySelector("#own-text")?.value === expected,
        notes,
        { timeout: 5_000 },
      );
      assert.match((await page.locator('label[for="own-text"]').textContent()) ?? "", /notes\.txt/);
      assert.equal(await page.locator('[data-error-for="own-text"]').count(), 0, "a good file clears the message");

      // A fault's "show me" sets its own scenario up (a built-in corpus) but keeps the text for later.
      await page.locator('[data-show-me="no-causal-mask"]').evaluate((button) => button.click());
      await page.locator("#own-text").waitFor({ state: "detached", timeout: 5_000 });
      assert.notEqual(await page.locator("#corpus").inputValue(), "own-text");
      await page.locator("#corpus").selectOption("own-text");
      assert.equal(await page.locator("#own-text").inputValue(), notes, "the text is still there");

      // The browser keeps the text for the next visit; a short text is warned about at the field.
      await reloadWithWorker(page);
      await page.locator('#status[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
      await page.locator("#corpus").selectOption("own-text");
      assert.equal(await page.locator("#own-text").inputValue(), notes, "the text survives a reload");
      assert.match((await page.locator('label[for="own-text"]').textContent()) ?? "", /notes\.txt/);
      assert.equal(await page.locator("#own-text-warning").count(), 0, "12 KB is not short");
      await page.locator("#own-text").fill(text.slice(0, 3_000));
      const warning = page.locator("#own-text-warning");
      await warning.waitFor({ timeout: 5_000 });
      assert.match((await warning.textContent()) ?? "", /^3000 characters is little to learn from/);
      assert.equal(await page.locator("#own-text").getAttribute("aria-invalid"), "false", "a warning, not an error");
      await screenshots(page, "own-text-short");
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });
});
