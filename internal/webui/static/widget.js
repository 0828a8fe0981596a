// The customer widget: start a chat through Parley's start-chat endpoint,
// then talk in it over the participant API, as a ChatJS page would.
import { ChatConnection } from "./parley.js";
import { ChatView, plainError } from "./chatview.js";
import { applyBranding } from "./branding.js";
import { waitForAgent } from "./waiting.js";
import { afterChat } from "./aftercare.js";

const app = document.getElementById("app");
const startForm = document.getElementById("start");
const actions = document.querySelector(".actions");
const KEY = "parley.widget.chat";

// In a frame (embed.js), the page that embeds it is told of unread
// messages and asked to close the frame; it says whether the frame shows.
const framed = window.parent !== window;
let shown = !framed;
let unread = 0;
let chatView = null; // the chat shown, once one is
const tellParent = (msg) => { if (framed) window.parent.postMessage({ parley: msg.type, ...msg }, "*"); };
window.addEventListener("message", (e) => {
  if (e.source !== window.parent || e.data?.parley !== "shown") return;
  shown = !!e.data.open;
  if (shown) { unread = 0; tellParent({ type: "unread", count: 0 }); chatView?.markRead(); }
});
if (framed) {
  tellParent({ type: "hello" });
  const min = document.getElementById("minimise");
  min.hidden = false;
  min.addEventListener("click", () => tellParent({ type: "close" }));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !document.querySelector("dialog[open]")) tellParent({ type: "close" });
  });
}

async function startChat(name) {
  const resp = await fetch("/widget/v1/chats", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ DisplayName: name, Attributes: { page: document.referrer || location.href } }),
  });
  const data = await resp.json().catch(() => ({}));
  // Only a full queue's and a rate limit's Message are written for the
  // customer; anything else is said plainly.
  if (!resp.ok) {
    throw new Error((resp.status === 503 || resp.status === 429) && data.Message ? data.Message
      : resp.status === 400 ? "Please check your name and try again."
        : "The chat could not start just now. Please try again in a few minutes.");
  }
  return data;
}

function newChat() {
  sessionStorage.removeItem(KEY);
  location.reload();
}

async function open(details) {
  startForm.hidden = true;
  actions.hidden = false;
  let view, waiting;
  const conn = new ChatConnection({
    details,
    onItem: (item) => { view.add(item); waiting?.item(item); },
    onState: (state) => view && view.setState(state),
  });
  view = new ChatView(app, conn, {
    me: details.ParticipantId, title: "Chat", shown: () => shown,
    onEnded: (hadFocus) => {
      const end = document.getElementById("end");
      const moveFocus = hadFocus || document.activeElement === end || document.activeElement === document.body;
      sessionStorage.removeItem(KEY);
      end.hidden = true;
      waiting?.stop();
      afterChat(view.root, () => conn.token, newChat);
      // The button pressed, or the composer, is gone: focus goes to what comes next.
      if (moveFocus) view.root.querySelector(".aftercare input, .aftercare button")?.focus();
    },
  });
  chatView = view;
  let loaded = false; // what the transcript brings back (after a reload) is not news
  view.onAdd = (item, mine) => {
    if (mine || shown || !loaded) return;
    unread++;
    tellParent({ type: "unread", count: unread });
  };
  document.getElementById("end").onclick = () => conn.disconnect().catch(() => conn.end());
  document.getElementById("transcript").onclick = () => view.downloadTranscript();
  try {
    await conn.connect();
    performance.mark("parley:connected");
    waiting = waitForAgent(view, conn);
    await conn.load();
    loaded = true;
    // To the composer, unless the customer has put focus somewhere (on
    // "End chat", say) while the chat loaded.
    const at = document.activeElement;
    if (!at || at === document.body || startForm.contains(at)) view.text.focus();
  } catch (e) {
    loaded = true;
    if (e.status === 403) { view.setState("ended"); conn.end(); return; }
    view.notice(`We could not connect you. ${plainError(e)}`, "error");
  }
}

startForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const err = document.getElementById("start-error");
  err.textContent = "";
  performance.mark("parley:start");
  try {
    const details = await startChat(document.getElementById("name").value.trim());
    sessionStorage.setItem(KEY, JSON.stringify(details));
    await open(details);
  } catch (ex) {
    err.textContent = ex instanceof TypeError ? plainError(ex) : ex.message;
  }
});

applyBranding();
const saved = sessionStorage.getItem(KEY);
if (saved) open(JSON.parse(saved));
