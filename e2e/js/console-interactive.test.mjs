// A bot's interactive message in the console, in Chromium: the agent sees
// the question and its choices, but the choices are the customer's to
// make; the agent cannot answer for them. TestBrowserConsoleInteractiveReadOnly
// passes PARLEY_FIXTURE.
import { test } from "node:test";
import assert from "node:assert/strict";
import { launch } from "./chromium.mjs";
import { signIn } from "./signin.mjs";

const fx = JSON.parse(process.env.PARLEY_FIXTURE);
const browser = await launch(fx);

test("the agent cannot answer a bot's question for the customer", async () => {
  const page = await (await browser.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
  await signIn(page, fx.url, "Grace", fx.graceKey);
  // The bot asks first, as a flow's bot does before an agent takes over.
  const sent = await fetch(`${fx.bot}?contact=${encodeURIComponent(fx.ada.contactId)}`, { method: "POST" });
  assert.equal(sent.status, 204, await sent.text());
  await page.getByRole("button", { name: "Accept the chat with Ada" }).click();
  await page.locator(`.chat-panel[data-contact="${fx.ada.contactId}"]`).waitFor();
  const picker = page.getByRole("group", { name: "Which fruit?" });
  await picker.waitFor();
  const buttons = picker.getByRole("button");
  assert.equal(await buttons.count(), 3);
  for (let i = 0; i < 3; i++) assert.ok(await buttons.nth(i).isDisabled(), "a choice the agent could make for the customer");
});
