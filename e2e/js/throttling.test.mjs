// The official JS v3 client against Parley's rate limits. The Go test
// TestJSThrottling starts a server whose participants may send 20 messages
// a second with a burst of 1, connects a customer, and passes the
// ConnectionToken in PARLEY_FIXTURE.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ConnectParticipantClient,
  SendMessageCommand,
  ThrottlingException,
} from "@aws-sdk/client-connectparticipant";

const fx = JSON.parse(process.env.PARLEY_FIXTURE);
const options = {
  region: "us-east-1",
  endpoint: fx.url,
  credentials: { accessKeyId: "", secretAccessKey: "" },
};
const send = (client, text) =>
  client.send(new SendMessageCommand({ ConnectionToken: fx.token, ContentType: "text/plain", Content: text }));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test("a call over the rate is a ThrottlingException", async () => {
  const once = new ConnectParticipantClient({ ...options, maxAttempts: 1 });
  const results = await Promise.allSettled([1, 2, 3, 4, 5].map((i) => send(once, `burst ${i}`)));
  const refused = results.filter((r) => r.status === "rejected").map((r) => r.reason);
  assert.ok(results.some((r) => r.status === "fulfilled"), "the first call of the burst succeeds");
  assert.ok(refused.length > 0, "some of five calls at once are throttled");
  for (const e of refused) {
    assert.ok(e instanceof ThrottlingException, `expected ThrottlingException, got ${e.name}: ${e.message}`);
    assert.equal(e.$metadata.httpStatusCode, 429);
    assert.equal(e.message, "Rate exceeded");
    assert.ok(e.$metadata.requestId, "the error carries x-amzn-RequestId");
  }
});

test("the SDK's default retry gets a throttled call through", async () => {
  await sleep(200); // the bucket refills
  const retrying = new ConnectParticipantClient(options); // default: 3 attempts, backoff
  const out = await Promise.all([send(retrying, "first"), send(retrying, "second")]);
  for (const o of out) assert.match(o.Id, /^[0-9a-f-]{36}$/);
  const attempts = out.map((o) => o.$metadata.attempts);
  assert.ok(Math.max(...attempts) >= 2, `one of two calls at once was throttled and retried (attempts ${attempts})`);
});
