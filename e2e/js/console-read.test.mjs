// The console's read receipts in Chromium: a message that comes into a
// chat whose tab is not shown is unread (the tab counts it), so the
// customer must not be told it was read until the agent opens that tab.
// TestBrowserConsoleReadReceipts passes PARLEY_FIXTURE.
import { test } from "node:test";
import assert from "node:assert/strict";
import { launch } from "./chromium.mjs";
import { signIn } from "./signin.mjs";

const fx = JSON.parse(process.env.PARLEY_FIXTURE);
const browser = await launch(fx);

const participant = async (token, path, body) => {
  const resp = await fetch(fx.url + path, { method: "POST", headers: { "Content-Type": "application/json", "X-Amz-Bearer": token },
    body: JSON.stringify(body) });
  assert.ok(resp.ok, `${path}: ${resp.status}`);
  return resp.json();
};
const readBy = async (token, id) => {
  const { Transcript } = await participant(token, "/participant/transcript", { MaxResults: 100, ScanDirection: "BACKWARD", SortOrder: "ASCENDING" });
  const m = Transcript.find((i) => i.Id === id);
  return (m?.MessageMetadata?.Receipts || []).some((r) => r.ReadTimestamp);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test("a message in a chat tab not shown is not marked read until the agent opens it", async () => {
  const page = await (await browser.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
  await signIn(page, fx.url, "Grace", fx.graceKey);
  await page.getByRole("button", { name: "Accept the chat with Ada" }).click();
  await page.locator(`.chat-panel[data-contact="${fx.ada.contactId}"]`).waitFor();
  await page.getByRole("button", { name: "Accept the chat with Bob" }).click();
  await page.locator(`.chat-panel[data-contact="${fx.bob.contactId}"]`).waitFor();
  const adaTab = page.locator(`[role=tab][data-contact="${fx.ada.contactId}"]`);
  assert.equal(await adaTab.getAttribute("aria-selected"), "false", "Bob's chat is the one shown");

  const { Id } = await participant(fx.ada.token, "/participant/message",
    { ContentType: "text/plain", Content: "Are you there?", ClientToken: crypto.randomUUID() });
  await page.locator(`[role=tab].unread[data-contact="${fx.ada.contactId}"]`).waitFor();
  await sleep(1000); // time for a receipt to be sent, if one were
  assert.equal(await readBy(fx.ada.token, Id), false, "read while its tab was not shown");

  await adaTab.click();
  let read = false;
  for (let i = 0; i < 50 && !read; i++) { await sleep(100); read = await readBy(fx.ada.token, Id); }
  assert.ok(read, "read once the agent opened the chat");
});
