// A fake of the browser's WebSocket, for ChatConnection
// (internal/webui/static/parley.js) under Node: each socket opens, answers
// the subscribe, and lets the test push items or close it as the server
// would. Timers wait at most 20 ms, so that back-offs do not slow tests.
export const realSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = (f, d, ...a) => realSetTimeout(f, Math.min(d, 20), ...a);

export const sockets = [];
class FakeWebSocket {
  static OPEN = 1;
  static CLOSED = 3;
  constructor() {
    this.readyState = 0;
    sockets.push(this);
    queueMicrotask(() => { this.readyState = 1; this.onopen?.(); });
  }
  send(data) {
    if (JSON.parse(data).topic === "aws/subscribe") {
      queueMicrotask(() => this.onmessage?.({ data: JSON.stringify({ topic: "aws/subscribe", content: { status: "success" } }) }));
    }
  }
  push(item) { this.onmessage?.({ data: JSON.stringify({ topic: "aws/chat", content: JSON.stringify(item) }) }); }
  close() { this.serverClose(); }
  serverClose() {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({});
  }
}
globalThis.WebSocket = FakeWebSocket;
