// Runs the TensorFlow.js peer page (xtask/peers/tfjs/) once and prints its JSON result on one line
// (used by `cargo xtask bench`, which serves that folder and sets FAULTLINE_URL to it).
//
// usage: FAULTLINE_URL=http://127.0.0.1:PORT/ node tests/e2e/tfjs-peer.mjs STEPS WARMUP

import { launchBrowser, openPage } from "./lib/browser.mjs";

const PEER_TIMEOUT = 600_000;

const [steps, warmup] = process.argv.slice(2);
if (!steps || !warmup) {
  console.error("usage: node tests/e2e/tfjs-peer.mjs STEPS WARMUP");
  process.exit(2);
}
const browser = await launchBrowser();
try {
  const { page, problems } = await openPage(browser, `index.html?${new URLSearchParams({ steps, warmup })}`);
  const result = page.locator('#bench-result[data-done="1"]');
  await result.waitFor({ state: "attached", timeout: PEER_TIMEOUT });
  for (const problem of problems) {
    console.error(`tfjs peer page: ${problem}`);
  }
  console.log(await result.textContent());
} finally {
  await browser.close();
}
