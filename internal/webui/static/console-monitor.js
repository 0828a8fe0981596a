// The console's supervisor controls: monitor a chat by its contact id (as
// MonitorContact does, or taking the participant MonitorContact made),
// silently, and barge in when allowed.
import { el } from "./chatview.js";

export function monitorForm(agentAPI, openChat, onError) {
  const id = el("input", { "aria-label": "Contact id to monitor", placeholder: "Contact id", required: "" });
  const form = el("form", { class: "monitor", "aria-label": "Monitor a chat" }, el("h2", {}, "Monitor"), id,
    el("button", { type: "submit" }, "Monitor"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const m = await agentAPI("POST", `/agent/v1/chats/${encodeURIComponent(id.value.trim())}/monitor`,
        JSON.stringify({ Capabilities: ["SILENT_MONITOR", "BARGE"] }));
      openChat({ ...m, CustomerName: `Monitoring ${m.ContactId.slice(0, 8)}`, Monitoring: true });
      id.value = "";
    } catch (ex) {
      onError(ex.message);
    }
  });
  return form;
}

// onBarged runs once the supervisor takes part (and may write).
export function bargeButton(agentAPI, chat, onError, onBarged = () => {}) {
  const b = el("button", { type: "button" }, "Barge in");
  if (chat.Barged || !(chat.Capabilities || []).includes("BARGE")) b.hidden = true;
  b.addEventListener("click", async () => {
    try {
      await agentAPI("POST", `/agent/v1/chats/${encodeURIComponent(chat.ContactId)}/barge`);
      b.hidden = true;
      onBarged();
    } catch (ex) {
      onError(ex.message);
    }
  });
  return b;
}
