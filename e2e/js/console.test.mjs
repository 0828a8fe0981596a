// The console's supervisor and transfer controls in Chromium: Grace holds a
// chat, Sam monitors it by its contact id, barges in and speaks; Grace
// transfers it back to the queue. TestBrowserConsoleControls passes
// PARLEY_FIXTURE.
import { test } from "node:test";
import assert from "node:assert/strict";
import { screen } from "./screen.mjs";
import { launch } from "./chromium.mjs";
import { signIn as consoleSignIn } from "./signin.mjs";

const fx = JSON.parse(process.env.PARLEY_FIXTURE);
const browser = await launch(fx);

async function signIn(name, key) {
  const page = await (await browser.newContext({ viewport: { width: 1200, height: 800 }, bypassCSP: true })).newPage();
  await consoleSignIn(page, fx.url, name, key);
  await page.getByRole("form", { name: "Monitor a chat" }).waitFor();
  return page;
}

test("a supervisor monitors and barges; an agent transfers to the queue", async () => {
  const grace = await signIn("Grace", fx.graceKey);
  await grace.getByRole("button", { name: "Accept the chat with Ada" }).click();
  await grace.getByText("Where is my parcel?").waitFor();

  const sam = await signIn("Sam", fx.samKey);
  await sam.getByLabel("Contact id to monitor").fill(fx.contactId);
  await sam.getByRole("button", { name: "Monitor", exact: true }).click();
  await sam.getByText("Where is my parcel?").waitFor();
  await screen(sam, "console-supervisor-monitoring");
  // A silent monitor cannot write (the service refuses it): the composer
  // says so by being off, rather than failing each message as "ended".
  assert.ok(await sam.getByRole("textbox", { name: "Message" }).isDisabled(), "a silent monitor's message box is off");
  await sam.getByRole("button", { name: "Barge in" }).click();
  await sam.getByRole("button", { name: "Barge in" }).waitFor({ state: "hidden" });
  assert.ok(await sam.getByRole("textbox", { name: "Message" }).isEnabled(), "after barging in, the supervisor writes");
  const errors = [];
  sam.on("console", (m) => errors.push(m.text()));
  await sam.getByRole("textbox", { name: "Message" }).fill("Supervisor here");
  await sam.getByRole("button", { name: "Send" }).click();
  await sam.locator(".message.mine", { hasText: "Supervisor here" }).waitFor().catch((e) => { throw new Error(errors.join("\n") + e.message); });
  await grace.getByText("Supervisor here").waitFor();

  await screen(grace, "console-transfer");
  await grace.getByRole("combobox", { name: "Transfer to" }).selectOption({ label: "the queue" });
  await grace.getByRole("button", { name: "Transfer" }).click();
  await sam.getByText("The chat was transferred.").waitFor();
  await sam.getByRole("button", { name: "Accept the chat with Ada" }).waitFor({ timeout: 10000 });
  const waiting = await (await fetch(`${fx.url}/agent/v1/queue`, { headers: { Authorization: "Bearer " + fx.samKey } })).json();
  assert.equal(waiting.Waiting[0].ContactId, fx.contactId);
});
