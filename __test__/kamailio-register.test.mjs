// SIP.js over sipwire's WsTransport against a real Kamailio (SIP over WebSocket, RFC 7118).
// Registration, routing to a registered contact, in-dialog routing through the proxy, and the
// transport's failure modes. Skips when Kamailio is not installed.
import test from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { WebSocketServer } from "ws";
import { UserAgent, Registerer, RegistererState, Messager, Inviter, SessionState, SIPExtension, TransportState } from "sip.js";
import { WsTransport } from "../dist/sip.js";
import { startKamailio, kamailioAvailable, freePort } from "./support/kamailio.mjs";

const DOMAIN = "sipwire.invalid";
const skip = kamailioAvailable() ? false : "kamailio not installed (apt-get install kamailio kamailio-websocket-modules)";

const withTimeout = (p, ms, what) => {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timeout: ${what}`)), ms); })]).finally(() => clearTimeout(t));
};
const once = (emitter, pred) => new Promise((resolve) => {
  const l = (s) => { if (pred(s)) { emitter.removeListener(l); resolve(s); } };
  emitter.addListener(l);
});

// Text-only SDH (no media): enough for SIP.js to run offer/answer through the proxy.
class FakeSdh {
  state = "stable";
  v = 0;
  close() {}
  hasDescription(ct) { return /^application\/sdp\s*(;|$)/i.test(ct); }
  async getDescription() {
    this.state = this.state === "stable" ? "have-local-offer" : "stable";
    return { body: `v=0\r\no=- 1 ${++this.v} IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nc=IN IP4 127.0.0.1\r\nm=audio 9 RTP/AVP 0\r\na=sendrecv\r\n`, contentType: "application/sdp" };
  }
  async setDescription() { this.state = this.state === "stable" ? "have-remote-offer" : "stable"; }
  async rollbackDescription() { this.state = "stable"; }
  sendDtmf() { return false; }
}

function makeUa(user, server, extra = {}) {
  return new UserAgent({
    uri: UserAgent.makeURI(`sip:${user}@${DOMAIN}`),
    transportConstructor: WsTransport,
    transportOptions: { server, connectionTimeout: 3 },
    sessionDescriptionHandlerFactory: () => new FakeSdh(),
    logLevel: "error", logBuiltinEnabled: false, logConfiguration: false,
    ...extra,
  });
}

async function register(ua) {
  const registerer = new Registerer(ua, { expires: 300 });
  const registered = once(registerer.stateChange, (s) => s === RegistererState.Registered);
  await registerer.register({ requestDelegate: { onReject: (r) => { throw new Error(`REGISTER rejected ${r.message.statusCode}`); } } });
  await withTimeout(registered, 5000, "registered");
  return registerer;
}

const send = (ua, target, body) => new Promise((resolve, reject) => {
  new Messager(ua, UserAgent.makeURI(target), body)
    .message({ requestDelegate: { onAccept: (r) => resolve(r.message.statusCode), onReject: (r) => resolve(r.message.statusCode) } })
    .catch(reject);
});

test("register over ws://, MESSAGE and a full call routed by Kamailio", { skip, timeout: 30_000 }, async (t) => {
  // Node 22 has a global WebSocket, Node 20 does not: WsTransport must not care.
  const savedWs = Object.getOwnPropertyDescriptor(globalThis, "WebSocket");
  delete globalThis.WebSocket;
  t.after(() => { if (savedWs) Object.defineProperty(globalThis, "WebSocket", savedWs); });
  assert.equal(typeof globalThis.WebSocket, "undefined");

  const kam = await startKamailio();
  const alice = makeUa("alice", kam.wsUrl, { sipExtension100rel: SIPExtension.Supported });
  const bob = makeUa("bob", kam.wsUrl, { sipExtension100rel: SIPExtension.Supported });
  try {
    const states = [];
    alice.transport.stateChange.addListener((s) => states.push(s));
    await alice.start();
    await bob.start();
    assert.deepEqual(states, [TransportState.Connecting, TransportState.Connected]);
    assert.equal(alice.transport.protocol, "WS");
    await register(alice);
    await register(bob);

    // MESSAGE alice -> bob: only reachable through bob's registered contact.
    const got = new Promise((resolve) => { bob.delegate = { onMessage: (m) => { m.accept(); resolve(m.request.body); } }; });
    assert.equal(await withTimeout(send(alice, `sip:bob@${DOMAIN}`, "hello bob"), 5000, "MESSAGE 200"), 200);
    assert.equal(await withTimeout(got, 5000, "bob got MESSAGE"), "hello bob");
    assert.equal(await withTimeout(send(alice, `sip:nobody@${DOMAIN}`, "?"), 5000, "MESSAGE 404"), 404);

    // A call: reliable 183 + PRACK, 200/ACK, INFO, re-INVITE, BYE from the callee. Every
    // in-dialog request targets a `.invalid` Contact and only arrives via the proxy's alias.
    const infoSeen = [];
    let callee;
    const bobSession = new Promise((resolve) => {
      bob.delegate = { onInvite: async (inv) => {
        callee = inv;
        inv.delegate = { onInfo: (info) => { infoSeen.push(info.request.body); info.accept(); } };
        await inv.progress({ statusCode: 183, rel100: true });
        await inv.accept();
        resolve(inv);
      } };
    });
    const call = new Inviter(alice, UserAgent.makeURI(`sip:bob@${DOMAIN}`));
    const established = once(call.stateChange, (s) => s === SessionState.Established);
    await call.invite();
    await withTimeout(established, 5000, "call established");
    await withTimeout(bobSession, 5000, "callee accepted");
    await withTimeout(new Promise((resolve, reject) => call.info({
      requestOptions: { body: { contentDisposition: "render", contentType: "application/dtmf-relay", content: "Signal=5\r\nDuration=160" } },
      requestDelegate: { onAccept: resolve, onReject: (r) => reject(new Error(`INFO ${r.message.statusCode}`)) },
    })), 5000, "INFO 200");
    assert.deepEqual(infoSeen, ["Signal=5\r\nDuration=160"]);
    await withTimeout(new Promise((resolve, reject) => call.invite({
      requestDelegate: { onAccept: resolve, onReject: (r) => reject(new Error(`re-INVITE ${r.message.statusCode}`)) },
    })), 5000, "re-INVITE 200");
    const ended = once(call.stateChange, (s) => s === SessionState.Terminated);
    await callee.bye();
    await withTimeout(ended, 5000, "BYE from callee reached caller");

    // CANCEL while ringing.
    let ringingResolve;
    const ringing = new Promise((r) => { ringingResolve = r; });
    const calleeGone = new Promise((resolve) => {
      bob.delegate = { onInvite: (inv) => {
        once(inv.stateChange, (s) => s === SessionState.Terminated).then(resolve);
        inv.progress().then(ringingResolve);
      } };
    });
    const call2 = new Inviter(alice, UserAgent.makeURI(`sip:bob@${DOMAIN}`));
    const call2Gone = once(call2.stateChange, (s) => s === SessionState.Terminated);
    await call2.invite();
    await withTimeout(ringing, 5000, "ringing");
    await call2.cancel();
    await withTimeout(Promise.all([calleeGone, call2Gone]), 5000, "CANCEL ends both sides");
  } catch (e) {
    e.message += `\n--- kamailio stderr (tail) ---\n${kam.stderr().split("\n").slice(-20).join("\n")}`;
    throw e;
  } finally {
    await alice.stop();
    await bob.stop();
    await kam.stop();
  }
  assert.equal(alice.transport.state, TransportState.Disconnected);
  assert.throws(() => process.kill(kam.pid, 0), { code: "ESRCH" }, "kamailio process is gone");
});

test("WsTransport: closed port rejects ua.start() with ECONNREFUSED, fast", { timeout: 10_000 }, async () => {
  const port = await freePort();
  const ua = makeUa("alice", `ws://127.0.0.1:${port}`);
  const t0 = Date.now();
  await assert.rejects(ua.start(), (e) => e instanceof Error && /WebSocket connect to ws:\/\/127\.0\.0\.1:\d+ failed: .*ECONNREFUSED/.test(e.message));
  assert.ok(Date.now() - t0 < 3000);
  assert.equal(ua.transport.state, TransportState.Disconnected);
  await ua.stop();
});

test("WsTransport: connectionTimeout is honoured when the server never answers", { timeout: 10_000 }, async () => {
  const sockets = new Set();
  const srv = createServer((s) => sockets.add(s)); // accepts TCP, never speaks HTTP
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const ua = makeUa("alice", `ws://127.0.0.1:${srv.address().port}`, { transportOptions: { server: `ws://127.0.0.1:${srv.address().port}`, connectionTimeout: 0.5 } });
  const t0 = Date.now();
  try {
    await assert.rejects(ua.start(), /timed out after 0\.5 s/);
    const took = Date.now() - t0;
    assert.ok(took >= 450 && took < 3000, `took ${took} ms`);
  } finally {
    await ua.stop();
    for (const s of sockets) s.destroy();
    await new Promise((r) => srv.close(r));
  }
});

test("WsTransport: server must select the sip subprotocol; a dropped connection reports an error and is not retried", { timeout: 10_000 }, async () => {
  const plain = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: () => false });
  await new Promise((r) => plain.once("listening", r));
  const ua1 = makeUa("alice", `ws://127.0.0.1:${plain.address().port}`);
  await assert.rejects(ua1.start(), /failed: .*subprotocol/);
  await ua1.stop();
  await new Promise((r) => plain.close(r));

  let connections = 0;
  const sip = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((r) => sip.once("listening", r));
  sip.on("connection", (ws) => { connections++; setImmediate(() => ws.terminate()); });
  const ua2 = makeUa("bob", `ws://127.0.0.1:${sip.address().port}`);
  const dropped = new Promise((resolve) => { ua2.delegate = { onDisconnect: resolve }; });
  await ua2.start();
  const err = await withTimeout(dropped, 5000, "onDisconnect");
  assert.ok(err instanceof Error && /WebSocket closed ws:\/\/127\.0\.0\.1:\d+ \(code: 1006/.test(err.message), String(err));
  assert.equal(ua2.transport.state, TransportState.Disconnected);
  await new Promise((r) => setTimeout(r, 200)); // a reconnect would happen within this window
  assert.equal(connections, 1);
  await ua2.stop();
  for (const c of sip.clients) c.terminate();
  await new Promise((r) => sip.close(r));
});
