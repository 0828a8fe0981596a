// The widget's interactive messages in Chromium: a bot's ListPicker,
// QuickReply and Panel render as choices, and a tap answers with an
// interactive response. TestBrowserInteractive passes PARLEY_FIXTURE.
import { test } from "node:test";
import assert from "node:assert/strict";
import { screen } from "./screen.mjs";
import { launch } from "./chromium.mjs";

const fx = JSON.parse(process.env.PARLEY_FIXTURE);
const browser = await launch(fx);

test("the widget renders ListPicker, QuickReply and Panel and answers them", async () => {
  const errors = [];
  const page = await (await browser.newContext({ viewport: { width: 390, height: 740 }, bypassCSP: true })).newPage();
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto(fx.url + "/");
  await page.getByLabel("Your name").fill("Ada");
  await page.getByRole("button", { name: "Start chat" }).click();
  await page.getByRole("textbox", { name: "Message" }).waitFor();
  const contactId = await page.evaluate(() => JSON.parse(sessionStorage.getItem("parley.widget.chat")).ContactId);
  const sent = await fetch(`${fx.bot}?contact=${encodeURIComponent(contactId)}`, { method: "POST" });
  assert.equal(sent.status, 204, await sent.text());

  const picker = page.getByRole("group", { name: "Which fruit?" });
  await picker.waitFor();
  await screen(page, "widget-interactive-list-picker");
  await page.getByText("Tap one").waitFor();
  assert.equal(await picker.getByRole("button").count(), 3);
  await page.getByRole("group", { name: "Did that help?" }).waitFor();
  await page.getByRole("group", { name: "How can I help?" }).waitFor();

  await picker.getByRole("button", { name: /Orange/ }).click();
  await page.locator(".message.mine", { hasText: "Orange" }).waitFor();
  assert.ok(await picker.getByRole("button", { name: /Apple/ }).isDisabled(), "a list picker is answered once");
  await page.getByRole("group", { name: "Did that help?" }).getByRole("button", { name: "Yes" }).click();
  await page.locator(".message.mine", { hasText: "Yes" }).waitFor();
  await page.getByRole("group", { name: "How can I help?" }).getByRole("button", { name: "Talk to an agent" }).click();
  await page.locator(".message.mine", { hasText: "Talk to an agent" }).waitFor();

  const answers = await (await fetch(`${fx.bot}?contact=${encodeURIComponent(contactId)}`)).json();
  assert.deepEqual(answers.map((a) => [JSON.parse(a).templateType, JSON.parse(a).data.content.elements[0].title]),
    [["ListPicker", "Orange"], ["QuickReply", "Yes"], ["Panel", "Talk to an agent"]]);
  assert.deepEqual(errors, []);

  // After a reload the answered ones stay answered, the choice marked:
  // the customer cannot answer the same question twice.
  await page.reload();
  const again = page.getByRole("group", { name: "Which fruit?" });
  await again.waitFor();
  await page.locator(".message.mine", { hasText: "Talk to an agent" }).waitFor();
  for (const [group, chosen] of [["Which fruit?", /Orange/], ["Did that help?", "Yes"], ["How can I help?", "Talk to an agent"]]) {
    const buttons = page.getByRole("group", { name: group }).getByRole("button");
    for (let i = 0; i < await buttons.count(); i++) assert.ok(await buttons.nth(i).isDisabled(), `${group} answered before the reload`);
    assert.ok(await page.getByRole("group", { name: group }).getByRole("button", { name: chosen }).evaluate((b) => b.classList.contains("chosen")),
      `${group}: the choice made is marked`);
  }
  assert.deepEqual(errors, []);
});
