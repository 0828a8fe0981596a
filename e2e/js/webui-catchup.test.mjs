// The web UI's ChatConnection (internal/webui/static/parley.js) catches up
// after a reconnect from the last transcript item it saw, as the Go SDK
// does, instead of reading the whole transcript again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ChatConnection } from "../../internal/webui/static/parley.js";
import { realSetTimeout, sockets } from "./fakesocket.mjs";

const msg = (id) => ({ Id: id, Type: "MESSAGE", ContentType: "text/plain", Content: id, ParticipantId: "p2" });
const transcriptBodies = [];
globalThis.fetch = async (url, init) => {
  let body = { Websocket: { Url: "ws://fake/ws" }, ConnectionCredentials: { ConnectionToken: "t" } };
  if (url.endsWith("/participant/transcript")) {
    const req = JSON.parse(init.body);
    transcriptBodies.push(req);
    // Inclusive of the start, as GetTranscript is.
    body = { Transcript: req.StartPosition ? [msg(req.StartPosition.Id), msg("m3")] : [msg("m1"), msg("m2"), msg("m3")] };
  }
  return { ok: true, status: 200, headers: new Headers(), json: async () => body };
};
const sleep = (ms) => new Promise((r) => realSetTimeout(r, ms));

test("a reconnect reads the transcript after the last item seen", async () => {
  const got = [];
  const c = new ChatConnection({ endpoint: "http://fake", details: { ParticipantToken: "p" }, onItem: (i) => got.push(i.Id) });
  await c.connect();
  sockets[0].push(msg("m1"));
  sockets[0].push({ Id: "t1", Type: "EVENT", ContentType: "application/vnd.amazonaws.connect.event.typing", ParticipantId: "p2" });
  sockets[0].push(msg("m2"));
  sockets[0].serverClose();
  for (let i = 0; i < 100 && !transcriptBodies.length; i++) await sleep(20);
  await sleep(50);
  assert.equal(transcriptBodies.length, 1);
  assert.deepEqual(transcriptBodies[0].StartPosition, { Id: "m2" }, "catch up from the last message, not the typing event");
  assert.equal(transcriptBodies[0].ScanDirection, "FORWARD");
  assert.deepEqual(got, ["m1", "t1", "m2", "m3"], "only what came after, once");
  c.end();
});
