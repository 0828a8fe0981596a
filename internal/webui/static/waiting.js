// While no agent has joined: "connecting you to an agent", with the place
// in the queue and the wait to expect, asked of the server every few
// seconds until an agent joins or the chat ends.
const EVENT = "application/vnd.amazonaws.connect.event.";

export function waitForAgent(view, conn) {
  const line = document.createElement("p");
  line.className = "waiting-line";
  line.setAttribute("role", "status");
  line.textContent = "Connecting you to an agent…";
  view.root.insertBefore(line, view.log);
  let done = false;
  const stop = () => { done = true; line.remove(); };
  const poll = async () => {
    if (done || conn.ended) return stop();
    if (conn.token) {
      try {
        const resp = await fetch("/widget/v1/status", { method: "POST", headers: { "X-Amz-Bearer": conn.token } });
        const s = await resp.json();
        if (s.State && s.State !== "QUEUED") return stop();
        if (s.Position) {
          let text = `Connecting you to an agent… You are number ${s.Position} in line.`;
          if (s.ExpectedWaitSeconds) {
            const min = Math.max(1, Math.round(s.ExpectedWaitSeconds / 60));
            text += ` Expected wait: about ${min} minute${min === 1 ? "" : "s"}.`;
          }
          line.textContent = text;
        }
      } catch { /* try again shortly */ }
    }
    setTimeout(poll, 5000);
  };
  poll();
  return {
    // item stops the wait when an agent joins.
    item(item) {
      if (item.ContentType === EVENT + "participant.joined" && item.ParticipantRole === "AGENT") stop();
    },
    stop,
  };
}
