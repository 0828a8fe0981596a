// The agent console: sign in with a key Parley manages, see the queue live,
// accept chats (up to ten at once), and talk in them over the participant
// API and websocket, as ChatJS would.
import { ChatConnection } from "./parley.js";
import { ChatView, el } from "./chatview.js";
import { transferControls } from "./console-transfer.js";
import { monitorForm, bargeButton } from "./console-monitor.js";

const KEY = "parley.agent";
const CHATS = "parley.agent.chats";
let agentKey = sessionStorage.getItem(KEY);
const open = new Map(); // contact id → {tab, panel, conn, view}

async function agentAPI(method, path, body) {
  const resp = await fetch(path, { method, body, headers: { Authorization: "Bearer " + agentKey } });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw Object.assign(new Error(data.Message || resp.statusText), { status: resp.status });
  return data;
}

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

function start(me) {
  myId = me.Id;
  document.getElementById("signin").hidden = true;
  document.getElementById("desk").hidden = false;
  document.getElementById("signout").hidden = false;
  document.getElementById("whoami").textContent = `Signed in as ${me.Name}`;
  for (const saved of JSON.parse(sessionStorage.getItem(CHATS) || "[]")) openChat(saved);
  document.querySelector("#desk nav").append(monitorForm(agentAPI, openChat, alertMessage));
  pollQueue();
  setInterval(pollQueue, 1500);
}

// The queue comes a page at a time, so that no number of waiting chats can
// hide one: the heading says how many wait, and the pager walks them all.
// pages holds the token of each page seen so far ("" is the first).
const PAGE = 25;
const pages = [""];
let page = 0;
let polls = 0; // only the latest poll's answer is shown

function turnPage(by) {
  page = Math.max(0, Math.min(pages.length - 1, page + by));
  pollQueue();
}
document.getElementById("queue-prev").addEventListener("click", () => turnPage(-1));
document.getElementById("queue-next").addEventListener("click", () => turnPage(1));

async function pollQueue() {
  const mine = ++polls;
  let q;
  try { q = await agentAPI("GET", `/agent/v1/queue?limit=${PAGE}&next=${encodeURIComponent(pages[page])}`); } catch { return; }
  if (mine !== polls) return;
  if (!q.Waiting.length && page > 0) { page--; return pollQueue(); } // the page emptied: step back
  pages.length = page + 1;
  if (q.NextToken) pages.push(q.NextToken);
  document.getElementById("queue-total").textContent = q.Total ? `(${q.Total})` : "";
  const pager = document.getElementById("queue-pager");
  pager.hidden = page === 0 && !q.NextToken;
  document.getElementById("queue-page").textContent = `Page ${page + 1} of ${Math.max(1, Math.ceil(q.Total / PAGE))}`;
  document.getElementById("queue-prev").disabled = page === 0;
  document.getElementById("queue-next").disabled = !q.NextToken;
  const list = document.getElementById("queue");
  list.replaceChildren(...q.Waiting.map((w) => {
    const since = Math.max(0, Math.round((Date.now() - Date.parse(w.WaitingSince)) / 1000));
    return el("li", { class: "waiting" },
      el("span", { class: "name" }, w.CustomerName), el("span", { class: "meta" }, `waiting ${since}s`),
      w.TransferTo ? el("span", { class: "meta transferred" }, w.TransferTo === myId ? "transferred to you" : "transferred") : "",
      el("button", { type: "button", "aria-label": `Accept the chat with ${w.CustomerName}`, onclick: () => accept(w.ContactId) }, "Accept"));
  }));
  if (!q.Waiting.length) list.append(el("li", { class: "empty" }, "No one is waiting."));
}

async function accept(contactId) {
  try {
    const chat = await agentAPI("POST", `/agent/v1/chats/${encodeURIComponent(contactId)}/accept`);
    const saved = JSON.parse(sessionStorage.getItem(CHATS) || "[]");
    saved.push(chat);
    sessionStorage.setItem(CHATS, JSON.stringify(saved));
    openChat(chat);
    pollQueue();
  } catch (e) {
    alertMessage(e.message);
  }
}

function alertMessage(text) {
  const p = el("p", { class: "error", role: "alert" }, text);
  document.getElementById("chats").prepend(p);
  setTimeout(() => p.remove(), 5000);
}

function select(contactId) {
  for (const [id, c] of open) {
    const on = id === contactId;
    c.tab.setAttribute("aria-selected", String(on));
    c.tab.classList.toggle("unread", c.tab.classList.contains("unread") && !on);
    c.panel.hidden = !on;
  }
}

function forget(contactId) {
  const saved = JSON.parse(sessionStorage.getItem(CHATS) || "[]").filter((c) => c.ContactId !== contactId);
  sessionStorage.setItem(CHATS, JSON.stringify(saved));
}

async function openChat(chat) {
  if (open.has(chat.ContactId)) return select(chat.ContactId);
  const tab = el("li", { role: "tab", tabindex: "0", "aria-selected": "false" }, chat.CustomerName);
  // Attributes set through the Connect API are the operator's; those the
  // customer's browser sent are only the customer's word, and say so.
  const attrs = el("div", { class: "chat-attributes" });
  let shown = "";
  const showAttributes = (operator, customer) => {
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
  showAttributes(chat.Attributes, chat.CustomerAttributes);
  // UpdateContactAttributes can change them at any time: follow them while the chat lasts.
  const attrPoll = setInterval(async () => {
    try {
      const c = await agentAPI("GET", `/agent/v1/chats/${encodeURIComponent(chat.ContactId)}`);
      showAttributes(c.Attributes, c.CustomerAttributes);
    } catch (e) {
      if (e.status === 403 || e.status === 404) clearInterval(attrPoll);
    }
  }, 2000);
  const end = el("button", { type: "button", class: "danger" }, "End chat");
  const close = el("button", { type: "button", hidden: "" }, "Close");
  const panel = el("section", { class: "chat-panel", role: "tabpanel", "aria-label": `Chat with ${chat.CustomerName}` },
    el("header", { class: "panel-head" }, el("h2", {}, chat.CustomerName), end, close), attrs,
    chat.Monitoring ? bargeButton(agentAPI, chat, alertMessage) : transferControls(agentAPI, chat.ContactId, alertMessage));
  document.getElementById("mine").append(tab);
  document.getElementById("chats").append(panel);
  let view;
  const conn = new ChatConnection({
    details: chat,
    onItem: (item) => {
      view.add(item);
      if (panel.hidden && item.Type === "MESSAGE") tab.classList.add("unread");
    },
    onState: (state) => view && view.setState(state),
  });
  view = new ChatView(panel, conn, {
    me: chat.ParticipantId, title: `Chat with ${chat.CustomerName}`,
    onEnded: () => { clearInterval(attrPoll); end.hidden = true; close.hidden = false; tab.classList.add("ended"); forget(chat.ContactId); },
  });
  open.set(chat.ContactId, { tab, panel, conn, view });
  const choose = () => select(chat.ContactId);
  tab.addEventListener("click", choose);
  tab.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); choose(); } });
  end.addEventListener("click", () => conn.disconnect().catch(() => conn.end()));
  close.addEventListener("click", () => { clearInterval(attrPoll); tab.remove(); panel.remove(); open.delete(chat.ContactId); });
  select(chat.ContactId);
  try {
    await conn.connect();
    for (const item of await conn.transcript()) view.add(item);
  } catch (e) {
    if (e.status === 403) { conn.end(); return; }
    view.notice(`Could not connect: ${e.message}`, "error");
  }
}

if (agentKey) {
  agentAPI("GET", "/agent/v1/me").then(start).catch(() => sessionStorage.removeItem(KEY));
}
