// The web UI's ChatConnection (internal/webui/static/parley.js) against a
// fake service: sockets refused on upgrade (a 429 or 503 closes them before
// they subscribe) must not start a second reconnect loop beside the first.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ChatConnection } from "../../internal/webui/static/parley.js";

// Backoff delays, shortened: the test is about how many loops run.
const realSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = (f, d, ...a) => realSetTimeout(f, Math.min(d, 20), ...a);

const sockets = [];
let refuse = 0; // how many of the next sockets close before subscribing

class FakeWebSocket {
  static OPEN = 1;
  static CLOSED = 3;
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    sockets.push(this);
    const refused = refuse > 0;
    if (refused) refuse--;
    queueMicrotask(() => {
      if (refused) return this.serverClose();
      this.readyState = FakeWebSocket.OPEN;
      this.onopen?.();
    });
  }
  send(data) {
    if (JSON.parse(data).topic === "aws/subscribe") {
      queueMicrotask(() => this.onmessage?.({ data: JSON.stringify({ topic: "aws/subscribe", content: { status: "success" } }) }));
    }
  }
  close() { this.serverClose(); }
  serverClose() {
    if (this.readyState === FakeWebSocket.CLOSED) return;
    this.readyState = FakeWebSocket.CLOSED;
    this.onclose?.({});
  }
}
globalThis.WebSocket = FakeWebSocket;

globalThis.fetch = async (url) => {
  const body = url.endsWith("/participant/connection")
    ? { Websocket: { Url: "ws://fake/ws" }, ConnectionCredentials: { ConnectionToken: "t" } }
    : { Transcript: [] };
  return { ok: true, status: 200, headers: new Headers(), json: async () => body };
};

const sleep = (ms) => new Promise((r) => realSetTimeout(r, ms));
const open = () => sockets.filter((s) => s.readyState !== FakeWebSocket.CLOSED);

test("a socket refused during a reconnect does not start a second loop", async () => {
  const states = [];
  const c = new ChatConnection({ endpoint: "http://fake", details: { ParticipantToken: "p" }, onItem() {}, onState: (s) => states.push(s) });
  await c.connect();
  assert.equal(open().length, 1);

  refuse = 3; // the next three upgrades fail, as on a 429 or 503
  sockets[0].serverClose();
  for (let i = 0; i < 100 && !(refuse === 0 && open().length > 0 && !c.reconnecting); i++) await sleep(20);
  await sleep(300); // a second loop would open another socket by now
  assert.equal(refuse, 0, "the refused sockets were tried");
  assert.equal(open().length, 1, `one open socket, not ${open().length}: ${sockets.length} opened in all`);
  assert.equal(sockets.length, 5, "the first, three refused, one that subscribed");
  assert.equal(states.at(-1), "connected");
  assert.equal(open()[0], c.ws);

  // The loop survives a socket that subscribes and then drops at once.
  c.ws.serverClose();
  for (let i = 0; i < 100 && (open().length === 0 || c.reconnecting); i++) await sleep(20);
  await sleep(300);
  assert.equal(open().length, 1);
  c.end();
});

test("a catch-up that fails does not leave its socket open beside the next", async () => {
  const c = new ChatConnection({ endpoint: "http://fake", details: { ParticipantToken: "p" }, onItem() {} });
  await c.connect();
  const before = sockets.length;
  // The next transcript read (the catch-up) is throttled once.
  const realFetch = globalThis.fetch;
  let throttled = false;
  globalThis.fetch = async (url, init) => {
    if (url.endsWith("/participant/transcript") && !throttled) {
      throttled = true;
      return { ok: false, status: 429, headers: new Headers({ "x-amzn-errortype": "ThrottlingException" }), json: async () => ({ Message: "slow down" }) };
    }
    return realFetch(url, init);
  };
  c.ws.serverClose();
  for (let i = 0; i < 100 && !(throttled && !c.reconnecting); i++) await sleep(20);
  await sleep(100);
  globalThis.fetch = realFetch;
  const mine = sockets.slice(before).filter((s) => s.readyState !== FakeWebSocket.CLOSED);
  c.end();
  assert.ok(throttled, "the catch-up was throttled");
  assert.equal(mine.length, 1, `one open socket after the retry, not ${mine.length}`);
});

test("a connection refused on the first try (a 503, a 429) is tried again", async () => {
  const realFetch = globalThis.fetch;
  let refused = 0;
  globalThis.fetch = async (url, init) => {
    if (url.endsWith("/participant/connection") && refused < 2) {
      refused++;
      return { ok: false, status: 503, headers: new Headers({ "x-amzn-errortype": "ServiceUnavailableException" }), json: async () => ({ Message: "busy" }) };
    }
    return realFetch(url, init);
  };
  const states = [];
  const c = new ChatConnection({ endpoint: "http://fake", details: { ParticipantToken: "p" }, onItem() {}, onState: (s) => states.push(s) });
  let error = null;
  await Promise.race([c.connect().catch((e) => { error = e; }), sleep(3000)]);
  globalThis.fetch = realFetch;
  const open = c.ws && c.ws.readyState === FakeWebSocket.OPEN;
  c.end();
  assert.equal(error, null, `connect failed: ${error}`);
  assert.equal(refused, 2);
  assert.ok(open, "connected in the end");
  assert.equal(states.at(-2), "connected");
});

test("the console's connection, refused as ended (403), ends the reconnect loop", async () => {
  let calls = 0;
  const c = new ChatConnection({ endpoint: "http://fake", details: {}, onItem() {},
    connection: async () => {
      calls++;
      if (calls > 1) throw Object.assign(new Error("This chat has ended."), { status: 403 });
      return { Websocket: { Url: "ws://fake/ws" }, ConnectionCredentials: { ConnectionToken: "t" } };
    } });
  await c.connect();
  c.ws.serverClose(); // the socket drops, and the chat ends meanwhile
  for (let i = 0; i < 100 && !c.ended; i++) await sleep(20);
  const ended = c.ended;
  c.end();
  assert.ok(ended, `still reconnecting after ${calls} tries`);
  await assert.rejects(new ChatConnection({ endpoint: "http://fake", details: {}, onItem() {},
    connection: async () => { throw Object.assign(new Error("ended"), { status: 403 }); } }).connect(), /ended/,
  "a first connection refused as ended fails at once, for the console to show the transcript");
});
