// Drives every Participant Service operation through the official JS v3
// client against a Parley server. The Go test TestJSParticipantClient starts
// the server and the chats and passes them in PARLEY_FIXTURE.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ConnectParticipantClient,
  CreateParticipantConnectionCommand,
  SendMessageCommand,
  SendEventCommand,
  GetTranscriptCommand,
  DisconnectParticipantCommand,
  StartAttachmentUploadCommand,
  CompleteAttachmentUploadCommand,
  GetAttachmentCommand,
  DescribeViewCommand,
  GetAuthenticationUrlCommand,
  CancelParticipantAuthenticationCommand,
  paginateGetTranscript,
  AccessDeniedException,
  ValidationException,
  ResourceNotFoundException,
  ConflictException,
} from "@aws-sdk/client-connectparticipant";

const fx = JSON.parse(process.env.PARLEY_FIXTURE);
// As ChatJS configures it: the endpoint, a region, and empty keys (the
// client insists on credentials; the server ignores the signature).
const client = new ConnectParticipantClient({
  region: "us-east-1",
  endpoint: fx.url,
  credentials: { accessKeyId: "", secretAccessKey: "" },
  maxAttempts: 1,
});

async function connect(participantToken) {
  const out = await client.send(new CreateParticipantConnectionCommand({
    ParticipantToken: participantToken,
    Type: ["WEBSOCKET", "CONNECTION_CREDENTIALS"],
  }));
  return out;
}

async function rejects(promise, ErrorClass, status) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof ErrorClass, `expected ${ErrorClass.name}, got ${e.name}: ${e.message}`);
    assert.equal(e.$metadata.httpStatusCode, status);
    assert.ok(e.message.length > 0, "the error carries a message");
    assert.ok(e.$metadata.requestId, "the error carries x-amzn-RequestId");
    return e;
  }
  assert.fail(`expected ${ErrorClass.name}, the call succeeded`);
}

test("CreateParticipantConnection returns a websocket and credentials", async () => {
  const out = await connect(fx.chat.ParticipantToken);
  assert.match(out.Websocket.Url, /^ws:\/\/127\.0\.0\.1:\d+\//);
  assert.match(out.Websocket.ConnectionExpiry, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(out.ConnectionCredentials.ConnectionToken.length >= 32);
  assert.ok(Date.parse(out.ConnectionCredentials.Expiry) > Date.now() + 3600e3);
  assert.ok(out.$metadata.requestId);
  // The agent acknowledgement, as ChatJS sends it.
  const ack = await client.send(new CreateParticipantConnectionCommand({ ParticipantToken: fx.agent.ParticipantToken, ConnectParticipant: true }));
  assert.equal(ack.Websocket, undefined);
  await rejects(client.send(new CreateParticipantConnectionCommand({ ParticipantToken: "forged", Type: ["WEBSOCKET"] })), AccessDeniedException, 403);
});

test("messages, events, receipts and the transcript", async () => {
  const cust = (await connect(fx.chat.ParticipantToken)).ConnectionCredentials.ConnectionToken;
  const agent = (await connect(fx.agent.ParticipantToken)).ConnectionCredentials.ConnectionToken;

  const sent = [];
  for (let i = 0; i < 12; i++) {
    const m = await client.send(new SendMessageCommand({ ConnectionToken: i % 2 ? agent : cust, ContentType: "text/plain", Content: `message ${i}` }));
    assert.ok(m.Id);
    sent.push(m.Id);
  }
  // The SDK fills in a ClientToken; a deliberate retry with one returns the first result.
  const a = await client.send(new SendMessageCommand({ ConnectionToken: cust, ContentType: "text/plain", Content: "retry me", ClientToken: "js-retry-1" }));
  const b = await client.send(new SendMessageCommand({ ConnectionToken: cust, ContentType: "text/plain", Content: "retry me", ClientToken: "js-retry-1" }));
  assert.equal(b.Id, a.Id);
  sent.push(a.Id);

  await client.send(new SendEventCommand({ ConnectionToken: cust, ContentType: "application/vnd.amazonaws.connect.event.typing" }));
  await client.send(new SendEventCommand({
    ConnectionToken: cust, ContentType: "application/vnd.amazonaws.connect.event.message.read", Content: JSON.stringify({ messageId: sent[1] }),
  }));

  // ChatJS's own call shape: StartPosition {} and ascending pages.
  const pages = [];
  for await (const page of paginateGetTranscript({ client, pageSize: 5 }, {
    ConnectionToken: agent, ScanDirection: "BACKWARD", SortOrder: "ASCENDING", StartPosition: {},
  })) {
    assert.equal(page.InitialContactId, fx.chat.ContactId);
    pages.push(page.Transcript);
  }
  const messages = pages.reverse().flat().filter((it) => it.Type === "MESSAGE").map((it) => it.Id);
  assert.deepEqual(messages, sent, "every message once, in order");
  const read = pages.flat().find((it) => it.Id === sent[1]);
  assert.equal(read.MessageMetadata.Receipts[0].RecipientParticipantId, fx.chat.ParticipantId);
  assert.ok(read.MessageMetadata.Receipts[0].ReadTimestamp);

  await rejects(client.send(new GetTranscriptCommand({ ConnectionToken: agent, ScanDirection: "FORWARD", StartPosition: {} })), ValidationException, 400);
  await rejects(client.send(new SendMessageCommand({ ConnectionToken: cust, ContentType: "text/plain", Content: "x".repeat(1025) })), ValidationException, 400);
  await rejects(client.send(new SendMessageCommand({ ConnectionToken: "forged", ContentType: "text/plain", Content: "x" })), AccessDeniedException, 403);
});

test("receipts are refused in a chat of more than two", async () => {
  const cust = (await connect(fx.group.ParticipantToken)).ConnectionCredentials.ConnectionToken;
  const m = await client.send(new SendMessageCommand({ ConnectionToken: cust, ContentType: "text/plain", Content: "hi all" }));
  await rejects(client.send(new SendEventCommand({
    ConnectionToken: cust, ContentType: "application/vnd.amazonaws.connect.event.message.delivered", Content: JSON.stringify({ messageId: m.Id }),
  })), ConflictException, 409);
});

test("attachment, view and authentication operations validate their input", async () => {
  const tok = (await connect(fx.chat.ParticipantToken)).ConnectionCredentials.ConnectionToken;
  await rejects(client.send(new StartAttachmentUploadCommand({
    ConnectionToken: tok, ContentType: "text/plain", AttachmentSizeInBytes: 0, AttachmentName: "a.txt", ClientToken: "c1",
  })), ValidationException, 400);
  await rejects(client.send(new CompleteAttachmentUploadCommand({ ConnectionToken: tok, AttachmentIds: [], ClientToken: "c2" })), ValidationException, 400);
  await rejects(client.send(new GetAttachmentCommand({ ConnectionToken: tok, AttachmentId: "x", UrlExpiryInSeconds: 4 })), ValidationException, 400);
  await rejects(client.send(new DescribeViewCommand({ ConnectionToken: tok, ViewToken: "no such/view" })), ResourceNotFoundException, 404);
  await rejects(client.send(new GetAuthenticationUrlCommand({
    ConnectionToken: tok, SessionId: "0123456789abcdef0123456789abcdef0123", RedirectUri: "https://example.com/",
  })), ValidationException, 400);
  await rejects(client.send(new CancelParticipantAuthenticationCommand({ ConnectionToken: tok, SessionId: "too-short" })), ValidationException, 400);
});

test("DisconnectParticipant ends the chat; later calls are AccessDenied", async () => {
  const tok = (await connect(fx.ending.ParticipantToken)).ConnectionCredentials.ConnectionToken;
  const out = await client.send(new DisconnectParticipantCommand({ ConnectionToken: tok }));
  assert.equal(out.$metadata.httpStatusCode, 200);
  await rejects(client.send(new SendMessageCommand({ ConnectionToken: tok, ContentType: "text/plain", Content: "x" })), AccessDeniedException, 403);
  await rejects(client.send(new GetTranscriptCommand({ ConnectionToken: tok })), AccessDeniedException, 403);
  await rejects(connect(fx.ending.ParticipantToken), AccessDeniedException, 403);
});

test("CompleteAttachmentUpload answers before the verdict's ATTACHMENT item arrives, as on Connect", async () => {
  const { default: WebSocket } = await import("ws");
  const conn = await connect(fx.files.ParticipantToken);
  const tok = conn.ConnectionCredentials.ConnectionToken;
  const order = [];
  const ws = new WebSocket(conn.Websocket.Url);
  let approved;
  const verdict = new Promise((resolve) => { approved = resolve; });
  const subscribed = new Promise((resolve, reject) => {
    ws.on("error", reject);
    ws.on("message", (data) => {
      const frame = JSON.parse(data);
      if (frame.topic === "aws/subscribe") return resolve();
      if (frame.topic !== "aws/chat") return;
      const item = JSON.parse(frame.content);
      if (item.Type !== "ATTACHMENT") return;
      order.push(`item ${item.Attachments[0].Status}`);
      if (item.Attachments[0].Status !== "IN_PROGRESS") approved(item);
    });
  });
  await new Promise((resolve) => ws.on("open", resolve));
  ws.send(JSON.stringify({ topic: "aws/subscribe", content: { topics: ["aws/chat"] } }));
  await subscribed;

  const body = "order,amount\n1234,19.99\n";
  const up = await client.send(new StartAttachmentUploadCommand({
    ConnectionToken: tok, ContentType: "text/csv", AttachmentSizeInBytes: body.length, AttachmentName: "orders.csv", ClientToken: "up-1",
  }));
  const put = await fetch(up.UploadMetadata.Url, { method: "PUT", headers: up.UploadMetadata.HeadersToInclude, body });
  assert.equal(put.status, 200);
  await client.send(new CompleteAttachmentUploadCommand({ ConnectionToken: tok, AttachmentIds: [up.AttachmentId], ClientToken: "done-1" }));
  order.push("answer");
  const item = await verdict;
  ws.close();
  assert.equal(item.Attachments[0].Status, "APPROVED");
  assert.deepEqual(order, ["answer", "item APPROVED"], "the answer first, then the verdict");
});
