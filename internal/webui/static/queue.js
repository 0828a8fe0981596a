// The console's queue: a page at a time, so that no number of waiting chats
// can hide one (the heading says how many wait, and the pager walks them
// all), re-read whenever the server pushes a change on /agent/v1/events.
import { el } from "./chatview.js";
import { attention } from "./attention.js";

const PAGE = 25;
const pages = [""]; // the token of each page seen so far ("" is the first)
let page = 0;
let reads = 0; // only the latest read's answer is shown
let api, acceptChat, chatsChanged, myId;

function turnPage(by) {
  page = Math.max(0, Math.min(pages.length - 1, page + by));
  readQueue();
}

const since = (iso) => {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 60 ? `waiting ${s}s` : `waiting ${Math.floor(s / 60)} min`;
};

export async function readQueue() {
  const mine = ++reads;
  let q;
  try { q = await api("GET", `/agent/v1/queue?limit=${PAGE}&next=${encodeURIComponent(pages[page])}`); } catch { return; }
  if (mine !== reads) return;
  if (!q.Waiting.length && page > 0) { page--; return readQueue(); } // the page emptied: step back
  pages.length = page + 1;
  if (q.NextToken) pages.push(q.NextToken);
  document.getElementById("queue-total").textContent = q.Total ? `(${q.Total})` : "";
  attention.waiting(q.Total, q.Waiting.map((w) => w.ContactId));
  const pager = document.getElementById("queue-pager");
  pager.hidden = page === 0 && !q.NextToken;
  document.getElementById("queue-page").textContent = `Page ${page + 1} of ${Math.max(1, Math.ceil(q.Total / PAGE))}`;
  document.getElementById("queue-prev").disabled = page === 0;
  document.getElementById("queue-next").disabled = !q.NextToken;
  const list = document.getElementById("queue");
  list.replaceChildren(...q.Waiting.map((w) => el("li", { class: "waiting", "data-contact": w.ContactId },
    el("span", { class: "name" }, w.CustomerName),
    el("span", { class: "meta", "data-since": w.WaitingSince }, since(w.WaitingSince)),
    w.TransferTo ? el("span", { class: "meta transferred" }, w.TransferTo === myId() ? "transferred to you" : "transferred") : null,
    w.Preview ? el("span", { class: "preview-text" }, w.Preview) : null,
    el("button", { type: "button", "aria-label": `Accept the chat with ${w.CustomerName}`, onclick: () => acceptChat(w.ContactId) }, "Accept"))));
  if (q.Away) list.append(el("li", { class: "empty" }, "You are Away: no chats are offered to you."));
  else if (!q.Waiting.length) list.append(el("li", { class: "empty" }, "No one is waiting."));
}

// events reads the server's event stream (fetch, not EventSource, so that
// the key goes in a header) and re-reads the queue on each "queue" event.
async function events(key) {
  for (;;) {
    try {
      const resp = await fetch("/agent/v1/events", { headers: { Authorization: "Bearer " + key() } });
      if (resp.status === 401 || resp.status === 403) return;
      if (resp.ok) {
        const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            if (/^event: queue$/m.test(block)) readQueue();
            if (/^event: chats$/m.test(block)) chatsChanged();
          }
        }
      }
    } catch { /* dropped: reconnect */ }
    await new Promise((r) => setTimeout(r, 2000));
    readQueue(); // changes while the stream was down
    chatsChanged();
  }
}

// followQueue reads the queue as the server pushes changes; onChats runs
// when the agent's own chats may have changed (accepted in another tab).
export function followQueue({ agentAPI, key, accept, onChats, me }) {
  myId = me;
  api = agentAPI;
  acceptChat = accept;
  chatsChanged = onChats;
  document.getElementById("queue-prev").addEventListener("click", () => turnPage(-1));
  document.getElementById("queue-next").addEventListener("click", () => turnPage(1));
  events(key);
  // A safety net, not the feed: a push missed (a server that does not see
  // every commit, such as another node's) shows within half a minute.
  setInterval(() => readQueue(), 30000);
  // How long each has waited counts on in the page, without asking.
  setInterval(() => {
    for (const m of document.querySelectorAll("#queue .meta[data-since]")) m.textContent = since(m.dataset.since);
  }, 5000);
}
