// The Connect API's newer chat operations through the official JS v3
// client (@aws-sdk/client-connect), SigV4-signed with the instance's keys.
// The Go test TestJSConnectClient starts the server and the chats and
// passes them in PARLEY_FIXTURE.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ConnectClient,
  StartChatContactCommand,
  DescribeContactCommand,
  CreatePersistentContactAssociationCommand,
  TransferContactCommand,
  MonitorContactCommand,
  StartContactStreamingCommand,
  StopContactStreamingCommand,
  InvalidRequestException,
  InvalidParameterException,
  ResourceNotFoundException,
} from "@aws-sdk/client-connect";

const fx = JSON.parse(process.env.PARLEY_FIXTURE);
const client = new ConnectClient({
  region: "us-east-1",
  endpoint: fx.url,
  credentials: { accessKeyId: fx.accessKeyId, secretAccessKey: fx.secretAccessKey },
  maxAttempts: 1,
});
const I = fx.instanceId;

async function rejects(promise, ErrorClass) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof ErrorClass, `expected ${ErrorClass.name}, got ${e.name}: ${e.message}`);
    assert.ok(e.message.length > 0);
    return e;
  }
  assert.fail(`expected ${ErrorClass.name}, the call succeeded`);
}

const start = (extra) => client.send(new StartChatContactCommand({
  InstanceId: I, ContactFlowId: "flow", ParticipantDetails: { DisplayName: "Ada" }, ...extra,
}));

test("persistent chat: StartChatContact's PersistentChat and CreatePersistentContactAssociation", async () => {
  await rejects(start({ PersistentChat: { RehydrationType: "FROM_SEGMENT", SourceContactId: fx.live } }), InvalidRequestException);
  await rejects(start({ PersistentChat: { RehydrationType: "FROM_SEGMENT" } }), InvalidParameterException);
  const out = await start({ PersistentChat: { RehydrationType: "ENTIRE_PAST_SESSION", SourceContactId: fx.past } });
  assert.equal(out.ContinuedFromContactId, fx.past);
  const d = await client.send(new DescribeContactCommand({ InstanceId: I, ContactId: out.ContactId }));
  assert.equal(d.Contact.RelatedContactId, fx.past);
  await rejects(client.send(new CreatePersistentContactAssociationCommand({
    InstanceId: I, InitialContactId: fx.past, RehydrationType: "FROM_SEGMENT", SourceContactId: fx.past2,
  })), InvalidRequestException);
  const a = await client.send(new CreatePersistentContactAssociationCommand({
    InstanceId: I, InitialContactId: fx.live, RehydrationType: "FROM_SEGMENT", SourceContactId: fx.past2,
  }));
  assert.equal(a.ContinuedFromContactId, fx.past2);
});

test("TransferContact answers what Connect answers for a chat", async () => {
  const e = await rejects(client.send(new TransferContactCommand({ InstanceId: I, ContactId: fx.live, ContactFlowId: "flow", QueueId: "q" })),
    InvalidRequestException);
  assert.match(e.message, /TASK and EMAIL/);
});

test("MonitorContact makes a console agent a supervisor", async () => {
  await rejects(client.send(new MonitorContactCommand({ InstanceId: I, ContactId: fx.live, UserId: "nobody" })), ResourceNotFoundException);
  await rejects(client.send(new MonitorContactCommand({ InstanceId: I, ContactId: fx.past, UserId: fx.supervisor })), InvalidRequestException);
  const out = await client.send(new MonitorContactCommand({
    InstanceId: I, ContactId: fx.live, UserId: fx.supervisor, AllowedMonitorCapabilities: ["SILENT_MONITOR", "BARGE"],
  }));
  assert.equal(out.ContactId, fx.live);
  assert.match(out.ContactArn, new RegExp(`/contact/${fx.live}$`));
});

test("StartContactStreaming and StopContactStreaming", async () => {
  const cfg = (arn) => ({ InstanceId: I, ContactId: fx.live, ChatStreamingConfiguration: { StreamingEndpointArn: arn } });
  await rejects(client.send(new StartContactStreamingCommand(cfg("arn:aws:sns:us-east-1:000000000000:unknown"))), InvalidRequestException);
  await rejects(client.send(new StartContactStreamingCommand(cfg("not-an-arn"))), InvalidParameterException);
  const out = await client.send(new StartContactStreamingCommand(cfg(fx.topic)));
  assert.ok(out.StreamingId);
  await client.send(new StopContactStreamingCommand({ InstanceId: I, ContactId: fx.live, StreamingId: out.StreamingId }));
  await rejects(client.send(new StopContactStreamingCommand({ InstanceId: I, ContactId: fx.live, StreamingId: "nope" })), ResourceNotFoundException);
});
