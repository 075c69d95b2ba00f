// SIP.js over sipwire's UdpTransport / TcpTransport / TlsTransport against a real Kamailio
// listening on UDP, TCP and TLS (certificate made by openssl in the test). Signalling only (a
// text SDH); the media calls are in sip-socket-calls.test.mjs. Kamailio missing is a failure.
import test from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { createSocket } from "node:dgram";
import { randomBytes } from "node:crypto";
import { UserAgent, Registerer, RegistererState, Messager, Inviter, SessionState, SIPExtension, TransportState } from "sip.js";
import { UdpTransport, TcpTransport, TlsTransport } from "../dist/transport/index.js";
import { startKamailioSip, makeCertificate } from "./support/kamailio-sip.mjs";
import { freePort } from "./support/kamailio.mjs";

const DOMAIN = "sipwire.invalid";
const CONSTRUCTORS = { udp: UdpTransport, tcp: TcpTransport, tls: TlsTransport };

const withTimeout = (p, ms, what) => {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timeout: ${what}`)), ms); })]).finally(() => clearTimeout(t));
};
const once = (emitter, pred) => new Promise((resolve) => {
  const l = (s) => { if (pred(s)) { emitter.removeListener(l); resolve(s); } };
  emitter.addListener(l);
});

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

function makeUa(user, transport, transportOptions, extra = {}) {
  return new UserAgent({
    uri: UserAgent.makeURI(`sip:${user}@${DOMAIN}`),
    transportConstructor: CONSTRUCTORS[transport],
    transportOptions: { bindAddress: "127.0.0.1", connectionTimeout: 3, ...transportOptions },
    sessionDescriptionHandlerFactory: () => new FakeSdh(),
    sipExtension100rel: SIPExtension.Supported,
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

let kam;
test.before(async () => { kam = await startKamailioSip({ tls: true }); });
test.after(async () => { await kam?.stop(); });

for (const transport of ["udp", "tcp", "tls"]) {
  test(`${transport.toUpperCase()}: register, MESSAGE, 100rel call with INFO, re-INVITE, BYE and CANCEL through Kamailio`, { timeout: 40_000 }, async () => {
    const proxy = transport === "tls" ? `sip:127.0.0.1:${kam.tlsPort};transport=tls` : `sip:127.0.0.1:${kam.port}`;
    const opts = { outboundProxy: proxy, ...(transport === "tls" ? { ca: kam.ca } : {}) };
    const alice = makeUa("alice", transport, opts);
    const bob = makeUa("bob", transport, opts);
    const sent = [];
    try {
      const states = [];
      alice.transport.stateChange.addListener((s) => states.push(s));
      await alice.start();
      await bob.start();
      assert.deepEqual(states, [TransportState.Connecting, TransportState.Connected]);
      assert.equal(alice.transport.protocol, transport.toUpperCase());
      assert.match(alice.transport.contactAddress, /^127\.0\.0\.1:\d+$/);
      // Watch what goes on the wire: real address in Via (with rport) and Contact.
      const origSend = alice.transport.send.bind(alice.transport);
      const wire = [];
      const origTransmit = alice.transport.transmit.bind(alice.transport);
      alice.transport.transmit = (data, info) => (wire.push(data.toString()), origTransmit(data, info));
      alice.transport.send = (m) => (sent.push(m), origSend(m));
      await register(alice);
      await register(bob);
      const reg = wire.find((m) => m.startsWith("REGISTER"));
      const contact = alice.transport.contactAddress;
      assert.match(reg, new RegExp(`\\r\\nVia: SIP/2\\.0/${transport.toUpperCase()} ${contact.replace(/\./g, "\\.")};branch=z9hG4bK[^\\r]*;rport\\r\\n`, "i"));
      assert.match(reg, new RegExp(`\\r\\nContact: <sip:[^@]+@${contact.replace(/\./g, "\\.")};transport=${transport}>`));
      assert.ok(!/\.invalid/.test(reg.split("\r\n").filter((l) => /^(via|contact):/i.test(l)).join()), "no .invalid host left in Via/Contact");

      const got = new Promise((resolve) => { bob.delegate = { onMessage: (m) => { m.accept(); resolve(m.request.body); } }; });
      assert.equal(await withTimeout(send(alice, `sip:bob@${DOMAIN}`, "hello bob"), 5000, "MESSAGE 200"), 200);
      assert.equal(await withTimeout(got, 5000, "bob got MESSAGE"), "hello bob");
      assert.equal(await withTimeout(send(alice, `sip:nobody@${DOMAIN}`, "?"), 5000, "MESSAGE 404"), 404);

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
    }
    assert.equal(alice.transport.state, TransportState.Disconnected);
  });
}

test("TLS: certificate verification is on by default (self-signed server without `ca` refused)", { timeout: 15_000 }, async () => {
  const ua = makeUa("eve", "tls", { outboundProxy: `sip:127.0.0.1:${kam.tlsPort}` });
  await assert.rejects(ua.start(), /TLS connect to 127\.0\.0\.1:\d+ failed: .*(self[- ]signed|unable to verify)/i);
  assert.equal(ua.transport.state, TransportState.Disconnected);
  // A name the certificate does not carry is refused too, even with the right CA.
  const ua2 = makeUa("eve", "tls", { outboundProxy: `sip:127.0.0.1:${kam.tlsPort}`, ca: kam.ca, servername: "other.test" });
  await assert.rejects(ua2.start(), /ERR_TLS_CERT_ALTNAME_INVALID|does not match|altnames/i);
  // The DNS name it does carry works (SNI + identity from `servername`).
  const ua3 = makeUa("eve", "tls", { outboundProxy: `sip:127.0.0.1:${kam.tlsPort}`, ca: kam.ca, servername: "sip.test" });
  await ua3.start();
  await register(ua3);
  await ua3.stop();
  // Turning verification off is explicit (and warned about): then the self-signed server is accepted.
  const warnings = [];
  const ua4 = makeUa("eve", "tls", { outboundProxy: `sip:127.0.0.1:${kam.tlsPort}`, rejectUnauthorized: false }, {
    logConnector: (level, _cat, _label, content) => level === "warn" && warnings.push(content),
    logBuiltinEnabled: false, logLevel: "warn",
  });
  await ua4.start();
  await register(ua4);
  await ua4.stop();
  assert.ok(warnings.some((w) => /certificate verification is OFF/.test(w)), warnings.join("\n"));
  // No cert/key means no listener; without a proxy connection there is no reachable Contact.
  const lonely = makeUa("eve", "tls", {});
  await assert.rejects(lonely.start(), /no listener \(TLS needs cert and key to listen\) and no outboundProxy/);
});

test("TLS listener with cert/key; TCP/UDP to a closed port and bad options fail clearly", { timeout: 15_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "sipwire-tls-"));
  try {
    const c = makeCertificate(dir);
    const ua = makeUa("srv", "tls", { outboundProxy: `sip:127.0.0.1:${kam.tlsPort}`, ca: kam.ca, cert: c.cert, key: c.key });
    await ua.start();
    assert.ok(ua.transport.localPort > 0, "listening");
    assert.equal(ua.transport.contactAddress, `127.0.0.1:${ua.transport.localPort}`);
    await ua.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const port = await freePort();
  const tcp = makeUa("x", "tcp", { outboundProxy: `sip:127.0.0.1:${port}` });
  const t0 = Date.now();
  await assert.rejects(tcp.start(), /TCP connect to 127\.0\.0\.1:\d+ failed: .*ECONNREFUSED/);
  assert.ok(Date.now() - t0 < 2000);
  const unresolvable = makeUa("x", "udp", { outboundProxy: "sip:no-such-host.invalid", resolver: { resolveSrv: async () => [], resolve4: async () => { throw new Error("ENOTFOUND"); }, resolve6: async () => { throw new Error("ENOTFOUND"); } } });
  await assert.rejects(unresolvable.start(), /cannot resolve sip:no-such-host\.invalid for SIP over UDP/);
  assert.throws(() => makeUa("x", "udp", { bindAddress: "localhost" }), /bindAddress must be an IP address/);
  assert.throws(() => makeUa("x", "udp", { port: 70000 }), /invalid port/);
  // Port already taken: UDP bind fails with EADDRINUSE.
  const holder = makeUa("h", "udp", { outboundProxy: `sip:127.0.0.1:${kam.port}` });
  await holder.start();
  const clash = makeUa("c", "udp", { outboundProxy: `sip:127.0.0.1:${kam.port}`, port: holder.transport.localPort });
  await assert.rejects(clash.start(), /UDP bind to 127\.0\.0\.1:\d+ failed: .*EADDRINUSE/);
  await holder.stop();
});

test("TCP: the proxy connection dropping moves the transport to Disconnected with an error", { timeout: 15_000 }, async () => {
  // A bare TCP server standing in for the proxy, so the test can cut the connection.
  const sockets = new Set();
  const srv = createServer((s) => { sockets.add(s); s.on("error", () => {}); });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const ua = makeUa("x", "tcp", { outboundProxy: `sip:127.0.0.1:${srv.address().port}` });
  try {
    await ua.start();
    const disconnected = new Promise((resolve) => { ua.transport.onDisconnect = resolve; });
    for (const s of sockets) s.destroy();
    const err = await withTimeout(disconnected, 5000, "onDisconnect");
    assert.match(err.message, /connection to outbound proxy 127\.0\.0\.1:\d+ closed/);
    assert.equal(ua.transport.state, TransportState.Disconnected);
  } finally {
    await ua.stop();
    await new Promise((r) => srv.close(r));
  }
});

test("RFC 3263 through the transport: outbound proxy by SRV (injected resolver) for UDP, TCP and TLS", { timeout: 20_000 }, async () => {
  const queries = [];
  const resolver = {
    resolveSrv: async (name) => {
      queries.push(`SRV ${name}`);
      if (name === "_sip._udp.pbx.test" || name === "_sip._tcp.pbx.test") return [{ name: "sip1.pbx.test", port: kam.port, priority: 10, weight: 1 }];
      if (name === "_sips._tcp.pbx.test") return [{ name: "sip1.pbx.test", port: kam.tlsPort, priority: 10, weight: 1 }];
      throw Object.assign(new Error(`ENOTFOUND ${name}`), { code: "ENOTFOUND" });
    },
    resolve4: async (name) => {
      queries.push(`A ${name}`);
      if (name === "sip1.pbx.test") return ["127.0.0.1"];
      throw Object.assign(new Error(`ENOTFOUND ${name}`), { code: "ENOTFOUND" });
    },
    resolve6: async (name) => { queries.push(`AAAA ${name}`); throw new Error("ENODATA"); },
  };
  for (const transport of ["udp", "tcp", "tls"]) {
    queries.length = 0;
    // TLS: the certificate must match the URI host "pbx.test"... ours is for 127.0.0.1/sip.test,
    // so name it explicitly (RFC 5922 would check pbx.test; a mismatch is refused, tested above).
    const ua = makeUa("srv", transport, { outboundProxy: "sip:pbx.test", resolver, ...(transport === "tls" ? { ca: kam.ca, servername: "sip.test" } : {}) });
    try {
      await ua.start();
      await register(ua);
    } finally {
      await ua.stop();
    }
    const srv = transport === "tls" ? "_sips._tcp.pbx.test" : `_sip._${transport}.pbx.test`;
    assert.deepEqual(queries.filter((q) => !q.startsWith("AAAA")), [`SRV ${srv}`, "A sip1.pbx.test"], transport);
  }
});

for (const bindAddress of ["127.0.0.1", "::1"]) test(`UDP without a proxy on ${bindAddress}: direct calls both ways (Request-URI routing), garbage datagrams ignored`, { timeout: 20_000 }, async () => {
  const alice = makeUa("alice", "udp", { bindAddress });
  const bob = makeUa("bob", "udp", { bindAddress });
  try {
    await alice.start();
    await bob.start();
    let invites = 0;
    const bobAddr = bob.transport.contactAddress;
    assert.equal(bobAddr, bindAddress === "::1" ? `[::1]:${bob.transport.localPort}` : `127.0.0.1:${bob.transport.localPort}`);
    // Junk at bob's SIP port first: random bytes, a head without end, a bad Content-Length.
    const junk = createSocket(bindAddress === "::1" ? "udp6" : "udp4");
    for (const d of [randomBytes(300), Buffer.from("INVITE sip:x SIP/2.0\r\nVia: nope"), Buffer.from("OPTIONS sip:x SIP/2.0\r\nContent-Length: 99\r\n\r\nshort"), Buffer.from("\r\n\r\n")]) {
      await new Promise((r) => junk.send(d, bob.transport.localPort, bindAddress, r));
    }
    junk.close();
    let callee;
    const answered = new Promise((resolve) => {
      bob.delegate = { onInvite: async (inv) => { invites++; callee = inv; await inv.accept(); resolve(); } };
    });
    const call = new Inviter(alice, UserAgent.makeURI(`sip:bob@${bobAddr}`));
    const established = once(call.stateChange, (s) => s === SessionState.Established);
    await call.invite();
    await withTimeout(Promise.all([established, answered]), 5000, "direct call established");
    const ended = once(callee.stateChange, (s) => s === SessionState.Terminated);
    await call.bye();
    await withTimeout(ended, 5000, "BYE reached bob directly");
    // Same again the other way: bob calls alice, alice hangs up.
    let callee2;
    const answered2 = new Promise((resolve) => {
      alice.delegate = { onInvite: async (inv) => { invites++; callee2 = inv; await inv.accept(); resolve(); } };
    });
    const call2 = new Inviter(bob, UserAgent.makeURI(`sip:alice@${alice.transport.contactAddress}`));
    const est2 = once(call2.stateChange, (s) => s === SessionState.Established);
    await call2.invite();
    await withTimeout(Promise.all([est2, answered2]), 5000, "reverse call");
    const ended2 = once(call2.stateChange, (s) => s === SessionState.Terminated);
    await callee2.bye();
    await withTimeout(ended2, 5000, "BYE from the callee");
    // A slow machine may make timer A fire before the 200 (T1 is 500 ms); whatever was resent
    // must have been absorbed: SIP.js saw each INVITE once.
    assert.equal(invites, 2, "one INVITE per call reached SIP.js");
    const resent = alice.transport.reliabilityStats.retransmittedRequests + bob.transport.reliabilityStats.retransmittedRequests;
    const absorbed = alice.transport.reliabilityStats.absorbedRequests + bob.transport.reliabilityStats.absorbedRequests;
    assert.ok(absorbed <= resent, `absorbed ${absorbed} <= resent ${resent}: junk was never mistaken for a retransmission`);
  } finally {
    await alice.stop();
    await bob.stop();
  }
});
