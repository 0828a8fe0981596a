// The console's transfer controls: hand a chat to another agent, or back to
// the queue. The agent leaves the chat once the transfer is made; the other
// agent finds it in their queue, marked as transferred to them.
import { el } from "./chatview.js";

export function transferControls(agentAPI, contactId, onError) {
  const pick = el("select", { "aria-label": "Transfer to" }, el("option", { value: "" }, "the queue"));
  const go = el("button", { type: "button" }, "Transfer");
  const box = el("div", { class: "transfer" }, el("label", {}, "Transfer to "), pick, go);
  agentAPI("GET", "/agent/v1/agents").then(async ({ Agents }) => {
    const me = await agentAPI("GET", "/agent/v1/me");
    for (const a of Agents) if (a.Id !== me.Id) pick.append(el("option", { value: a.Id }, a.Name));
  }).catch(() => {});
  go.addEventListener("click", async () => {
    go.disabled = true;
    try {
      const body = JSON.stringify(pick.value ? { AgentId: pick.value } : {});
      await agentAPI("POST", `/agent/v1/chats/${encodeURIComponent(contactId)}/transfer`, body);
      box.hidden = true;
    } catch (e) {
      onError(e.message);
    } finally {
      go.disabled = false;
    }
  });
  return box;
}
