// Parley's web pages and the official ChatJS, in a real browser (Debian's
// Chromium through playwright-core). The Go test TestBrowser starts the
// server and passes what it set up in PARLEY_FIXTURE.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { launch } from "./chromium.mjs";
import { signIn } from "./signin.mjs";

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const fx = JSON.parse(process.env.PARLEY_FIXTURE);
const browser = await launch(fx);

// watch collects a page's console errors and uncaught exceptions.
function watch(page, errors) {
  page.on("console", (m) => { if (m.type() === "error") errors.push(`${page.url()}: ${m.text()}`); });
  page.on("pageerror", (e) => errors.push(`${page.url()}: ${e.message}`));
  page.on("response", (r) => { if (r.status() >= 400) errors.push(`  ${r.request().method()} ${r.url()} → ${r.status()}`); });
}

const b64 = (p) => fs.readFileSync(p).toString("base64");

// screen saves a screenshot of what the page shows and runs axe-core on it
// (contexts are made with bypassCSP, so that axe can be injected); any
// violation fails the test, listed with the elements it found.
async function screen(page, name, frame = page) {
  fs.mkdirSync(fx.screenshots, { recursive: true });
  await page.screenshot({ path: path.join(fx.screenshots, name + ".png") });
  if (!(await frame.evaluate(() => typeof window.axe === "object"))) await frame.evaluate(axeSource);
  const result = await frame.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const found = result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
  assert.deepEqual(found, [], `axe-core on ${name}`);
}

// newContext makes a browser context that lets axe-core in.
const newContext = (opts = {}) => browser.newContext({ bypassCSP: true, ...opts });

test("a customer and an agent converse, with files, in the widget and the console", async () => {
  const errors = [];
  const customerCtx = await newContext({ viewport: { width: 390, height: 740 } }); // a phone-sized screen
  const agentCtx = await newContext({ viewport: { width: 1200, height: 800 }, acceptDownloads: true });
  const customer = await customerCtx.newPage();
  const agent = await agentCtx.newPage();
  watch(customer, errors);
  watch(agent, errors);

  // The customer starts a chat from the widget and writes at once, while
  // the connection is still opening (held back here so that it always is):
  // the message waits for it instead of failing for want of a token.
  let releaseConnection;
  const connectionHeld = new Promise((r) => { releaseConnection = r; });
  await customer.route("**/participant/connection", async (route) => { await connectionHeld; await route.continue(); });
  await customer.goto(fx.url + "/");
  await customer.getByLabel("Your name").fill("Ada");
  await customer.getByRole("button", { name: "Start chat" }).click();
  await customer.getByRole("textbox", { name: "Message" }).fill("Hello, my order 1234 has not arrived");
  await customer.keyboard.press("Enter");
  await customer.getByRole("status").filter({ hasText: "Connecting…" }).waitFor();
  releaseConnection();
  await customer.locator(".message.mine", { hasText: "order 1234" }).waitFor();
  await customer.unroute("**/participant/connection");

  // The agent signs in, sees the waiting chat live, accepts it.
  await signIn(agent, fx.url, fx.agentName, fx.agentKey);
  await agent.locator("#queue-total", { hasText: /^\(\d+\)$/ }).waitFor(); // how many wait, in all
  await agent.getByRole("button", { name: "Accept the chat with Ada" }).click();
  await agent.locator(".chat-panel").getByText("Hello, my order 1234 has not arrived").waitFor();
  // What the widget's page sent shows, labelled as the customer's word.
  await agent.locator(".customer-attributes dt", { hasText: "page" }).waitFor();
  await agent.getByText("Supplied by the customer (unverified)").waitFor();
  assert.equal(await agent.getByRole("definition").filter({ hasText: "page" }).count(), 0);
  // UpdateContactAttributes (signed by the Go test's helper) shows live.
  const contactId = await agent.locator(".chat-panel").first().getAttribute("data-contact");
  const updated = await fetch(`${fx.updateAttributes}?contact=${encodeURIComponent(contactId)}`, { method: "POST" });
  assert.equal(updated.status, 204);
  await agent.locator(".attributes dd", { hasText: "urgent" }).waitFor({ timeout: 10000 });

  // Typing shows on the other side; markdown renders; receipts come back.
  await agent.getByRole("textbox", { name: "Message" }).pressSequentially("Sorry to hear that, **Ada**. Let me check.");
  await customer.getByText("Grace is typing…").waitFor();
  await agent.getByRole("button", { name: "Send" }).click();
  await customer.locator(".message strong", { hasText: "Ada" }).waitFor();
  await customer.locator(".message.mine .receipt", { hasText: "Read" }).waitFor();

  // The customer drops a PNG and a PDF onto the chat.
  const dt = await customer.evaluateHandle(({ png, pdf }) => {
    const bytes = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
    const d = new DataTransfer();
    d.items.add(new File([bytes(png)], "photo.png", { type: "image/png" }));
    d.items.add(new File([bytes(pdf)], "invoice.pdf", { type: "application/pdf" }));
    return d;
  }, { png: b64(fx.files.png), pdf: b64(fx.files.pdf) });
  await customer.dispatchEvent(".chat", "dragover", { dataTransfer: dt });
  await customer.dispatchEvent(".chat", "drop", { dataTransfer: dt });

  // The agent sees the image's preview and downloads the exact PDF.
  await agent.waitForFunction(() => {
    const img = document.querySelector("img.preview");
    return img && img.complete && img.naturalWidth > 0;
  });
  const [download] = await Promise.all([
    agent.waitForEvent("download"),
    agent.getByRole("button", { name: "Download invoice.pdf" }).click(),
  ]);
  assert.equal(download.suggestedFilename(), "invoice.pdf");
  assert.ok(fs.readFileSync(await download.path()).equals(fs.readFileSync(fx.files.pdf)), "downloaded PDF differs");
  await customer.locator("img.preview").waitFor(); // the sender sees the preview too

  // A refused file and a rejected one each say why.
  await customer.locator("input[type=file]").setInputFiles(fx.files.exe);
  await customer.getByText(/setup\.exe was not sent: Files of type \.exe are not accepted/).waitFor();
  await customer.locator("input[type=file]").setInputFiles(fx.files.spoofed);
  await customer.getByText(/report\.pdf was rejected\. .*not what a \.pdf file holds/).waitFor();

  await screen(customer, "customer-widget");
  await screen(agent, "agent-console");

  // The agent ends the chat; the customer sees it.
  const beforeEnd = errors.length;
  await agent.getByRole("button", { name: "End chat" }).click();
  await customer.getByText("This chat has ended.").first().waitFor();
  await agent.getByRole("button", { name: "Close" }).waitFor();
  // A read receipt or typing event a page sent as the chat ended is refused
  // with 403, as Connect refuses it (the browser logs the failed request):
  // that race is expected; nothing else may fail.
  const afterEnd = errors.slice(beforeEnd).filter((e) => !/participant\/event → 403|status of 403/.test(e));
  assert.deepEqual([...errors.slice(0, beforeEnd), ...afterEnd], [], "console errors");
});

test("the widget embeds on another site with one script tag", async () => {
  const errors = [];
  const page = await browser.newPage();
  watch(page, errors);
  await page.goto(fx.otherOrigin + "/embed.html");
  await page.getByRole("button", { name: "Chat with us" }).click();
  const frame = page.frameLocator("iframe[title=Chat]");
  await frame.getByLabel("Your name").fill("Bo");
  await frame.getByRole("button", { name: "Start chat" }).click();
  await frame.getByRole("textbox", { name: "Message" }).waitFor();
  assert.deepEqual(errors, [], "console errors");
  await page.close();
});

test("the official amazon-connect-chatjs in a browser sends and downloads an attachment", async () => {
  const page = await browser.newPage();
  const errors = [];
  watch(page, errors);
  const d = fx.chatjsChat;
  await page.goto(`${fx.otherOrigin}/chatjs.html#${encodeURIComponent(JSON.stringify({ endpoint: fx.url, details: d }))}`);
  const result = await page.waitForFunction(() => window.__result, null, { timeout: 30000 }).then((h) => h.jsonValue());
  assert.equal(result.error, undefined, result.error);
  assert.equal(result.status, "APPROVED");
  assert.equal(result.same, true, "ChatJS downloaded other bytes than it sent");
  assert.equal(result.type, "text/csv");
  await page.close();
});
