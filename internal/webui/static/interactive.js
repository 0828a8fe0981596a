// Connect's interactive messages in the chat view: ListPicker, QuickReply
// and Panel as buttons the customer taps, TimePicker as its slots; the
// choice goes back as an interactive response. Text only ever becomes
// text, never HTML.
export const INTERACTIVE = "application/vnd.amazonaws.connect.message.interactive";
export const RESPONSE = INTERACTIVE + ".response";

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null && c !== "") e.append(c);
  return e;
}

const str = (v) => (typeof v === "string" ? v : "");

// response is what a choice sends back: the template, its title and the
// element chosen.
export function response(msg, chosen) {
  return JSON.stringify({ templateType: msg.templateType, version: "1.0",
    data: { content: { title: str(msg.data?.content?.title), elements: [chosen] } } });
}

// renderInteractive returns the element showing an interactive message;
// onAnswer(json) sends the response, or is null where the viewer cannot
// answer (the sender's own message).
export function renderInteractive(content, onAnswer) {
  let msg;
  try { msg = JSON.parse(content); } catch { return el("p", {}, content); }
  const c = msg?.data?.content || {};
  const box = el("div", { class: "interactive " + str(msg.templateType).toLowerCase(), "data-template": str(msg.templateType) },
    el("p", { class: "interactive-title" }, str(c.title)), c.subtitle ? el("p", { class: "interactive-subtitle" }, str(c.subtitle)) : null);
  const choices = msg.templateType === "TimePicker"
    ? (c.timeslots || []).map((s) => ({ element: s, label: new Date(s.date).toLocaleString() + ` (${s.duration} min)` }))
    : ["ListPicker", "QuickReply", "Panel"].includes(msg.templateType)
      ? (c.elements || []).map((e) => ({ element: e, label: str(e.title), sub: str(e.subtitle) }))
      : null;
  if (!choices) {
    box.append(el("p", { class: "interactive-unsupported" }, `[${str(msg.templateType) || "interactive"} message]`));
    return box;
  }
  const list = el("div", { class: "interactive-choices", role: "group", "aria-label": str(c.title) || "Choices" });
  for (const ch of choices) {
    const b = el("button", { type: "button", class: "interactive-choice" }, ch.label, ch.sub ? el("small", {}, ch.sub) : null);
    b.choice = ch.element;
    if (!onAnswer) b.disabled = true;
    b.addEventListener("click", async () => {
      for (const o of list.querySelectorAll("button")) o.disabled = true;
      b.classList.add("chosen");
      try {
        await onAnswer(response(msg, ch.element));
      } catch {
        for (const o of list.querySelectorAll("button")) o.disabled = false;
        b.classList.remove("chosen");
      }
    });
    list.append(b);
  }
  box.append(list);
  return box;
}

// answerText is how a response reads in the log: the choice's title.
export function answerText(content) {
  try {
    const e = JSON.parse(content)?.data?.content?.elements?.[0];
    return str(e?.title) || (e?.date ? new Date(e.date).toLocaleString() : content);
  } catch {
    return content;
  }
}

// answers says whether a response answers an interactive message: the same
// template and title (a response names no message).
export function answers(question, answer) {
  try {
    const q = JSON.parse(question), a = JSON.parse(answer);
    return q?.templateType === a?.templateType && str(q?.data?.content?.title) === str(a?.data?.content?.title);
  } catch {
    return false;
  }
}

// markAnswered shows an interactive message as answered by a response: its
// choices off, the one chosen marked (after a reload, as when tapped).
export function markAnswered(box, answer) {
  let chosen;
  try { chosen = JSON.stringify(JSON.parse(answer)?.data?.content?.elements?.[0]); } catch { /* none marked */ }
  for (const b of box.querySelectorAll("button.interactive-choice")) {
    b.disabled = true;
    if (chosen !== undefined && JSON.stringify(b.choice) === chosen) b.classList.add("chosen");
  }
}
