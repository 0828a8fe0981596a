// The chat view the widget and the console share (internal/webui/static/
// chatview.js), in Chromium, fed items directly through a stand-in
// connection. TestBrowserChatView passes PARLEY_FIXTURE.
import { test } from "node:test";
import assert from "node:assert/strict";
import { launch } from "./chromium.mjs";

const fx = JSON.parse(process.env.PARLEY_FIXTURE);
const browser = await launch(fx);

// view opens a page of Parley's origin with a ChatView on a stand-in
// connection, as window.view; "me" is this participant.
async function view() {
  const page = await (await browser.newContext()).newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(fx.url + "/agent");
  await page.evaluate(async () => {
    const { ChatView } = await import("/static/chatview.js");
    const conn = { ended: false, typing() {}, sendRead: async () => {}, sendMessage: async () => {},
      attachment: async () => ({ Url: location.origin + "/nothing", AttachmentSizeInBytes: 2048 }) };
    const root = document.createElement("div");
    document.body.append(root);
    window.view = new ChatView(root, conn, { me: "me" });
  });
  return { page, errors };
}

const at = new Date().toISOString();

test("a receipt on a file of mine, read again from the transcript, shows and breaks nothing", async () => {
  const { page, errors } = await view();
  const result = await page.evaluate(async (at) => {
    const file = { Id: "f-item", Type: "ATTACHMENT", ParticipantId: "me", ParticipantRole: "CUSTOMER", AbsoluteTime: at,
      Attachments: [{ AttachmentId: "f1", AttachmentName: "invoice.pdf", ContentType: "application/pdf", Status: "APPROVED" }] };
    view.add(file);
    await new Promise((r) => setTimeout(r, 50));
    try {
      // The same item, as a catch-up that reads the whole transcript
      // brings it: with the agent's receipt.
      view.add({ ...file, MessageMetadata: { MessageId: "f-item",
        Receipts: [{ RecipientParticipantId: "agent", DeliveredTimestamp: at, ReadTimestamp: at }] } });
      return { ok: true, receipt: document.querySelector('[data-attachment="f1"] .receipt')?.textContent };
    } catch (e) {
      return { ok: false, error: e.message };
    }
  }, at);
  assert.deepEqual(result, { ok: true, receipt: "Read" });
  assert.deepEqual(errors, []);
});

test("a read receipt pushed for a file of mine shows on its card", async () => {
  const { page } = await view();
  const receipt = await page.evaluate(async (at) => {
    view.add({ Id: "f-item", Type: "ATTACHMENT", ParticipantId: "me", ParticipantRole: "CUSTOMER", AbsoluteTime: at,
      Attachments: [{ AttachmentId: "f1", AttachmentName: "invoice.pdf", ContentType: "application/pdf", Status: "APPROVED" }] });
    await new Promise((r) => setTimeout(r, 50));
    view.add({ Id: "r1", Type: "MESSAGEMETADATA", ContentType: "", AbsoluteTime: at,
      MessageMetadata: { MessageId: "f-item", Receipts: [{ RecipientParticipantId: "agent", ReadTimestamp: at }] } });
    return document.querySelector('[data-attachment="f1"] .receipt')?.textContent;
  }, at);
  assert.equal(receipt, "Read");
});

test("sending a message does not hide that the other side is typing", async () => {
  const { page } = await view();
  const typing = await page.evaluate((at) => {
    view.add({ Id: "t1", Type: "EVENT", ContentType: "application/vnd.amazonaws.connect.event.typing",
      ParticipantId: "agent", DisplayName: "Grace", ParticipantRole: "AGENT", AbsoluteTime: at });
    view.add({ Id: "m1", Type: "MESSAGE", ContentType: "text/plain", Content: "Hello?", ParticipantId: "me",
      ParticipantRole: "CUSTOMER", AbsoluteTime: at });
    return view.typingLine.textContent;
  }, at);
  assert.equal(typing, "Grace is typing…");
});

test("Retry on a message not sent leaves focus in the composer", async () => {
  const { page } = await view();
  await page.evaluate(() => {
    let fail = true;
    view.conn.sendMessage = async () => { if (fail) { fail = false; throw Object.assign(new Error("x"), { status: 503 }); } };
  });
  await page.getByRole("textbox", { name: "Message" }).fill("Hello");
  await page.keyboard.press("Enter");
  await page.getByRole("button", { name: "Retry" }).click();
  await page.getByRole("button", { name: "Retry" }).waitFor({ state: "detached" });
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("aria-label")), "Message");
});
