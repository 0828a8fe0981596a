// The console's tools around the chats: the agent's status (Available or
// Away, as in CCP), canned responses (managed here, inserted in a chat by
// typing /shortcut and Tab), and a search over the agent's own chats.
import { el } from "./chatview.js";

let api;
let canned = []; // {Id, Shortcut, Text}

export async function setupTools(agentAPI, me, onStatus) {
  api = agentAPI;
  const status = document.getElementById("status");
  status.value = me.Status || "AVAILABLE";
  status.addEventListener("change", async () => {
    try {
      await api("PUT", "/agent/v1/status", { Status: status.value });
      onStatus(status.value);
    } catch (e) {
      status.value = status.value === "AWAY" ? "AVAILABLE" : "AWAY";
    }
  });
  await loadCanned();
  setupCannedDialog();
  setupSearch();
}

async function loadCanned() {
  try { canned = (await api("GET", "/agent/v1/canned")).Canned; } catch { canned = []; }
  renderCanned();
}

function renderCanned() {
  const list = document.getElementById("canned-list");
  if (!list) return;
  list.replaceChildren(...canned.map((c) => el("li", {},
    el("code", {}, "/" + c.Shortcut), " ", el("span", {}, c.Text), " ",
    el("button", { type: "button", class: "danger", "aria-label": `Delete /${c.Shortcut}`, onclick: () => removeCanned(c.Id) }, "Delete"))));
  if (!canned.length) list.append(el("li", { class: "empty" }, "No canned responses yet."));
}

async function removeCanned(id) {
  try { await api("DELETE", `/agent/v1/canned/${encodeURIComponent(id)}`); } catch { /* gone already */ }
  await loadCanned();
}

function setupCannedDialog() {
  const dialog = document.getElementById("canned");
  document.getElementById("canned-open").addEventListener("click", () => { dialog.showModal(); });
  document.getElementById("canned-close").addEventListener("click", () => dialog.close());
  const form = document.getElementById("canned-form");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const err = document.getElementById("canned-error");
    err.textContent = "";
    try {
      await api("POST", "/agent/v1/canned", { Shortcut: form.shortcut.value, Text: form.text.value });
      form.reset();
      await loadCanned();
    } catch (ex) {
      err.textContent = ex.message;
    }
  });
}

// attachCanned lets a composer expand "/shortcut" with Tab.
export function attachCanned(textarea) {
  textarea.addEventListener("keydown", (e) => {
    if (e.key !== "Tab" || e.shiftKey) return;
    const before = textarea.value.slice(0, textarea.selectionStart);
    const m = /(^|\s)\/([a-z0-9_-]+)$/.exec(before);
    const c = m && canned.find((x) => x.Shortcut === m[2]);
    if (!c) return;
    e.preventDefault();
    const start = before.length - m[2].length - 1;
    textarea.value = textarea.value.slice(0, start) + c.Text + textarea.value.slice(textarea.selectionStart);
    textarea.selectionStart = textarea.selectionEnd = start + c.Text.length;
  });
}

function setupSearch() {
  const form = document.getElementById("search");
  const results = document.getElementById("search-results");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const { Results } = await api("GET", `/agent/v1/search?q=${encodeURIComponent(form.q.value)}`);
      results.replaceChildren(...Results.map((r) => el("li", {},
        el("span", { class: "name" }, r.Customer || "Customer"), " ",
        el("time", { datetime: r.AbsoluteTime }, new Date(r.AbsoluteTime).toLocaleString()),
        el("p", {}, r.Content))));
      if (!Results.length) results.append(el("li", { class: "empty" }, "Nothing found."));
    } catch (ex) {
      results.replaceChildren(el("li", { class: "error" }, ex.message));
    }
  });
}

// pastChats shows the customer's other chats (by CustomerId) in a chat's
// panel; each opens its transcript in a dialog.
export async function pastChats(container, contactId) {
  let list;
  try { list = (await api("GET", `/agent/v1/chats/${encodeURIComponent(contactId)}/past`)).Chats; } catch { return; }
  if (!list.length) return;
  const items = list.map((p) => el("li", {}, el("button", { type: "button", class: "link",
    onclick: () => showPast(contactId, p) }, `${new Date(p.StartedAt).toLocaleString()}: ${p.Preview || "(no message)"}`),
  p.Rating ? el("span", { class: "meta" }, ` rated ${p.Rating}/5`) : null));
  container.append(el("details", { class: "past" }, el("summary", {}, `Past chats (${list.length})`), el("ul", {}, ...items)));
}

async function showPast(contactId, p) {
  const { Transcript } = await api("GET", `/agent/v1/chats/${encodeURIComponent(contactId)}/past/${encodeURIComponent(p.ContactId)}/transcript`);
  const close = el("button", { type: "button" }, "Close");
  const dialog = el("dialog", { class: "past-dialog", "aria-label": "Past chat" },
    el("h2", {}, `Chat of ${new Date(p.StartedAt).toLocaleString()}`),
    el("ol", { class: "past-log" }, ...Transcript.filter((i) => i.Type === "MESSAGE").map((i) =>
      el("li", {}, el("strong", {}, i.DisplayName || i.ParticipantRole), ": ", i.Content))), close);
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}
