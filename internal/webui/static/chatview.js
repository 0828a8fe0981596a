// The chat view the widget and the agent console share: the message log,
// typing and read indicators, and a composer that sends text and files (by
// picker, drag-and-drop and paste) with upload progress, image previews,
// file cards, and clear messages when a file is refused or rejected.

import { INTERACTIVE, RESPONSE, renderInteractive, answerText, answers, markAnswered } from "./interactive.js";

const EVENT = "application/vnd.amazonaws.connect.event.";

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

export function formatSize(n) {
  if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + " MB";
  if (n >= 1 << 10) return (n / (1 << 10)).toFixed(1) + " KB";
  return n + " B";
}

// renderMarkdown turns a small, safe subset of Markdown into DOM nodes:
// paragraphs, line breaks, "- " lists, **bold**, *italic*, `code` and
// [links](https://…). Text only ever becomes text nodes; nothing is parsed
// as HTML.
export function renderMarkdown(src) {
  const frag = document.createDocumentFragment();
  let list = null;
  for (const line of src.split("\n")) {
    const item = /^\s*[-*] (.*)$/.exec(line);
    if (item) {
      if (!list) frag.append(list = el("ul"));
      list.append(el("li", {}, ...inline(item[1])));
      continue;
    }
    list = null;
    frag.append(el("p", {}, ...inline(line)));
  }
  return frag;
}

const URL_RE = "https?:\\/\\/[^\\s<>]*[^\\s<>.,;:!?)\\]'\"]";
const link = (href, text) => el("a", { href, target: "_blank", rel: "noopener noreferrer nofollow" }, text);

function inline(text) {
  const out = [];
  const re = new RegExp("\\*\\*(.+?)\\*\\*|\\*(.+?)\\*|`(.+?)`|\\[([^\\]]+)\\]\\((https?:\\/\\/[^\\s)]+)\\)|(" + URL_RE + ")", "g");
  let last = 0, m;
  while ((m = re.exec(text))) {
    out.push(document.createTextNode(text.slice(last, m.index)));
    if (m[1]) out.push(el("strong", {}, m[1]));
    else if (m[2]) out.push(el("em", {}, m[2]));
    else if (m[3]) out.push(el("code", {}, m[3]));
    else if (m[6]) out.push(link(m[6], m[6]));
    else out.push(link(m[5], m[4]));
    last = re.lastIndex;
  }
  out.push(document.createTextNode(text.slice(last)));
  return out;
}

// linkify makes plain URLs in plain text links; nothing else is parsed.
export function linkify(text) {
  const out = [];
  const re = new RegExp(URL_RE, "g");
  let last = 0, m;
  while ((m = re.exec(text))) {
    out.push(document.createTextNode(text.slice(last, m.index)), link(m[0], m[0]));
    last = re.lastIndex;
  }
  out.push(document.createTextNode(text.slice(last)));
  return out;
}

// plainError says what went wrong in words for a customer, never the
// server's own message (written for developers) or the browser's.
export function plainError(e) {
  const status = e?.status;
  if (!status) return "We could not reach the chat service. Check your connection.";
  if (status === 403 || status === 410) return "This chat has ended.";
  if (status === 429) return "You are sending too quickly. Wait a moment and try again.";
  if (status === 413) return "That is too large to send.";
  if (status >= 500) return "Something went wrong on our side. Please try again.";
  return "That could not be sent.";
}

// plainReason says why a file was rejected without MIME types, which
// mean nothing to a customer.
export function plainReason(reason) {
  if (!reason) return "It did not pass our checks.";
  const m = /not what a (\.[\w-]+) file holds/.exec(reason);
  if (m) return `Its content is not what a ${m[1]} file holds.`;
  return reason.replace(/\b[a-z]+\/[a-z0-9][\w.+-]*\b/gi, "another type");
}

// kind names a file's type in words, not as a MIME type.
function kind(name) {
  const ext = name.includes(".") ? name.split(".").pop().toLowerCase() : "";
  const words = { pdf: "PDF document", png: "PNG image", jpg: "JPEG image", jpeg: "JPEG image", gif: "GIF image",
    txt: "text file", csv: "spreadsheet (CSV)", doc: "Word document", docx: "Word document", xls: "Excel sheet",
    xlsx: "Excel sheet", ppt: "presentation", pptx: "presentation", heic: "photo", mp4: "video", wav: "audio" };
  return words[ext] || (ext ? ext.toUpperCase() + " file" : "file");
}

const clock = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

let limits = null; // the instance's attachment limits, fetched once

export class ChatView {
  // conn is a ChatConnection; me is this participant's id.
  // attachment(id) and transcript() default to the participant API; the
  // console passes its own, which still answer after the chat ends.
  // markdown says whether the chat takes text/markdown (its
  // SupportedMessagingContentTypes); otherwise messages go as text/plain.
  // shown() says whether the view is in sight (the console's tab is
  // selected, the embedded widget open): only then are messages marked read.
  // answers says whether the viewer answers interactive messages: the
  // customer does; an agent sees them but does not choose for the customer.
  constructor(root, conn, { me, title = "Chat", onEnded = () => {}, attachment, transcript, markdown = true, shown = () => true, answers = true }) {
    this.shown = shown;
    this.answersInteractive = answers;
    this.unreadIds = []; // messages of the others not yet marked read
    this.contentType = markdown ? "text/markdown" : "text/plain";
    this.conn = conn;
    this.me = me;
    this.onEnded = onEnded;
    this.getAttachment = attachment || ((id) => this.conn.attachment(id));
    this.getTranscript = transcript || null;
    this.items = new Map(); // every item seen, by id: the transcript kept for download
    this.onAdd = () => {}; // the page's hook on each new item shown
    this.seen = new Set();
    this.messages = new Map(); // message id → its element, for receipts
    this.files = new Map(); // attachment id → its card
    this.fileItems = new Map(); // attachment item id → attachment id, for receipts
    this.typingTimer = null;
    this.questions = []; // interactive messages of the others not answered yet: {box, content}

    this.log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": title + " messages" });
    this.status = el("p", { class: "status", role: "status" });
    this.typingLine = el("p", { class: "typing", "aria-live": "polite" });
    this.uploads = el("div", { class: "uploads", role: "group", "aria-label": "Uploads" });
    this.text = el("textarea", { rows: "2", placeholder: "Type a message", "aria-label": "Message" });
    this.fileInput = el("input", { type: "file", multiple: "", class: "visually-hidden", "aria-label": "Attach files", tabindex: "-1" });
    this.attachButton = el("button", { type: "button", class: "attach", "aria-label": "Attach a file", title: "Attach a file (or drop or paste one)" }, "Attach");
    this.sendButton = el("button", { type: "submit", class: "send" }, "Send");
    this.form = el("form", { class: "composer", "aria-label": "Send a message" }, this.attachButton, this.fileInput, this.text, this.sendButton);
    this.drop = el("div", { class: "dropzone", "aria-hidden": "true" }, "Drop files to send them");
    this.root = el("section", { class: "chat", "aria-label": title }, this.status, this.log, this.typingLine, this.uploads, this.form, this.drop);
    root.append(this.root);

    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.send(); });
    this.text.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); this.send(); }
    });
    this.text.addEventListener("input", () => this.conn.typing());
    this.text.addEventListener("paste", (e) => {
      const files = [...(e.clipboardData?.files || [])];
      if (files.length) { e.preventDefault(); files.forEach((f) => this.upload(f)); }
    });
    this.attachButton.addEventListener("click", () => this.fileInput.click());
    this.fileInput.addEventListener("change", () => { [...this.fileInput.files].forEach((f) => this.upload(f)); this.fileInput.value = ""; });
    this.root.addEventListener("dragover", (e) => { e.preventDefault(); this.root.classList.add("dragging"); });
    this.root.addEventListener("dragleave", (e) => { if (e.target === this.drop || !this.root.contains(e.relatedTarget)) this.root.classList.remove("dragging"); });
    this.root.addEventListener("drop", (e) => {
      e.preventDefault();
      this.root.classList.remove("dragging");
      [...(e.dataTransfer?.files || [])].forEach((f) => this.upload(f));
    });
  }

  setState(state) {
    this.root.dataset.state = state;
    this.status.textContent = { connecting: "Connecting…", reconnecting: "Reconnecting…", ended: "This chat has ended.", connected: "" }[state] ?? "";
    // Ending disables the composer and the page hides its "End chat":
    // whether focus was there says if the page must move it (onEnded's
    // argument), or it falls to the body.
    const hadFocus = this.root.contains(document.activeElement);
    this.composerOff();
    if (state === "ended") this.onEnded(hadFocus);
  }

  // setSilent turns the composer off while the viewer monitors the chat
  // silently (the service refuses what a silent monitor sends), and on
  // again once they barge in.
  setSilent(on) {
    this.silent = on;
    this.text.placeholder = on ? "You are monitoring silently: barge in to write" : "Type a message";
    this.composerOff();
  }

  composerOff() {
    const off = this.root.dataset.state === "ended" || !!this.silent;
    for (const c of [this.text, this.sendButton, this.attachButton]) c.disabled = off;
  }

  async send(text = this.text.value.trim()) {
    if (!text || this.conn.ended) return;
    this.text.value = "";
    try {
      await this.conn.sendMessage(text, this.contentType);
    } catch (e) {
      // The message stays on screen with a retry, in plain words.
      const retry = el("button", { type: "button", class: "retry" }, "Retry");
      const li = this.notice(`Your message “${text.length > 60 ? text.slice(0, 60) + "…" : text}” was not sent. ${plainError(e)}`, "error", retry);
      // The notice goes with the button that had focus: focus goes to the composer.
      retry.addEventListener("click", () => { li.remove(); this.text.focus(); this.send(text); });
    }
  }

  notice(text, kind = "info", ...extra) {
    const li = el("div", { class: "notice " + kind }, text, ...extra);
    this.log.append(li);
    this.scroll();
    return li;
  }

  // applyReceipts shows the best receipt the other side gave a message of
  // mine: from the transcript's MessageMetadata, or a receipt item.
  applyReceipts(li, receipts) {
    if (!li || !li.classList.contains("mine")) return;
    const others = (receipts || []).filter((r) => r.RecipientParticipantId !== this.me);
    const label = others.some((r) => r.ReadTimestamp) ? "Read" : others.some((r) => r.DeliveredTimestamp) ? "Delivered" : "";
    const span = li.querySelector(":scope > .receipt");
    if (label && span && span.textContent !== "Read") span.textContent = label;
  }

  // header is a message's sender and time; consecutive messages of one
  // sender within two minutes are grouped under the first one's.
  header(li, item, who) {
    const prev = this.log.lastElementChild;
    const at = Date.parse(item.AbsoluteTime) || Date.now();
    if (prev && prev.dataset.from === (item.ParticipantId || "") && at - Number(prev.dataset.at) < 120000) li.classList.add("grouped");
    li.dataset.from = item.ParticipantId || "";
    li.dataset.at = String(at);
    return el("span", { class: "who" }, who, " ", el("time", { datetime: item.AbsoluteTime || new Date(at).toISOString() }, clock(at)));
  }

  scroll() { this.log.scrollTop = this.log.scrollHeight; }

  // add shows a chat item once (an attachment once per status).
  add(item) {
    const att = item.Attachments?.[0];
    const key = att ? att.AttachmentId + "/" + att.Status : item.Id;
    if (item.Type === "MESSAGEMETADATA") {
      const id = item.MessageMetadata?.MessageId;
      this.applyReceipts(this.messages.get(id) || this.files.get(this.fileItems.get(id)), item.MessageMetadata?.Receipts);
      return;
    }
    if (this.seen.has(key)) {
      // Seen already: a transcript read may still bring its receipts.
      if (item.MessageMetadata?.Receipts) this.applyReceipts(this.messages.get(item.Id) || this.files.get(att?.AttachmentId), item.MessageMetadata.Receipts);
      return;
    }
    this.seen.add(key);
    if (item.Type === "MESSAGE" || item.Type === "ATTACHMENT" || item.ContentType?.startsWith(EVENT + "participant.") || item.ContentType === EVENT + "chat.ended") {
      this.items.set(item.Id, item);
    }
    const mine = item.ParticipantId === this.me;
    const who = mine ? "You" : item.DisplayName || item.ParticipantRole;
    if (item.Type === "MESSAGE") {
      const body = el("div", { class: "body" });
      if (item.ContentType === "text/markdown") body.append(renderMarkdown(item.Content));
      else if (item.ContentType === INTERACTIVE) {
        const box = renderInteractive(item.Content, mine || this.conn.ended || !this.answersInteractive ? null : (json) => this.conn.sendMessage(json, RESPONSE));
        body.append(box);
        if (!mine) this.questions.push({ box, content: item.Content });
      } else if (item.ContentType === RESPONSE) {
        body.append(el("p", {}, answerText(item.Content)));
        // My answer (read back from the transcript after a reload, too)
        // closes the latest question it answers: it is not answered twice.
        const i = mine ? this.questions.findLastIndex((q) => answers(q.content, item.Content)) : -1;
        if (i >= 0) markAnswered(this.questions.splice(i, 1)[0].box, item.Content);
      }
      else body.append(el("p", {}, ...linkify(item.Content)));
      const li = el("div", { class: "message" + (mine ? " mine" : ""), "data-id": item.Id });
      li.append(this.header(li, item, who), body, el("span", { class: "receipt" }));
      this.messages.set(item.Id, li);
      this.log.append(li);
      this.applyReceipts(li, item.MessageMetadata?.Receipts);
      if (!mine) this.clearTyping(); // the typist's message came; mine says nothing of theirs
      if (!mine && !this.conn.ended && !item.MessageMetadata?.Receipts?.some((r) => r.RecipientParticipantId === this.me && r.ReadTimestamp)) {
        this.unreadIds.push(item.Id);
        this.markRead();
      }
      this.onAdd(item, mine);
    } else if (item.Type === "ATTACHMENT" && att) {
      this.showAttachment(item, att, mine, who);
      if (att.Status !== "IN_PROGRESS") this.onAdd(item, mine);
    } else if (item.ContentType === EVENT + "typing") {
      if (!mine) this.showTyping(who);
    } else if (item.ContentType?.startsWith(EVENT + "participant.")) {
      const change = item.ContentType.slice((EVENT + "participant.").length);
      const text = { joined: "joined the chat", left: "left the chat", idle: "is idle", returned: "is back", invited: "was invited to the chat" }[change];
      if (text && !mine) this.notice(`${who} ${text}`);
    } else if (item.ContentType === EVENT + "chat.ended") {
      this.notice("The chat has ended.");
    } else if (item.ContentType === EVENT + "transfer.succeeded" || item.ContentType === EVENT + "transfer.failed") {
      this.notice(item.ContentType.endsWith("succeeded") ? "The chat was transferred." : "The transfer failed.");
    } else if (item.ContentType === EVENT + "chat.rehydrated") {
      this.notice("The earlier conversation is above.");
    }
    this.scroll();
  }

  // markRead sends the read receipts of the messages shown while the view
  // was out of sight; the page calls it when the view comes into sight.
  markRead() {
    if (!this.shown() || this.conn.ended) return;
    for (const id of this.unreadIds.splice(0)) this.conn.sendRead(id);
  }

  showTyping(who) {
    this.typingLine.textContent = `${who} is typing…`;
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.clearTyping(), 4000);
  }

  clearTyping() { this.typingLine.textContent = ""; }

  // showAttachment shows a file card, replaced in place when its status
  // changes: a preview for images, size and type for everything.
  async showAttachment(item, att, mine, who) {
    let card = this.files.get(att.AttachmentId);
    const fresh = el("div", { class: "message file" + (mine ? " mine" : ""), "data-attachment": att.AttachmentId, "data-status": att.Status });
    if (card) {
      fresh.append(card.querySelector(".who"));
      fresh.className = card.className;
      card.replaceWith(fresh);
    } else {
      fresh.append(this.header(fresh, item, who));
      this.log.append(fresh);
    }
    this.files.set(att.AttachmentId, fresh);
    this.fileItems.set(item.Id, att.AttachmentId);
    const info = el("div", { class: "card" }, el("span", { class: "name" }, att.AttachmentName),
      el("span", { class: "meta" }, kind(att.AttachmentName)));
    // The receipt the other side gave the file, kept across its statuses.
    fresh.append(info, el("span", { class: "receipt" }, card?.querySelector(":scope > .receipt")?.textContent || ""));
    this.applyReceipts(fresh, item.MessageMetadata?.Receipts);
    if (att.Status === "IN_PROGRESS") {
      info.append(el("span", { class: "state" }, "Checking…"));
      return;
    }
    if (att.Status === "REJECTED") {
      fresh.classList.add("rejected");
      // Parley puts the reason in the item's Content; elsewhere GetAttachment says why.
      // The verdict's reason is written for the sender (Parley's own
      // words); without one, say it plainly.
      const reason = plainReason(item.Content);
      info.append(el("span", { class: "state error", role: "alert" }, `${att.AttachmentName} was rejected. ${reason}`));
      return;
    }
    try {
      const a = await this.getAttachment(att.AttachmentId);
      info.querySelector(".meta").textContent = `${kind(att.AttachmentName)} · ${formatSize(a.AttachmentSizeInBytes)}`;
      if (/^image\/(png|jpeg)$/.test(att.ContentType)) {
        const thumb = a.Url.replace(/\/attachments\/([^/?]+)\?/, "/attachments/$1/thumbnail?");
        const open = el("button", { type: "button", class: "preview-open", "aria-label": `View ${att.AttachmentName}`,
          onclick: () => this.lightbox(att) }, el("img", { class: "preview", src: thumb, alt: `Preview of ${att.AttachmentName}` }));
        fresh.insertBefore(open, info);
      }
      info.append(el("button", { type: "button", class: "download", "aria-label": `Download ${att.AttachmentName}`,
        onclick: () => this.download(att.AttachmentId) }, "Download"));
    } catch (e) {
      info.append(el("span", { class: "state error" }, plainError(e)));
    }
  }

  // lightbox shows an image whole, in a modal dialog that Escape closes.
  async lightbox(att) {
    let a;
    try { a = await this.getAttachment(att.AttachmentId); } catch (e) { this.notice(plainError(e), "error"); return; }
    const close = el("button", { type: "button", class: "close" }, "Close");
    const dialog = el("dialog", { class: "lightbox", "aria-label": att.AttachmentName },
      el("img", { src: a.Url, alt: att.AttachmentName }), el("p", {}, att.AttachmentName, " ", close));
    close.addEventListener("click", () => dialog.close());
    dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
    dialog.addEventListener("close", () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
    close.focus();
  }

  async download(id) {
    let a;
    try { a = await this.getAttachment(id); } catch (e) { this.notice(plainError(e), "error"); return; } // a fresh URL: they expire
    const link = el("a", { href: a.Url, download: "" });
    document.body.append(link);
    link.click();
    link.remove();
  }

  // refusal says why the instance will not take a file, before uploading
  // it; the server checks the same rules.
  async refusal(file) {
    limits ??= fetch("/widget/v1/attachment-limits").then((r) => (r.ok ? r.json() : null)).catch(() => null);
    const l = await limits;
    if (!l) return "";
    const ext = file.name.includes(".") ? file.name.split(".").pop().toLowerCase() : "";
    if (!l.AllowedExtensions.includes(ext)) {
      return `Files of type .${ext} are not accepted; accepted types are .${l.AllowedExtensions.join(", .")}.`;
    }
    if (file.size > l.MaximumSizeLimitInBytes) {
      return `The file is ${formatSize(file.size)}; this chat accepts files up to ${formatSize(l.MaximumSizeLimitInBytes)}.`;
    }
    return "";
  }

  // upload sends a file, with a progress bar while it goes.
  async upload(file) {
    if (this.conn.ended) return;
    const refused = await this.refusal(file);
    if (refused) {
      this.notice(`${file.name} was not sent: ${refused}`, "error");
      return;
    }
    const bar = el("progress", { max: "100", value: "0", "aria-label": `Uploading ${file.name}` });
    const row = el("div", { class: "upload" }, el("span", { class: "name" }, file.name), bar);
    this.uploads.append(row);
    try {
      await this.conn.sendAttachment(file, (done, total) => { bar.value = Math.round((100 * done) / total); });
      row.remove();
    } catch (e) {
      row.remove();
      const retry = el("button", { type: "button", class: "retry" }, "Retry");
      const li = this.notice(`${file.name} was not sent. ${plainError(e)}`, "error", retry);
      retry.addEventListener("click", () => { li.remove(); this.text.focus(); this.upload(file); });
    }
  }

  transcriptText(items) {
    return items.filter((i) => i.Type === "MESSAGE" || i.Type === "ATTACHMENT").map((i) => {
      const who = i.DisplayName || i.ParticipantRole;
      const what = i.Type === "MESSAGE" ? i.Content : `[file ${i.Attachments[0].AttachmentName}, ${i.Attachments[0].Status}]`;
      return `${i.AbsoluteTime} ${who}: ${what}`;
    }).join("\n") + "\n";
  }

  // downloadTranscript saves what the page has seen (the customer's token
  // no longer reads the transcript once the chat ends), or, for the console,
  // what its own API answers.
  async downloadTranscript() {
    let items = [...this.items.values()];
    if (this.getTranscript) try { items = await this.getTranscript(); } catch (e) { /* keep what was seen */ }
    const blob = new Blob([this.transcriptText(items)], { type: "text/plain" });
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: "chat-transcript.txt" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }
}

export { el };
