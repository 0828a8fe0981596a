// The chat view the widget and the agent console share: the message log,
// typing and read indicators, and a composer that sends text and files (by
// picker, drag-and-drop and paste) with upload progress, image previews,
// file cards, and clear messages when a file is refused or rejected.

import { INTERACTIVE, RESPONSE, renderInteractive, answerText } from "./interactive.js";

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

function inline(text) {
  const out = [];
  const re = /\*\*(.+?)\*\*|\*(.+?)\*|`(.+?)`|\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g;
  let last = 0, m;
  while ((m = re.exec(text))) {
    out.push(document.createTextNode(text.slice(last, m.index)));
    if (m[1]) out.push(el("strong", {}, m[1]));
    else if (m[2]) out.push(el("em", {}, m[2]));
    else if (m[3]) out.push(el("code", {}, m[3]));
    else out.push(el("a", { href: m[5], target: "_blank", rel: "noopener noreferrer nofollow" }, m[4]));
    last = re.lastIndex;
  }
  out.push(document.createTextNode(text.slice(last)));
  return out;
}

let limits = null; // the instance's attachment limits, fetched once

export class ChatView {
  // conn is a ChatConnection; me is this participant's id.
  constructor(root, conn, { me, title = "Chat", onEnded = () => {} }) {
    this.conn = conn;
    this.me = me;
    this.onEnded = onEnded;
    this.seen = new Set();
    this.messages = new Map(); // message id → its element, for receipts
    this.files = new Map(); // attachment id → its card
    this.typingTimer = null;

    this.log = el("ol", { class: "log", role: "log", "aria-live": "polite", "aria-label": title + " messages" });
    this.status = el("p", { class: "status", role: "status" });
    this.typingLine = el("p", { class: "typing", "aria-live": "polite" });
    this.uploads = el("div", { class: "uploads", "aria-label": "Uploads" });
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
    const off = state === "ended";
    for (const c of [this.text, this.sendButton, this.attachButton]) c.disabled = off;
    if (off) this.onEnded();
  }

  async send() {
    const text = this.text.value.trim();
    if (!text || this.conn.ended) return;
    this.text.value = "";
    try {
      await this.conn.sendMessage(text, "text/markdown");
    } catch (e) {
      this.notice(`Your message was not sent: ${e.message}`, "error");
      this.text.value = text;
    }
  }

  notice(text, kind = "info") {
    this.log.append(el("li", { class: "notice " + kind }, text));
    this.scroll();
  }

  scroll() { this.log.scrollTop = this.log.scrollHeight; }

  // add shows a chat item once (an attachment once per status).
  add(item) {
    const att = item.Attachments?.[0];
    const key = att ? att.AttachmentId + "/" + att.Status : item.Id;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const mine = item.ParticipantId === this.me;
    const who = mine ? "You" : item.DisplayName || item.ParticipantRole;
    if (item.Type === "MESSAGE") {
      const body = el("div", { class: "body" });
      if (item.ContentType === "text/markdown") body.append(renderMarkdown(item.Content));
      else if (item.ContentType === INTERACTIVE) {
        body.append(renderInteractive(item.Content, mine || this.conn.ended ? null : (json) => this.conn.sendMessage(json, RESPONSE)));
      } else if (item.ContentType === RESPONSE) body.append(el("p", {}, answerText(item.Content)));
      else body.append(el("p", {}, item.Content));
      const li = el("li", { class: "message" + (mine ? " mine" : ""), "data-id": item.Id },
        el("span", { class: "who" }, who), body, el("span", { class: "receipt" }));
      this.messages.set(item.Id, li);
      this.log.append(li);
      this.clearTyping();
      if (!mine && !this.conn.ended) this.conn.sendRead(item.Id);
    } else if (item.Type === "ATTACHMENT" && att) {
      this.showAttachment(item, att, mine, who);
    } else if (item.Type === "MESSAGEMETADATA") {
      const r = item.MessageMetadata?.Receipts?.[0];
      const li = this.messages.get(item.MessageMetadata?.MessageId);
      if (r && li && r.RecipientParticipantId !== this.me) {
        li.querySelector(".receipt").textContent = r.ReadTimestamp ? "Read" : "Delivered";
      }
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
    const fresh = el("li", { class: "message file" + (mine ? " mine" : ""), "data-attachment": att.AttachmentId, "data-status": att.Status },
      el("span", { class: "who" }, who));
    if (card) card.replaceWith(fresh); else this.log.append(fresh);
    this.files.set(att.AttachmentId, fresh);
    const info = el("div", { class: "card" }, el("span", { class: "name" }, att.AttachmentName),
      el("span", { class: "meta" }, att.ContentType || ""));
    fresh.append(info);
    if (att.Status === "IN_PROGRESS") {
      info.append(el("span", { class: "state" }, "Checking…"));
      return;
    }
    if (att.Status === "REJECTED") {
      fresh.classList.add("rejected");
      // Parley puts the reason in the item's Content; elsewhere GetAttachment says why.
      let reason = item.Content || "";
      if (!reason) try { await this.conn.attachment(att.AttachmentId); } catch (e) { reason = e.message; }
      info.append(el("span", { class: "state error", role: "alert" }, `${att.AttachmentName} was rejected. ${reason}`));
      return;
    }
    try {
      const a = await this.conn.attachment(att.AttachmentId);
      info.querySelector(".meta").textContent = `${att.ContentType} · ${formatSize(a.AttachmentSizeInBytes)}`;
      if (/^image\/(png|jpeg)$/.test(att.ContentType)) {
        const thumb = a.Url.replace(/\/attachments\/([^/?]+)\?/, "/attachments/$1/thumbnail?");
        fresh.insertBefore(el("img", { class: "preview", src: thumb, alt: `Preview of ${att.AttachmentName}` }), info);
      }
      info.append(el("button", { type: "button", class: "download", "aria-label": `Download ${att.AttachmentName}`,
        onclick: () => this.download(att.AttachmentId) }, "Download"));
    } catch (e) {
      info.append(el("span", { class: "state error" }, e.message));
    }
  }

  async download(id) {
    const a = await this.conn.attachment(id); // a fresh URL: they expire
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
      this.notice(`${file.name} was not sent: ${e.message}`, "error");
    }
  }

  transcriptText(items) {
    return items.filter((i) => i.Type === "MESSAGE" || i.Type === "ATTACHMENT").map((i) => {
      const who = i.DisplayName || i.ParticipantRole;
      const what = i.Type === "MESSAGE" ? i.Content : `[file ${i.Attachments[0].AttachmentName}, ${i.Attachments[0].Status}]`;
      return `${i.AbsoluteTime} ${who}: ${what}`;
    }).join("\n") + "\n";
  }

  async downloadTranscript() {
    const blob = new Blob([this.transcriptText(await this.conn.transcript())], { type: "text/plain" });
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: "chat-transcript.txt" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }
}

export { el };
