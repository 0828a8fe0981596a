// A participant's connection to a chat, for Parley's web pages: the
// Participant Service API and the websocket protocol, exactly as ChatJS
// speaks them (subscribe, heartbeat, ping; items on topic aws/chat), with
// reconnection and catch-up from the transcript.

export class ApiError extends Error {
  constructor(type, message, status) {
    super(message);
    this.type = type;
    this.status = status;
  }
}

const EVENT = "application/vnd.amazonaws.connect.event.";

// keptInTranscript reports whether the service keeps an item, so that a
// catch-up can start from it.
function keptInTranscript(item) {
  if (item.Type === "MESSAGE" || item.Type === "ATTACHMENT") return true;
  return item.Type === "EVENT" && ["participant.joined", "participant.left", "chat.ended"]
    .some((k) => item.ContentType === EVENT + k);
}

export class ChatConnection {
  // details: {ContactId, ParticipantId, ParticipantToken}; onItem(item) gets
  // every chat item; onState(state) gets "connecting", "connected",
  // "reconnecting" or "ended".
  // connection(), if given, opens the connection instead of
  // CreateParticipantConnection with details.ParticipantToken (the console
  // asks its own API, for chats its agent holds).
  constructor({ endpoint = location.origin, details, onItem, onState, connection }) {
    this.endpoint = endpoint;
    this.details = details;
    this.onItem = onItem;
    this.connection = connection || (() => this.api("/participant/connection",
      { Type: ["WEBSOCKET", "CONNECTION_CREDENTIALS"], ConnectParticipant: true }, this.details.ParticipantToken));
    this.lastItem = ""; // the newest transcript item seen, to catch up from
    this.reconnecting = null; // the one reconnect loop running, if any
    this.onState = onState || (() => {});
    this.token = null;
    this.ws = null;
    this.ended = false;
    this.attempt = 0;
    this.lastTyping = 0;
    this.heartbeat = null;
    this.opening = null; // the first connection, which sends wait for
    this.held = null; // what the socket pushed while the transcript is read
  }

  async api(path, body, bearer = this.token) {
    const resp = await fetch(this.endpoint + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Amz-Bearer": bearer },
      body: JSON.stringify(body || {}),
    });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const type = (resp.headers.get("x-amzn-errortype") || String(resp.status)).split(":")[0];
      throw new ApiError(type, data.Message || data.message || resp.statusText, resp.status);
    }
    return data;
  }

  // connect opens the first connection. One refused for a while (a 429, a
  // 5xx, the network, a socket closed before subscribing) is tried again
  // as a reconnect is; a 4xx answer is final.
  async connect() {
    this.onState("connecting");
    this.opening = this.open().catch((e) => {
      // (The console's connection() throws its API's errors, with a status too.)
      if (e?.status >= 400 && e.status < 500 && e.status !== 429) throw e;
      return this.reconnect();
    });
    await this.opening;
  }

  // call is api with the connection token. What the page sends before the
  // first connection opens (a message typed while "Connecting…") waits for
  // it rather than going out without a token and failing.
  async call(path, body) {
    if (!this.token && this.opening) await this.opening.catch(() => {});
    return this.api(path, body);
  }

  async open() {
    const out = await this.connection();
    this.token = out.ConnectionCredentials.ConnectionToken;
    await new Promise((resolve, reject) => {
      const ws = new WebSocket(out.Websocket.Url);
      this.ws = ws;
      let subscribed = false;
      ws.onopen = () => ws.send(JSON.stringify({ topic: "aws/subscribe", content: { topics: ["aws/chat"] } }));
      ws.onmessage = (m) => {
        let frame;
        try { frame = JSON.parse(m.data); } catch { return; }
        if (frame.topic === "aws/subscribe") {
          subscribed = true;
          this.attempt = 0;
          this.onState("connected");
          resolve();
        } else if (frame.topic === "aws/chat") {
          let item;
          try { item = JSON.parse(frame.content); } catch { return; }
          if (this.held) this.held.push(item);
          else this.deliver(item);
          if (item.ContentType === EVENT + "chat.ended") this.end();
        }
      };
      let beat;
      ws.onclose = () => {
        clearInterval(beat); // this socket's, not a newer one's
        if (!subscribed) reject(new Error("the websocket closed before subscribing"));
        if (ws === this.ws && !this.ended) this.reconnect();
      };
      clearInterval(this.heartbeat);
      this.heartbeat = beat = setInterval(() => {
        if (ws.readyState === WebSocket.OPEN) {
          ws.send(JSON.stringify({ topic: "aws/heartbeat" }));
          ws.send(JSON.stringify({ topic: "aws/ping" }));
        }
      }, 10000);
    });
  }

  // deliver passes an item to the page and remembers the newest one the
  // transcript keeps, as the Go SDK does.
  deliver(item) {
    if (keptInTranscript(item)) this.lastItem = item.Id;
    this.onItem(item);
  }

  // reconnect starts the reconnect loop unless it runs already: a socket
  // the loop opens may close before subscribing (a 429 or 503 on upgrade),
  // and its close must not start a second loop beside the first.
  reconnect() {
    if (!this.reconnecting) {
      this.reconnecting = this.reconnectLoop().finally(() => { this.reconnecting = null; });
    }
    return this.reconnecting;
  }

  async reconnectLoop() {
    this.onState("reconnecting");
    while (!this.ended) {
      this.attempt++;
      const delay = Math.min(30000, 500 * 2 ** (this.attempt - 1)) * (0.7 + 0.6 * Math.random());
      await new Promise((r) => setTimeout(r, delay));
      if (this.ended) return;
      try {
        await this.open();
        // What came while the socket was down: the transcript after the
        // last item seen (the page de-duplicates by item).
        await this.catchUp();
        // A socket that closed meanwhile found this loop running: go round.
        if (this.ws.readyState === WebSocket.OPEN) return;
        this.onState("reconnecting");
      } catch (e) {
        // The chat is over: the participant API says 403, the console's 403 or 410.
        if (e?.status === 403 || e?.status === 410) { this.end(); return; }
        // A catch-up that failed (a 429, a 5xx) leaves this attempt's socket
        // open: close it, or the next round opens another beside it.
        if (this.ws && this.ws.readyState !== WebSocket.CLOSED) this.ws.close();
      }
    }
  }

  // catchUp delivers what came while the socket was down: the transcript
  // after the last item seen, or all of it if none was.
  async catchUp() {
    await this.readTranscript(() => this.transcript(this.lastItem));
  }

  // readTranscript delivers what read() answers, then what the socket
  // pushed meanwhile: that is newer, and must not come before it.
  async readTranscript(read) {
    const held = this.held = [];
    try {
      for (const item of await read()) this.deliver(item);
    } finally {
      if (this.held === held) this.held = null;
      for (const item of held) this.deliver(item);
    }
  }

  end() {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.heartbeat);
    if (this.ws) this.ws.close(1000);
    this.onState("ended");
  }

  sendMessage(content, contentType = "text/plain") {
    return this.call("/participant/message", { ContentType: contentType, Content: content, ClientToken: crypto.randomUUID() });
  }

  sendEvent(contentType, content) {
    const body = { ContentType: contentType, ClientToken: crypto.randomUUID() };
    if (content) body.Content = content;
    return this.call("/participant/event", body);
  }

  // typing sends a typing event at most every 5 seconds.
  typing() {
    if (Date.now() - this.lastTyping < 5000) return;
    this.lastTyping = Date.now();
    this.sendEvent(EVENT + "typing").catch(() => {});
  }

  sendRead(messageId) {
    return this.sendEvent(EVENT + "message.read", JSON.stringify({ messageId })).catch(() => {});
  }

  // sendAttachment uploads a File, reporting progress(done, total); it
  // checks the upload's status, which ChatJS does not.
  async sendAttachment(file, progress) {
    const start = await this.call("/participant/start-attachment-upload", {
      AttachmentName: file.name, AttachmentSizeInBytes: file.size,
      ContentType: file.type || "application/octet-stream", ClientToken: crypto.randomUUID(),
    });
    await new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", start.UploadMetadata.Url);
      for (const [k, v] of Object.entries(start.UploadMetadata.HeadersToInclude || {})) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => progress && progress(e.loaded, e.total || file.size);
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) return resolve();
        let msg = xhr.statusText;
        try { msg = JSON.parse(xhr.responseText).Message || msg; } catch {}
        reject(new ApiError("UploadFailed", msg, xhr.status));
      };
      xhr.onerror = () => reject(new ApiError("UploadFailed", "The upload was interrupted.", 0));
      xhr.send(file);
    });
    await this.call("/participant/complete-attachment-upload", { AttachmentIds: [start.AttachmentId], ClientToken: crypto.randomUUID() });
    return start.AttachmentId;
  }

  // attachment returns {Url, AttachmentSizeInBytes} of an approved file.
  attachment(id) {
    return this.call("/participant/attachment", { AttachmentId: id });
  }

  // transcript returns every item, oldest first, or with after, those
  // after that item.
  async transcript(after = "") {
    const items = [];
    let NextToken;
    if (after) {
      try {
        do {
          const page = await this.call("/participant/transcript",
            { MaxResults: 100, ScanDirection: "FORWARD", SortOrder: "ASCENDING", StartPosition: { Id: after }, NextToken });
          items.push(...page.Transcript);
          NextToken = page.NextToken;
        } while (NextToken);
        return items.filter((i) => i.Id !== after); // the start position is inclusive
      } catch (e) {
        if (e.status !== 400) throw e; // an unknown start: read it all
        items.length = 0;
      }
    }
    do {
      const page = await this.call("/participant/transcript", { MaxResults: 100, ScanDirection: "BACKWARD", SortOrder: "ASCENDING", NextToken });
      items.unshift(...page.Transcript);
      NextToken = page.NextToken;
    } while (NextToken);
    return items;
  }

  // load delivers the whole transcript once connected.
  async load() {
    await this.readTranscript(() => this.transcript());
  }

  disconnect() {
    return this.call("/participant/disconnect", { ClientToken: crypto.randomUUID() });
  }
}
