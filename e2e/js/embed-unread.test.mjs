// The embedded widget's unread badge across a reload of the page that
// embeds it, in Chromium: what the transcript brings back is the history,
// not news; only what comes while the frame is closed counts.
// TestBrowserEmbedUnreadAfterReload passes PARLEY_FIXTURE.
import { test } from "node:test";
import assert from "node:assert/strict";
import { launch } from "./chromium.mjs";

const fx = JSON.parse(process.env.PARLEY_FIXTURE);
const browser = await launch(fx);

const post = async (path, headers, body) => {
  const resp = await fetch(fx.url + path, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify(body || {}) });
  assert.ok(resp.ok, `${path}: ${resp.status}`);
  return resp.json();
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test("a reload does not count the history as unread", async () => {
  const page = await (await browser.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
  await page.goto(fx.otherOrigin + "/embed.html");
  await page.getByRole("button", { name: "Chat with us" }).click();
  const frame = page.frameLocator("iframe[title=Chat]");
  await frame.getByLabel("Your name").fill("Cy");
  await frame.getByRole("button", { name: "Start chat" }).click();
  await frame.getByRole("textbox", { name: "Message" }).waitFor();

  // An agent answers, through the console's API and the participant API.
  const agent = { Authorization: "Bearer " + fx.agentKey };
  const queue = await (await fetch(fx.url + "/agent/v1/queue", { headers: agent })).json();
  const accepted = await post(`/agent/v1/chats/${queue.Waiting[0].ContactId}/accept`, agent);
  const conn = await post("/participant/connection", { "X-Amz-Bearer": accepted.ParticipantToken }, { Type: ["CONNECTION_CREDENTIALS"], ConnectParticipant: true });
  const say = (text) => post("/participant/message", { "X-Amz-Bearer": conn.ConnectionCredentials.ConnectionToken },
    { ContentType: "text/plain", Content: text, ClientToken: crypto.randomUUID() });
  await say("Hello Cy");
  await say("How can I help?");
  await frame.getByText("How can I help?").waitFor();

  await frame.getByRole("button", { name: "Minimise the chat" }).click();
  await page.reload();
  await page.frameLocator("iframe[title=Chat]").getByText("How can I help?").waitFor({ state: "attached" });
  await sleep(500);
  assert.deepEqual(await page.locator("button", { hasText: "Chat with us" }).allInnerTexts(), ["Chat with us"], "no unread after the reload");

  await say("Are you there?");
  await page.getByRole("button", { name: "Chat with us 1 unread" }).waitFor();
});
