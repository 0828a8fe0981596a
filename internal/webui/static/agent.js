// The agent console: sign in with a key Parley manages, see the queue live
// (pushed by the server), accept chats (up to ten at once), and talk in them
// over the participant API and websocket, as ChatJS would. The server keeps
// which chats the agent holds: a new tab or a fresh sign-in reopens them.
import { ChatConnection } from "./parley.js";
import { ChatView, el } from "./chatview.js";
import { followQueue } from "./queue.js";
import { attention } from "./attention.js";
import { setupTools, attachCanned, pastChats } from "./tools.js";
import { readQueue } from "./queue.js";
import { transferControls } from "./console-transfer.js";
import { monitorForm, bargeButton } from "./console-monitor.js";

const KEY = "parley.agent";
let agentKey = sessionStorage.getItem(KEY);
const open = new Map(); // contact id → {tab, panel, conn, view}

// agentAPI calls the console's API; body is an object (sent as JSON) or a
// string of JSON.
export async function agentAPI(method, path, body) {
  const headers = { Authorization: "Bearer " + agentKey };
  if (body) headers["Content-Type"] = "application/json";
  const payload = body === undefined || typeof body === "string" ? body : JSON.stringify(body);
  const resp = await fetch(path, { method, headers, body: payload });
  const data = resp.status === 204 ? {} : await resp.json().catch(() => ({}));
  if (!resp.ok) throw Object.assign(new Error(data.Message || resp.statusText), { status: resp.status });
  return data;
}
const chatPath = (id, rest = "") => `/agent/v1/chats/${encodeURIComponent(id)}${rest}`;

document.getElementById("signin").addEventListener("submit", async (e) => {
  e.preventDefault();
  agentKey = document.getElementById("agent-key").value.trim();
  try {
    const me = await agentAPI("GET", "/agent/v1/me");
    if (me.Name !== document.getElementById("agent-name").value.trim()) throw new Error("That key belongs to another agent.");
    sessionStorage.setItem(KEY, agentKey);
    start(me);
  } catch (ex) {
    document.getElementById("signin-error").textContent = ex.message;
  }
});

document.getElementById("signout").addEventListener("click", () => {
  sessionStorage.clear();
  location.reload();
});

let myId = "";

async function start(me) {
  myId = me.Id;
  document.getElementById("signin-area").hidden = true;
  document.getElementById("desk").hidden = false;
  document.getElementById("signout").hidden = false;
  document.getElementById("agent-tools").hidden = false;
  document.getElementById("whoami").textContent = `Signed in as ${me.Name}`;
  followQueue({ agentAPI, key: () => agentKey, accept, me: () => myId, onChats: () => loadChats().catch(() => {}) });
  setupTools(agentAPI, me, () => readQueue());
  document.querySelector("#desk nav").append(monitorForm(agentAPI, openChat, alertMessage));
  try {
    await loadChats();
  } catch (e) {
    alertMessage("Your chats could not be loaded. Reload the page to try again.");
  }
}

// loadChats opens the chats this agent holds, wherever they were accepted.
async function loadChats() {
  const { Chats } = await agentAPI("GET", "/agent/v1/chats");
  for (const chat of Chats) if (!open.has(chat.ContactId)) openChat(chat, { focus: false });
}

// A second click (a double click, or one before the answer) must not send
// a second accept: its 409 would say another agent took the chat.
const accepting = new Set();

async function accept(contactId) {
  if (accepting.has(contactId)) return;
  if (open.has(contactId)) return select(contactId, { focus: true });
  accepting.add(contactId);
  try {
    const chat = await agentAPI("POST", chatPath(contactId, "/accept"));
    // It waits no more: off the list at once, before the pushed re-read.
    document.querySelector(`#queue li[data-contact="${CSS.escape(contactId)}"]`)?.remove();
    openChat(chat, { focus: true });
    readQueue();
  } catch (e) {
    alertMessage(e.message);
  } finally {
    accepting.delete(contactId);
  }
}

function alertMessage(text) {
  const p = el("p", { class: "error", role: "alert" }, text);
  document.getElementById("chats").prepend(p);
  setTimeout(() => p.remove(), 5000);
}

function select(contactId, { focus = false } = {}) {
  for (const [id, c] of open) {
    const on = id === contactId;
    c.tab.setAttribute("aria-selected", String(on));
    c.tab.tabIndex = on ? 0 : -1;
    c.panel.hidden = !on;
    if (on) { c.unread(0); c.view.markRead(); }
  }
  if (focus) open.get(contactId)?.view.text.focus();
}

// Arrow keys move between chat tabs, as in any tab list.
document.getElementById("mine").addEventListener("keydown", (e) => {
  const tabs = [...document.querySelectorAll("#mine [role=tab]")];
  const i = tabs.indexOf(document.activeElement);
  if (i < 0) return;
  const to = { ArrowDown: i + 1, ArrowRight: i + 1, ArrowUp: i - 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
  if (to === undefined) return;
  e.preventDefault();
  const tab = tabs[(to + tabs.length) % tabs.length];
  tab.focus();
  select(tab.dataset.contact);
});

function showAttributes(attrs) {
  // Attributes set through the Connect API are the operator's; those the
  // customer's browser sent are only the customer's word, and say so.
  let shown = "";
  return (operator, customer) => {
    const key = JSON.stringify([Object.entries(operator || {}).sort(), Object.entries(customer || {}).sort()]);
    if (key === shown) return;
    shown = key;
    attrs.replaceChildren();
    const list = (entries, cls, label) => {
      if (!entries.length) return;
      const dl = el("dl", { class: cls, "aria-label": label });
      for (const [k, v] of entries) dl.append(el("dt", {}, k), el("dd", {}, v));
      attrs.append(el("p", { class: "attributes-label" }, label), dl);
    };
    list(Object.entries(operator || {}), "attributes", "Contact attributes");
    list(Object.entries(customer || {}), "attributes customer-attributes", "Supplied by the customer (unverified)");
  };
}

async function openChat(chat, { focus = true } = {}) {
  if (open.has(chat.ContactId)) return select(chat.ContactId, { focus });
  const id = chat.ContactId;
  const badge = el("span", { class: "badge", hidden: "" });
  const tab = el("li", { role: "tab", tabindex: "-1", "aria-selected": "false", "data-contact": id }, chat.CustomerName, badge);
  const attrs = el("div", { class: "chat-attributes" });
  const past = el("div", { class: "past-chats" });
  const show = showAttributes(attrs);
  show(chat.Attributes, chat.CustomerAttributes);
  // UpdateContactAttributes can change them at any time, and the customer
  // may rate the chat after it ends: follow them until a while after.
  let endedAt = 0;
  const attrPoll = setInterval(async () => {
    if (endedAt && Date.now() - endedAt > 10 * 60 * 1000) return clearInterval(attrPoll);
    try {
      const c = await agentAPI("GET", chatPath(id));
      show(c.Attributes, c.CustomerAttributes);
    } catch (e) {
      if (e.status === 403 || e.status === 404) clearInterval(attrPoll);
    }
  }, 2000);
  const transcript = el("button", { type: "button" }, "Transcript");
  const end = el("button", { type: "button", class: "danger" }, "End chat");
  const close = el("button", { type: "button", hidden: "" }, "Close");
  const panel = el("section", { class: "chat-panel", role: "tabpanel", "aria-label": `Chat with ${chat.CustomerName}`, "data-contact": id },
    el("header", { class: "panel-head" }, el("h2", {}, chat.CustomerName), transcript, end, close), attrs, past,
    chat.Monitoring ? bargeButton(agentAPI, chat, alertMessage, () => view.setSilent(false)) : transferControls(agentAPI, chat.ContactId, alertMessage));
  document.getElementById("mine").append(tab);
  document.getElementById("chats").append(panel);
  let unread = 0;
  const setUnread = (n) => {
    unread = n;
    badge.hidden = !n;
    // Read as "Ada, 2 unread"; shown as a count.
    badge.replaceChildren(el("span", { class: "visually-hidden" }, ", "), String(n), el("span", { class: "visually-hidden" }, " unread"));
    tab.classList.toggle("unread", n > 0);
    attention.unread(id, n);
  };
  let view;
  const conn = new ChatConnection({
    details: chat,
    // The server opens the agent's connection: no participant token is
    // kept in the browser.
    // (A chat just accepted or monitored comes with its token.)
    connection: chat.ParticipantToken ? undefined : () => agentAPI("POST", chatPath(id, "/connection")),
    onItem: (item) => view.add(item),
    onState: (state) => view && view.setState(state),
  });
  view = new ChatView(panel, conn, {
    me: chat.ParticipantId, title: `Chat with ${chat.CustomerName}`,
    markdown: !chat.ContentTypes || chat.ContentTypes.includes("text/markdown"),
    shown: () => !panel.hidden,
    answers: false, // a bot's questions are the customer's to answer
    // Through the console's API, which answers after the chat ends too.
    attachment: (aid) => agentAPI("GET", chatPath(id, `/attachments/${encodeURIComponent(aid)}`)),
    transcript: async () => (await agentAPI("GET", chatPath(id, "/transcript"))).Transcript,
    onEnded: (hadFocus) => {
      const moveFocus = hadFocus || document.activeElement === end;
      endedAt ||= Date.now(); end.hidden = true; close.hidden = false; tab.classList.add("ended");
      if (moveFocus) close.focus(); // the button pressed, or the composer, is gone
    },
  });
  if (chat.Monitoring && !chat.Barged) view.setSilent(true);
  let loaded = false; // what the transcript brings back is not news
  attachCanned(view.text);
  pastChats(past, id);
  view.onAdd = (item, mine) => {
    if (mine || !loaded) return;
    if (panel.hidden || !document.hasFocus()) attention.message(chat.CustomerName, item);
    if (panel.hidden) setUnread(unread + 1);
  };
  open.set(id, { tab, panel, conn, view, unread: setUnread });
  tab.addEventListener("click", () => select(id));
  tab.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(id, { focus: true }); } });
  transcript.addEventListener("click", () => view.downloadTranscript());
  // Ending through the agent API works for a chat whose connection could
  // not be opened, such as one abandoned in a tab long closed.
  end.addEventListener("click", () => conn.disconnect().catch(() => agentAPI("POST", chatPath(id, "/leave")).then(() => conn.end()).catch(() => conn.end())));
  close.addEventListener("click", () => {
    // Closing the chat shown shows the next one (or the one before), with
    // focus on its tab: otherwise no tab is in the Tab order and focus is lost.
    const tabs = [...document.querySelectorAll("#mine [role=tab]")];
    const next = panel.hidden ? null : tabs[tabs.indexOf(tab) + 1] || tabs[tabs.indexOf(tab) - 1];
    clearInterval(attrPoll); tab.remove(); panel.remove(); open.delete(id); attention.unread(id, 0);
    if (next) { select(next.dataset.contact); next.focus(); }
  });
  if (focus || open.size === 1) select(id, { focus });
  else panel.hidden = true;
  try {
    await conn.connect();
    await conn.load();
    loaded = true;
  } catch (e) {
    loaded = true;
    if (e.status === 403 || e.status === 410) {
      // It ended meanwhile: show what it held, from the console's API.
      try { for (const item of await view.getTranscript()) view.add(item); } catch {}
      conn.end();
      return;
    }
    view.notice("Could not connect to this chat. End it, or reload the page to try again.", "error");
  }
}

if (agentKey) {
  agentAPI("GET", "/agent/v1/me").then(start).catch(() => sessionStorage.removeItem(KEY));
}
