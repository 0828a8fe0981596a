// launch starts the Chromium the Go test names in PARLEY_FIXTURE
// (Debian's), headless and with nothing of its own reaching the network,
// and closes it when the test file ends.
import { after } from "node:test";
import { chromium } from "playwright-core";

export async function launch(fx) {
  const browser = await chromium.launch({
    executablePath: fx.chromium,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
  after(() => browser.close());
  return browser;
}
