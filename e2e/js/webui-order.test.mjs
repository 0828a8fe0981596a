// The web UI's ChatConnection (internal/webui/static/parley.js) against a
// fake service: what the socket brings while the transcript is being read
// (on a page load, or catching up after a reconnect) is newer than the
// transcript, and reaches the page after it, not before.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ChatConnection } from "../../internal/webui/static/parley.js";
import { realSetTimeout, sockets } from "./fakesocket.mjs";

const msg = (id) => ({ Id: id, Type: "MESSAGE", ContentType: "text/plain", Content: id, ParticipantId: "p2" });
let transcript = [];
let onTranscript = () => {}; // runs while a transcript request is in flight
globalThis.fetch = async (url, init) => {
  let body = { Websocket: { Url: "ws://fake/ws" }, ConnectionCredentials: { ConnectionToken: "t" } };
  if (url.endsWith("/participant/transcript")) {
    const req = JSON.parse(init.body);
    onTranscript();
    await new Promise((r) => realSetTimeout(r, 10));
    const from = req.StartPosition ? transcript.findIndex((i) => i.Id === req.StartPosition.Id) : 0;
    body = { Transcript: transcript.slice(from) };
  }
  return { ok: true, status: 200, headers: new Headers(), json: async () => body };
};
const sleep = (ms) => new Promise((r) => realSetTimeout(r, ms));

test("a message pushed while the page loads the transcript comes after it", async () => {
  const got = [];
  transcript = [msg("m1"), msg("m2")];
  const c = new ChatConnection({ endpoint: "http://fake", details: { ParticipantToken: "p" }, onItem: (i) => got.push(i.Id) });
  await c.connect();
  // The agent writes m3 just as the page asks for the transcript, which
  // was read before m3 was committed.
  onTranscript = () => { onTranscript = () => {}; queueMicrotask(() => sockets[0].push(msg("m3"))); };
  await c.load();
  c.end();
  assert.deepEqual(got, ["m1", "m2", "m3"], "oldest first");
});

test("a message pushed while catching up after a reconnect comes after what was missed", async () => {
  const got = [];
  transcript = [msg("m1")];
  const c = new ChatConnection({ endpoint: "http://fake", details: { ParticipantToken: "p" }, onItem: (i) => got.push(i.Id) });
  await c.connect();
  await c.load();
  const first = sockets.at(-1);
  first.serverClose();
  transcript.push(msg("m2")); // sent while the socket was down
  onTranscript = () => { onTranscript = () => {}; queueMicrotask(() => sockets.at(-1).push(msg("m3"))); };
  for (let i = 0; i < 100 && got.length < 3; i++) await sleep(20);
  c.end();
  assert.deepEqual(got, ["m1", "m2", "m3"], "what was missed, then what came live");
});
