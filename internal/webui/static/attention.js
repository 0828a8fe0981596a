// Never miss work: the tab's title counts waiting and unread chats, and,
// if the agent turns them on, a sound and a desktop notification announce
// a new waiting chat or a message in a chat not in view.
const base = document.title;
const unread = new Map(); // contact id → unread messages
let waitingTotal = 0;
let known = null; // contact ids waiting at the last read (null before the first)
const PREFS = "parley.agent.alerts";
let alerts = localStorage.getItem(PREFS) === "on";

function title() {
  const n = [...unread.values()].reduce((a, b) => a + b, 0);
  const parts = [];
  if (waitingTotal) parts.push(`${waitingTotal} waiting`);
  if (n) parts.push(`${n} unread`);
  document.title = parts.length ? `(${parts.join(", ")}) ${base}` : base;
}

function beep() {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    gain.gain.value = 0.08;
    osc.frequency.value = 880;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.15);
    osc.onended = () => ctx.close();
  } catch { /* no audio here */ }
}

function notify(text) {
  if (!alerts) return;
  beep();
  if ("Notification" in window && Notification.permission === "granted" && !document.hasFocus()) {
    new Notification("Parley", { body: text, tag: "parley", icon: "/static/icon.svg" });
  }
}

export const attention = {
  waiting(total, ids) {
    waitingTotal = total;
    title();
    if (known && ids.some((id) => !known.has(id))) notify(`${total} waiting for an agent`);
    known = new Set(ids);
  },
  unread(contactId, n) {
    if (n) unread.set(contactId, n); else unread.delete(contactId);
    title();
  },
  message(name, item) {
    notify(`${name}: ${item.Type === "MESSAGE" ? item.Content.slice(0, 80) : "sent a file"}`);
  },
};

// The switch for sound and notifications: asking for the browser's
// permission only when the agent turns them on.
const toggle = document.getElementById("alerts");
if (toggle) {
  toggle.checked = alerts;
  toggle.addEventListener("change", async () => {
    alerts = toggle.checked;
    localStorage.setItem(PREFS, alerts ? "on" : "off");
    if (alerts && "Notification" in window && Notification.permission === "default") {
      try { await Notification.requestPermission(); } catch { /* refused */ }
    }
  });
}
