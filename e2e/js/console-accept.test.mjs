// Accepting in the console, in Chromium: a double click on Accept (or a
// second click before the answer) accepts once, opens one tab, and says
// nothing went wrong. TestBrowserConsoleAcceptOnce passes PARLEY_FIXTURE.
import { test } from "node:test";
import assert from "node:assert/strict";
import { launch } from "./chromium.mjs";
import { signIn } from "./signin.mjs";

const fx = JSON.parse(process.env.PARLEY_FIXTURE);
const browser = await launch(fx);

test("a double click on Accept accepts once, without an error", async () => {
  const page = await (await browser.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
  await signIn(page, fx.url, "Grace", fx.graceKey);
  await page.getByRole("button", { name: "Accept the chat with Ada" }).dblclick();
  await page.locator(`.chat-panel[data-contact="${fx.ada.contactId}"]`).waitFor();
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(await page.locator("#chats [role=alert]").allInnerTexts(), [], "errors shown");
  assert.equal(await page.locator(`[role=tab][data-contact="${fx.ada.contactId}"]`).count(), 1);
});
