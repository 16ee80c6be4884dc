// What the alignment page's tests share: opening a lab once its worker is up, and a run pressed to
// its end.

import { openPage } from "./browser.mjs";

export const LOAD_TIMEOUT = 60_000;

/** Opens `path` in `browser` and waits until the alignment page is idle and its worker loaded. */
export async function openAlign(browser, path) {
  const opened = await openPage(browser, path);
  await opened.page.locator('#align[data-state="idle"]').waitFor({ timeout: LOAD_TIMEOUT });
  await opened.page.workerLoaded;
  return opened;
}

/** Presses Start and waits (up to `timeout` ms) for the run to end; returns its state and status line. */
export async function runToTheEnd(page, timeout) {
  await page.locator("#align-start").click();
  await page.locator('#align[data-state="pretraining"]').waitFor({ timeout: LOAD_TIMEOUT });
  await page.waitForFunction(
    () => ["done", "failed", "stopped"].includes(document.querySelector("#align")?.dataset.state),
    null,
    { timeout },
  );
  return {
    state: await page.locator("#align").getAttribute("data-state"),
    status: (await page.locator("#align-status").textContent()) ?? "",
  };
}
