// The widget at the end of a chat, in Chromium: the "End chat" button the
// customer pressed goes away, and focus moves to what comes next (the
// rating), not to the page's body. TestBrowserWidgetEndFocus passes
// PARLEY_FIXTURE.
import { test } from "node:test";
import assert from "node:assert/strict";
import { launch } from "./chromium.mjs";

const fx = JSON.parse(process.env.PARLEY_FIXTURE);
const browser = await launch(fx);

test("ending the chat moves focus to the rating", async () => {
  const page = await (await browser.newContext({ viewport: { width: 390, height: 740 } })).newPage();
  await page.goto(fx.url + "/");
  await page.getByLabel("Your name").fill("Ada");
  await page.getByRole("button", { name: "Start chat" }).click();
  await page.getByRole("textbox", { name: "Message" }).waitFor();
  await page.getByRole("button", { name: "End chat" }).focus();
  await page.keyboard.press("Enter");
  await page.getByRole("form", { name: "Rate this chat" }).waitFor();
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(await page.evaluate(() => !!document.activeElement?.closest(".aftercare")),
    `focus is on ${await page.evaluate(() => document.activeElement?.tagName)}`);
});
