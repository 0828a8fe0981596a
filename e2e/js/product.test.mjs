// The widget and the console as products (issue 15), and Amazon's sample
// widgets as drop-ins, in Debian's Chromium through playwright-core. The Go
// test TestBrowserProduct starts the server (with branding set) and passes
// what it set up in PARLEY_FIXTURE. Every screen gets a screenshot in
// e2e/js/screenshots/ and an axe-core run that must find no violations.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { launch } from "./chromium.mjs";
import { signIn as consoleSignIn } from "./signin.mjs";

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const fx = JSON.parse(process.env.PARLEY_FIXTURE);
const browser = await launch(fx);

const newContext = (opts = {}) => browser.newContext({ bypassCSP: true, ...opts });
const phone = { viewport: { width: 390, height: 740 }, isMobile: true, hasTouch: true };
const desk = { viewport: { width: 1200, height: 800 }, acceptDownloads: true };

// watch collects a page's console errors, uncaught exceptions and failed
// requests: none may happen, after the end of a chat either.
function watch(page, errors) {
  page.on("console", (m) => { if (m.type() === "error") errors.push(`${page.url()}: ${m.text()}`); });
  page.on("pageerror", (e) => errors.push(`${page.url()}: ${e.message}`));
  page.on("response", (r) => { if (r.status() >= 400) errors.push(`  ${r.request().method()} ${r.url()} → ${r.status()}`); });
}

// screen saves a screenshot and runs axe-core on the page (or a frame of it).
async function screen(page, name, frame = page) {
  fs.mkdirSync(fx.screenshots, { recursive: true });
  await page.screenshot({ path: path.join(fx.screenshots, name + ".png") });
  if (!(await frame.evaluate(() => typeof window.axe === "object"))) await frame.evaluate(axeSource);
  const result = await frame.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const found = result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
  assert.deepEqual(found, [], `axe-core on ${name}`);
}

async function signIn(page) {
  await consoleSignIn(page, fx.url, fx.agentName, fx.agentKey);
  await page.locator("#desk").waitFor();
}

async function startWidgetChat(page, name) {
  await page.goto(fx.url + "/");
  await page.getByLabel("Your name").fill(name);
  await page.evaluate(() => { window.__t0 = performance.now(); });
  await page.getByRole("button", { name: "Start chat" }).click();
  await page.locator(".chat[data-state=connected]").waitFor();
}

const timings = {};
after(() => {
  // Budgets recorded, not asserted: this machine is shared.
  console.log(`TIMINGS ${JSON.stringify(timings)}`);
  fs.mkdirSync(fx.screenshots, { recursive: true });
  fs.writeFileSync(path.join(fx.screenshots, "timings.json"), JSON.stringify(timings, null, 2) + "\n");
});

test("customer and agent: waiting, branding, receipts after reload, kept chats, files and transcripts after the end, rating", async () => {
  const errors = [];
  const customerCtx = await newContext({ ...phone, acceptDownloads: true });
  const agentCtx = await newContext(desk);
  const customer = await customerCtx.newPage();
  const agent = await agentCtx.newPage();
  watch(customer, errors);
  watch(agent, errors);

  // Branding from the environment: title, welcome text, logo, colour.
  await customer.goto(fx.url + "/");
  await customer.getByRole("heading", { name: "Acme help" }).waitFor();
  await customer.getByText("Hi! Tell us your name").waitFor();
  assert.equal(await customer.locator("#logo").isVisible(), true);
  assert.equal(await customer.evaluate(() => getComputedStyle(document.querySelector("button[type=submit]")).backgroundColor), "rgb(10, 92, 54)");
  await screen(customer, "widget-start");

  // Plain words, never a server's message: the start fails on a bad name.
  await customer.getByLabel("Your name").fill("   ");
  await customer.getByRole("button", { name: "Start chat" }).click();
  await customer.getByText("Please check your name and try again.").waitFor();
  errors.length = 0; // that 400 was the point

  // While waiting: the place in line.
  await startWidgetChat(customer, "Ada");
  timings.widgetStartToConnectedMs = Math.round(await customer.evaluate(() =>
    performance.getEntriesByName("parley:connected")[0].startTime - performance.getEntriesByName("parley:start")[0].startTime));
  await customer.getByText(/Connecting you to an agent… You are number \d+ in line\./).waitFor();
  await customer.getByRole("textbox", { name: "Message" }).fill("Hello, see https://example.com/order/1234 please");
  await customer.keyboard.press("Enter");
  await customer.locator(".message.mine a[href='https://example.com/order/1234']").waitFor();
  await customer.locator(".message.mine time").waitFor(); // timestamps
  await screen(customer, "widget-waiting");

  // The console: the queue pushed, with the first message previewed and
  // the count in the tab's title.
  await signIn(agent);
  await agent.locator(".waiting .preview-text", { hasText: "Hello, see https://example.com/order/1234" }).waitFor();
  await agent.waitForFunction(() => /\(\d+ waiting\)/.test(document.title));
  await screen(agent, "console-queue");
  await agent.getByRole("button", { name: "Accept the chat with Ada" }).click();
  await agent.locator(".message a[href='https://example.com/order/1234']").waitFor();
  // Focus moves into the accepted chat.
  assert.equal(await agent.evaluate(() => document.activeElement?.getAttribute("aria-label")), "Message");
  await customer.locator(".waiting-line").waitFor({ state: "detached" });

  // Receipts both ways; then both pages reload and still show them.
  await agent.keyboard.type("Hi Ada, looking now.");
  const sentAt = await agent.evaluate(() => Date.now());
  await agent.keyboard.press("Enter");
  await customer.getByText("Hi Ada, looking now.").waitFor();
  const shownAt = await customer.evaluate(() => Date.now());
  timings.agentMessageShownMs = shownAt - sentAt;
  await customer.locator(".message.mine .receipt", { hasText: "Read" }).waitFor();
  await agent.locator(".message.mine .receipt", { hasText: "Read" }).waitFor();
  // Own bubbles have padding (the list style no longer reaches them).
  assert.notEqual(await agent.evaluate(() => getComputedStyle(document.querySelector(".message.mine")).paddingLeft), "0px");
  await customer.reload();
  await agent.reload();
  await customer.locator(".message.mine .receipt", { hasText: "Read" }).waitFor();
  await agent.locator(".message.mine .receipt", { hasText: "Read" }).waitFor(); // a fresh tab reopens the chat, too
  await screen(customer, "widget-chat");

  // A second console tab, signed in afresh, holds the same chat.
  const tab2 = await agentCtx.newPage();
  watch(tab2, errors);
  await consoleSignIn(tab2, fx.url, fx.agentName, fx.agentKey); // the key is per tab (sessionStorage): sign in again
  await tab2.getByRole("tab", { name: /Ada/ }).waitFor();
  await tab2.getByText("Hi Ada, looking now.").waitFor();

  // A second customer: unread counts per chat, arrow keys between tabs.
  const bobCtx = await newContext(phone);
  const bob = await bobCtx.newPage();
  watch(bob, errors);
  await startWidgetChat(bob, "Bob");
  await agent.getByRole("button", { name: "Accept the chat with Bob" }).click();
  await agent.getByRole("tab", { name: /Bob/ }).and(agent.locator("[aria-selected=true]")).waitFor();
  await tab2.getByRole("tab", { name: /Bob/ }).waitFor(); // pushed to the other tab
  await tab2.close();
  await customer.getByRole("textbox", { name: "Message" }).fill("Any news?");
  await customer.keyboard.press("Enter");
  await agent.getByRole("tab", { name: /Ada/ }).locator(".badge", { hasText: "1" }).waitFor();
  await agent.waitForFunction(() => /1 unread/.test(document.title));
  await screen(agent, "console-two-chats");
  await agent.getByRole("tab", { name: /Bob/ }).focus();
  await agent.keyboard.press("ArrowUp");
  await agent.getByRole("tab", { name: /Ada/ }).and(agent.locator("[aria-selected=true]")).waitFor();
  assert.equal(await agent.getByRole("tab", { name: /Ada/ }).locator(".badge").isHidden(), true);
  await bobCtx.close();

  // A picture: the agent opens it in a lightbox; Escape closes it.
  await customer.locator("input[type=file]").setInputFiles(fx.png);
  await agent.getByRole("button", { name: "View photo.png" }).click();
  await agent.locator("dialog.lightbox img").waitFor();
  await agent.waitForFunction(() => document.querySelector("dialog.lightbox img").naturalWidth === 640);
  await screen(agent, "console-lightbox");
  // A file refused by its content says why in words, never as MIME types.
  await customer.locator("input[type=file]").setInputFiles(fx.spoofed);
  await customer.getByText("report.pdf was rejected. Its content is not what a .pdf file holds.").waitFor();
  await customer.locator(".message.file:not(.rejected) .meta", { hasText: "PNG image" }).waitFor();
  const shown = await customer.locator(".log").innerText();
  assert.doesNotMatch(shown, /\b(application|image|text)\/[\w.+-]+/, "a MIME type reached the customer");
  await agent.keyboard.press("Escape");
  await agent.locator("dialog.lightbox").waitFor({ state: "detached" });

  // The end: downloads still work on both sides, through what the widget
  // kept and through the console's API.
  await agent.getByRole("button", { name: "End chat" }).click();
  await customer.getByText("This chat has ended.").first().waitFor();
  const [custDownload] = await Promise.all([customer.waitForEvent("download"), customer.getByRole("button", { name: "Download transcript" }).click()]);
  const custText = fs.readFileSync(await custDownload.path(), "utf8");
  assert.match(custText, /Hello, see https:\/\/example.com\/order\/1234/);
  assert.match(custText, /Hi Ada, looking now\./);
  await agent.getByRole("button", { name: "Close" }).waitFor();
  const [agentDownload] = await Promise.all([agent.waitForEvent("download"), agent.getByRole("button", { name: "Transcript" }).click()]);
  assert.match(fs.readFileSync(await agentDownload.path(), "utf8"), /Any news\?/);
  const [file] = await Promise.all([agent.waitForEvent("download"), agent.getByRole("button", { name: "Download photo.png" }).click()]);
  assert.ok(fs.readFileSync(await file.path()).equals(fs.readFileSync(fx.png)), "the file downloaded after the end differs");

  // The customer rates the chat; the agent sees it.
  await customer.getByText("How did we do?").waitFor();
  await screen(customer, "widget-ended");
  await customer.locator("label[for=rating-4]").click();
  await customer.getByLabel("Anything to add? (optional)").fill("Quick and kind");
  await customer.getByRole("button", { name: "Send rating" }).click();
  await customer.getByText("Thank you for your rating.").waitFor();
  await agent.locator(".attributes dt").getByText("CustomerRating", { exact: true }).waitFor({ timeout: 10000 });
  await agent.locator(".attributes dd", { hasText: "Quick and kind" }).waitFor();
  await screen(agent, "console-ended");
  await customer.getByRole("button", { name: "Start a new chat" }).click();
  await customer.getByRole("button", { name: "Start chat" }).waitFor();
  assert.deepEqual(errors, [], "console errors");
  await customerCtx.close();
  await agentCtx.close();
});

test("a sample widget's page starts a chat as Amazon's samples do and talks through ChatJS, with a file", async () => {
  const errors = [];
  const ctx = await newContext(desk);
  const page = await ctx.newPage();
  const agent = await ctx.newPage();
  watch(page, errors);
  watch(agent, errors);
  const cfg = { apiGatewayEndpoint: fx.url + "/widget/v1/start-chat-contact", endpoint: fx.url, instanceId: fx.instanceId };
  await page.goto(`${fx.otherOrigin}/sample.html#${encodeURIComponent(JSON.stringify(cfg))}`);
  await page.waitForFunction(() => window.__ready || window.__error, null, { timeout: 20000 });
  assert.equal(await page.evaluate(() => window.__error), undefined);
  timings.sampleStartToConnectedMs = Math.round(await page.evaluate(() => window.__connectedMs));
  assert.equal(await page.evaluate(() => window.__features.ATTACHMENTS), true);

  await signIn(agent);
  await agent.getByRole("button", { name: "Accept the chat with Sam" }).click();
  await agent.locator(".chat-panel").getByText("Hello from a sample widget").waitFor();
  await agent.locator(".customer-attributes dt", { hasText: "customerName" }).waitFor();
  await agent.getByRole("button", { name: "Download orders.csv" }).waitFor();
  await page.waitForFunction(() => window.__verdict === "APPROVED");
  await agent.getByRole("textbox", { name: "Message" }).fill("We are on it, Sam.");
  const sentAt = await agent.evaluate(() => Date.now());
  await agent.keyboard.press("Enter");
  await page.waitForFunction(() => window.__log.some((m) => m.content === "We are on it, Sam."));
  timings.sampleAgentMessageShownMs = (await page.evaluate(() => window.__log.find((m) => m.content === "We are on it, Sam.").at)) - sentAt;
  await screen(agent, "console-sample-widget");
  await agent.getByRole("button", { name: "End chat" }).click();
  await agent.getByRole("button", { name: "Close" }).waitFor();
  assert.deepEqual(errors, [], "console errors");
  await ctx.close();
});

test("the embed: data- attributes, full screen on a phone, minimise, unread badge, Escape, dark mode", async () => {
  const errors = [];
  // On a desk, data-position="left" puts it in the left corner.
  const deskCtx = await newContext(desk);
  const deskPage = await deskCtx.newPage();
  watch(deskPage, errors);
  await deskPage.goto(fx.otherOrigin + "/embed.html");
  await deskPage.getByRole("button", { name: "Chat with us" }).click();
  const deskBox = await deskPage.locator("iframe[title=Chat]").boundingBox();
  assert.ok(deskBox.x < 40 && deskBox.width < 400, `the frame sits at ${JSON.stringify(deskBox)}`);
  assert.equal(await deskPage.getByRole("button", { name: "Close chat" }).evaluate((b) => getComputedStyle(b).backgroundColor), "rgb(122, 31, 162)");
  await deskCtx.close();
  const ctx = await newContext({ ...phone, colorScheme: "dark" });
  const page = await ctx.newPage();
  const agentCtx = await newContext(desk);
  const agent = await agentCtx.newPage();
  watch(page, errors);
  watch(agent, errors);
  await page.goto(fx.otherOrigin + "/embed.html");
  const button = page.getByRole("button", { name: "Chat with us" });
  await button.click();
  const frameEl = page.locator("iframe[title=Chat]");
  const box = await frameEl.boundingBox();
  assert.deepEqual([box.x, box.y, box.width, box.height], [0, 0, 390, 740], "full screen on a phone");
  const frame = page.frameLocator("iframe[title=Chat]");
  await frame.getByRole("heading", { name: "Shop help" }).waitFor(); // data-title over the server's title
  const inner = page.frames().find((f) => f.url().startsWith(fx.url));
  assert.equal(await inner.evaluate(() => getComputedStyle(document.body).backgroundColor), "rgb(22, 24, 28)", "dark mode");
  await frame.getByLabel("Your name").fill("Cy");
  await frame.getByRole("button", { name: "Start chat" }).click();
  await frame.getByRole("textbox", { name: "Message" }).waitFor();
  await screen(page, "embed-phone-dark", inner);

  await signIn(agent);
  await agent.getByRole("button", { name: "Accept the chat with Cy" }).click();
  await agent.getByRole("textbox", { name: "Message" }).waitFor();

  // Minimise, then a message arrives: the button counts it.
  await frame.getByRole("button", { name: "Minimise the chat" }).click();
  await frameEl.waitFor({ state: "hidden" });
  await agent.keyboard.type("Hello Cy");
  await agent.keyboard.press("Enter");
  await page.getByRole("button", { name: "Chat with us 1 unread" }).waitFor();
  await screen(page, "embed-unread");
  await page.getByRole("button", { name: "Chat with us 1 unread" }).click();
  await frame.getByText("Hello Cy").waitFor();
  await page.getByRole("button", { name: "Close chat" }).waitFor();
  // Escape, inside the frame, closes it.
  await frame.getByRole("textbox", { name: "Message" }).focus();
  await page.keyboard.press("Escape");
  await frameEl.waitFor({ state: "hidden" });
  await page.getByRole("button", { name: "Chat with us" }).waitFor();
  await agent.getByRole("button", { name: "End chat" }).click();
  assert.deepEqual(errors, [], "console errors");
  await ctx.close();
  await agentCtx.close();
});

test("the agent's tools: Away, canned responses, past chats, search, notifications", async () => {
  const errors = [];
  const ctx = await newContext({ ...desk, permissions: ["notifications"] });
  const agent = await ctx.newPage();
  watch(agent, errors);
  // Record desktop notifications instead of showing them; the console
  // shows them only while it is not in front.
  await agent.addInitScript(() => {
    window.__notes = [];
    document.hasFocus = () => false;
    window.Notification = class { constructor(title, o) { window.__notes.push(o.body); } static permission = "granted"; static requestPermission() { return Promise.resolve("granted"); } };
  });
  await agent.goto(fx.url + "/agent");
  await screen(agent, "console-signin");
  await signIn(agent);
  await agent.getByRole("button", { name: "Accept the chat with Nine" }).waitFor();

  // Away: nothing is offered; Available again: it is.
  await agent.getByLabel("Status").selectOption("AWAY");
  await agent.getByText("You are Away: no chats are offered to you.").waitFor();
  assert.equal(await agent.getByRole("button", { name: /^Accept/ }).count(), 0);
  await screen(agent, "console-away");
  await agent.getByLabel("Status").selectOption("AVAILABLE");

  // Canned responses, managed in the console.
  await agent.getByRole("button", { name: "Canned responses" }).click();
  await agent.getByLabel("Shortcut").fill("thanks");
  await agent.getByLabel("Text").fill("Thank you for waiting.");
  await agent.getByRole("button", { name: "Add", exact: true }).click();
  await agent.getByRole("button", { name: "Delete /thanks" }).waitFor();
  await screen(agent, "console-canned");
  await agent.getByRole("dialog").getByRole("button", { name: "Close" }).click();

  // The customer's past chat, by CustomerId.
  await agent.getByRole("button", { name: "Accept the chat with Nine" }).click();
  await agent.getByText("Past chats (1)").click();
  await agent.getByRole("button", { name: /Where is my parcel\?/ }).click();
  await agent.getByRole("dialog").getByText("Where is my parcel?").waitFor();
  await screen(agent, "console-past-chat");
  await agent.getByRole("dialog").getByRole("button", { name: "Close" }).click();

  // /thanks and Tab inserts the response.
  const box = agent.getByRole("textbox", { name: "Message" });
  await box.click();
  await agent.keyboard.type("/thanks");
  await agent.keyboard.press("Tab");
  assert.equal(await box.inputValue(), "Thank you for waiting.");
  await agent.keyboard.press("Enter");
  await agent.locator(".message.mine", { hasText: "Thank you for waiting." }).waitFor().catch(async (e) => {
    throw new Error(e.message + "\n" + (await agent.locator("#chats").innerText()) + "\n" + errors.join("\n"));
  });

  // The search finds it among the agent's chats.
  await agent.getByLabel("Words to find").fill("for waiting");
  await agent.getByRole("button", { name: "Search", exact: true }).click();
  await agent.locator("#search-results li", { hasText: "Thank you for waiting." }).waitFor();
  await screen(agent, "console-search");

  // Sound and notifications, when turned on: a new chat is announced.
  await agent.getByLabel("Sound and notifications").check();
  const other = await (await newContext(phone)).newPage();
  await startWidgetChat(other, "Dee");
  await agent.waitForFunction(() => window.__notes.some((b) => /waiting/.test(b)));
  await agent.getByRole("button", { name: "End chat" }).click();
  assert.deepEqual(errors, [], "console errors");
  await ctx.close();
});
