// The console's chat tabs from the keyboard in Chromium: closing the chat
// shown must leave a chat shown and a tab the keyboard can reach, with
// focus on it rather than lost. TestBrowserConsoleTabs passes PARLEY_FIXTURE.
import { test } from "node:test";
import assert from "node:assert/strict";
import { launch } from "./chromium.mjs";
import { signIn } from "./signin.mjs";

const fx = JSON.parse(process.env.PARLEY_FIXTURE);
const browser = await launch(fx);

test("closing the chat shown selects another and keeps it reachable", async () => {
  const page = await (await browser.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
  await signIn(page, fx.url, "Grace", fx.graceKey);
  await page.getByRole("button", { name: "Accept the chat with Ada" }).click();
  await page.locator(`.chat-panel[data-contact="${fx.ada.contactId}"]`).waitFor();
  await page.getByRole("button", { name: "Accept the chat with Bob" }).click();
  const bob = page.locator(`.chat-panel[data-contact="${fx.bob.contactId}"]`);
  await bob.waitFor();
  await bob.getByRole("button", { name: "End chat" }).click();
  // The button pressed goes away with the chat: focus goes to "Close".
  await bob.getByRole("button", { name: "Close" }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Close", "focus after ending the chat");
  await bob.getByRole("button", { name: "Close" }).click();
  await bob.waitFor({ state: "detached" });

  const state = await page.evaluate(() => ({
    tabs: [...document.querySelectorAll("#mine [role=tab]")].map((t) => ({ contact: t.dataset.contact, selected: t.getAttribute("aria-selected"), tabIndex: t.tabIndex })),
    shown: [...document.querySelectorAll(".chat-panel")].filter((p) => !p.hidden).map((p) => p.dataset.contact),
    focus: document.activeElement?.dataset?.contact || document.activeElement?.tagName,
  }));
  assert.deepEqual(state, { tabs: [{ contact: fx.ada.contactId, selected: "true", tabIndex: 0 }], shown: [fx.ada.contactId], focus: fx.ada.contactId });
});
