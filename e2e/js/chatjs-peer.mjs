// One ChatJS participant in its own Node process, driven by a Go test.
//
// ChatJS keeps one websocket per contact per JavaScript realm, so each
// participant of a chat runs as its own process. stdin takes one JSON command
// per line, {"id":1,"cmd":"sendMessage","args":{…}}; stdout gives one JSON
// line per reply, {"id":1,"ok":true,"result":…}, and per ChatJS event,
// {"event":"onMessage","data":{…}}.
//
// PARLEY_PEER holds {"url", "chatDetails": {ContactId, ParticipantId,
// ParticipantToken}}.
import { createRequire } from "node:module";
import readline from "node:readline";

const require = createRequire(import.meta.url);
globalThis.window = globalThis;
globalThis.self = globalThis;
globalThis.navigator ??= { userAgent: "node", onLine: true };
globalThis.WebSocket ??= require("ws");
require("amazon-connect-chatjs"); // defines globalThis.connect

const cfg = JSON.parse(process.env.PARLEY_PEER);
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const { ChatSession } = globalThis.connect;
ChatSession.setGlobalConfig({
  region: "us-east-1",
  endpoint: cfg.url,
  webSocketManagerConfig: { isNetworkOnline: () => true },
  loggerConfig: { useDefaultLogger: false },
  features: { messageReceipts: { shouldSendMessageReceipts: true, throttleTime: 100 } },
});
const session = ChatSession.create({
  type: "CUSTOMER",
  disableCSM: true,
  chatDetails: cfg.chatDetails,
  options: { region: "us-east-1" },
});

for (const hook of ["onMessage", "onTyping", "onReadReceipt", "onDeliveredReceipt", "onConnectionEstablished",
  "onConnectionLost", "onConnectionBroken", "onEnded", "onDeepHeartbeatSuccess", "onDeepHeartbeatFailure",
  "onParticipantIdle", "onParticipantReturned", "onChatRehydrated", "onParticipantInvited"]) {
  session[hook]((e) => emit({ event: hook, data: e?.data ?? null }));
}

// Commands map to ChatJS session methods; a Blob result (downloadAttachment)
// comes back base64-encoded.
const commands = {
  connect: () => session.connect(),
  sendMessage: (a) => session.sendMessage(a),
  sendEvent: (a) => session.sendEvent(a),
  getTranscript: (a) => session.getTranscript(a),
  disconnect: () => session.disconnectParticipant(),
  sendAttachment: (a) => session.sendAttachment({ attachment: new File([Buffer.from(a.base64, "base64")], a.name, { type: a.type }) }),
  downloadAttachment: async (a) => {
    const blob = await session.downloadAttachment(a);
    return { type: blob.type, size: blob.size, base64: Buffer.from(await blob.arrayBuffer()).toString("base64") };
  },
  getAttachmentURL: (a) => session.getAttachmentURL(a),
  exit: () => setTimeout(() => process.exit(0), 10),
};

// Strip what is not JSON (the SDK's $metadata is, but may hold undefined).
const plain = (v) => (v === undefined ? null : JSON.parse(JSON.stringify(v)));

readline.createInterface({ input: process.stdin }).on("line", async (line) => {
  const { id, cmd, args } = JSON.parse(line);
  try {
    const result = await commands[cmd](args ?? {});
    emit({ id, ok: true, result: plain(result) });
  } catch (e) {
    emit({ id, ok: false, error: plain(e?.message ? { message: e.message, type: e.type, statusCode: e.statusCode } : e) });
  }
});
process.stdin.on("end", () => process.exit(0));
