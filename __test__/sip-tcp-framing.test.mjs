// TcpTransport over a real TCP socket whose peer writes SIP in tiny pieces and several messages
// per write: a scripted registrar (node:net) answers REGISTER 7 bytes per write and then sends
// two MESSAGE requests plus a keep-alive ping in one write. RFC 3261 §18.3 framing end to end.
import test from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { UserAgent, Registerer, RegistererState } from "sip.js";
import { TcpTransport, StreamFramer, parseSipMessage } from "../dist/transport/index.js";

const withTimeout = (p, ms, what) => {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timeout: ${what}`)), ms); })]).finally(() => clearTimeout(t));
};

function header(text, name) {
  return new RegExp(`^${name}:\\s*(.*)$`, "im").exec(text)?.[1];
}

test("TCP: responses split into 7-byte writes and two requests in one write are framed right", { timeout: 15_000 }, async () => {
  const received = []; // what the scripted server got from the UA
  let serverSock;
  // Bytes from the UA in total and inside framed messages: the difference is keep-alive CRLFs.
  let raw = 0;
  let framed = 0;
  const srv = createServer((sock) => {
    serverSock = sock;
    const framer = new StreamFramer();
    sock.on("error", () => {});
    sock.on("data", async (chunk) => {
      raw += chunk.length;
      for (const item of framer.push(chunk)) {
        if (item.type !== "message") continue;
        framed += item.data.length;
        const text = item.data.toString();
        received.push(text);
        const info = parseSipMessage(text);
        if (info.kind !== "request" || info.method !== "REGISTER") continue;
        const resp =
          `SIP/2.0 200 OK\r\nVia: ${header(text, "Via")};received=127.0.0.1\r\nFrom: ${header(text, "From")}\r\nTo: ${header(text, "To")};tag=srv\r\n` +
          `Call-ID: ${header(text, "Call-ID")}\r\nCSeq: ${header(text, "CSeq")}\r\nContact: ${header(text, "Contact")};expires=300\r\nContent-Length: 0\r\n\r\n`;
        const bytes = Buffer.from(resp);
        for (let i = 0; i < bytes.length; i += 7) {
          sock.write(bytes.subarray(i, i + 7));
          await new Promise((r) => setImmediate(r)); // separate reads on the UA side
        }
      }
    });
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const port = srv.address().port;
  const messages = [];
  const ua = new UserAgent({
    uri: UserAgent.makeURI("sip:alice@example.test"),
    transportConstructor: TcpTransport,
    transportOptions: { outboundProxy: `sip:127.0.0.1:${port}`, bindAddress: "127.0.0.1" },
    logLevel: "error", logBuiltinEnabled: false,
    delegate: { onMessage: (m) => { messages.push(m.request.body); m.accept(); } },
  });
  try {
    await ua.start();
    const r = new Registerer(ua, { expires: 300 });
    const registered = new Promise((resolve) => r.stateChange.addListener((s) => s === RegistererState.Registered && resolve()));
    await r.register();
    await withTimeout(registered, 5000, "registered through 7-byte pieces");
    const contact = ua.transport.contactAddress;
    const body = (n) => `héllo ${n}`; // multi-byte: Content-Length in octets
    const msg = (n) =>
      `MESSAGE sip:alice@${contact};transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:${port};branch=z9hG4bKm${n}\r\nFrom: <sip:srv@example.test>;tag=f${n}\r\n` +
      `To: <sip:alice@example.test>\r\nCall-ID: m${n}\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body(n))}\r\n\r\n${body(n)}`;
    const before = received.length;
    const [raw0, framed0] = [raw, framed];
    serverSock.write(msg(1) + msg(2) + "\r\n\r\n");
    for (let i = 0; i < 200 && (messages.length < 2 || received.length < before + 2 || raw - raw0 - (framed - framed0) < 2); i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(messages, [body(1), body(2)]);
    const answers = received.slice(before).map((t) => parseSipMessage(t));
    assert.deepEqual(answers.map((a) => [a.status, a.callId]), [[200, "m1"], [200, "m2"]], "both answered over the same connection");
    assert.equal(raw - raw0 - (framed - framed0), 2, "the double-CRLF ping got one CRLF pong (RFC 5626)");
  } finally {
    await ua.stop();
    await new Promise((r) => srv.close(r));
  }
});
