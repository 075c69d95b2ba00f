// Unit tests of the SIP socket transports' pure parts: Content-Length framing (random chunking),
// the RFC 3261 retransmission state machine (time injected), RFC 3263 resolution (fake resolver)
// and the Via/Contact rewriting helpers. No sockets.
import test from "node:test";
import assert from "node:assert/strict";
import {
  StreamFramer,
  SipFramingError,
  frameDatagram,
  SipReliability,
  resolveSipUri,
  orderSrv,
  parseSipMessage,
  parseSipTarget,
} from "../dist/transport/index.js";
import { rewriteContacts, rewriteTopVia, setParam } from "../dist/transport/sip-message.js";

// ---------- framing ----------

function makeMessage(i) {
  // Multi-byte UTF-8 in the body: Content-Length counts octets, and a chunk may split a character.
  const body = i % 3 === 0 ? "" : `v=0\r\ns=é${"ü".repeat(i % 7)} call ${i}\r\n`;
  const len = Buffer.byteLength(body);
  const cl = i % 4 === 1 ? `l: ${len}` : `Content-Length: ${len}`; // compact form too
  return `MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK${i}\r\nCSeq: ${i} MESSAGE\r\nCall-ID: c${i}\r\n${cl}\r\n\r\n${body}`;
}

// Deterministic PRNG so a failure can be replayed.
function prng(seed) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

test("StreamFramer: 200 random chunkings of 40 back-to-back messages give the same 40 messages", () => {
  const msgs = Array.from({ length: 40 }, (_, i) => makeMessage(i));
  // CRLF keep-alives between some messages, as RFC 5626 allows.
  const stream = Buffer.from(msgs.map((m, i) => (i % 5 === 2 ? "\r\n\r\n" : "") + m).join(""), "utf8");
  for (let seed = 1; seed <= 200; seed++) {
    const rnd = prng(seed);
    const framer = new StreamFramer();
    const got = [];
    let pings = 0;
    for (let off = 0; off < stream.length; ) {
      // Mostly small pieces (1..40 bytes), sometimes several messages at once.
      const n = rnd() < 0.1 ? 1 + Math.floor(rnd() * 2000) : 1 + Math.floor(rnd() * 40);
      for (const item of framer.push(stream.subarray(off, off + n))) {
        if (item.type === "message") got.push(item.data.toString("utf8"));
        else pings++;
      }
      off += n;
    }
    assert.deepEqual(got, msgs, `seed ${seed}`);
    assert.equal(framer.buffered, 0, `seed ${seed}: nothing left over`);
    assert.ok(pings <= 8, `seed ${seed}: at most one ping per keep-alive`);
  }
});

test("StreamFramer: whole keep-alive is a ping; several messages in one read", () => {
  const f = new StreamFramer();
  assert.deepEqual(f.push(Buffer.from("\r\n\r\n")), [{ type: "ping" }]);
  const two = Buffer.from(makeMessage(1) + makeMessage(2));
  const out = f.push(two);
  assert.equal(out.length, 2);
  assert.equal(out[1].data.toString(), makeMessage(2));
});

test("StreamFramer: bad Content-Length, oversize head and body are errors and poison the stream", () => {
  const bad = new StreamFramer();
  assert.throws(() => bad.push(Buffer.from("OPTIONS sip:a SIP/2.0\r\nContent-Length: -1\r\n\r\n")), (e) => e instanceof SipFramingError && e.code === "ERR_SIP_BAD_CONTENT_LENGTH");
  assert.throws(() => bad.push(Buffer.from(makeMessage(3))), (e) => e.code === "ERR_SIP_BAD_CONTENT_LENGTH", "stays failed");
  const conflicting = new StreamFramer();
  assert.throws(() => conflicting.push(Buffer.from("OPTIONS sip:a SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\n")), (e) => e.code === "ERR_SIP_BAD_CONTENT_LENGTH");
  const head = new StreamFramer({ maxHeadBytes: 100 });
  assert.throws(() => head.push(Buffer.from("OPTIONS sip:a SIP/2.0\r\nX: " + "a".repeat(200))), (e) => e.code === "ERR_SIP_HEAD_TOO_LARGE");
  const body = new StreamFramer({ maxBodyBytes: 10 });
  assert.throws(() => body.push(Buffer.from("OPTIONS sip:a SIP/2.0\r\nContent-Length: 11\r\n\r\n")), (e) => e.code === "ERR_SIP_BODY_TOO_LARGE");
});

test("frameDatagram: cut to Content-Length, short body dropped, keep-alive ignored", () => {
  const m = makeMessage(2);
  assert.equal(frameDatagram(Buffer.from(m + "garbage"))?.toString(), m);
  assert.equal(frameDatagram(Buffer.from(m.slice(0, -3))), undefined);
  assert.equal(frameDatagram(Buffer.from("\r\n\r\n")), undefined);
  assert.equal(frameDatagram(Buffer.from("no head end")), undefined);
});

// ---------- message helpers ----------

test("parseSipMessage and the Via/Contact rewriting SIP.js needs", () => {
  const req =
    "INVITE sip:bob@example.com SIP/2.0\r\nv: SIP/2.0/UDP abc.invalid;branch=z9hG4bKx1\r\nVia: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKy\r\n" +
    'To: "Bob" <sip:bob@example.com>;tag=t1\r\nCall-ID: cid\r\nCSeq: 7 INVITE\r\nRoute: <sip:10.0.0.1;lr>, <sip:10.0.0.2;lr>\r\n' +
    "Contact: <sip:u1@abc.invalid;transport=ws>;expires=60\r\nContent-Length: 0\r\n\r\n";
  const info = parseSipMessage(req);
  assert.deepEqual(
    { kind: info.kind, method: info.method, branch: info.branch, sentBy: info.sentBy, cseq: [info.cseqNum, info.cseqMethod], callId: info.callId, toTag: info.toTag, route: info.route },
    { kind: "request", method: "INVITE", branch: "z9hG4bKx1", sentBy: "abc.invalid", cseq: [7, "INVITE"], callId: "cid", toTag: "t1", route: "sip:10.0.0.1;lr" }
  );
  const via = rewriteTopVia(req, (v) => ({ ...v, host: "192.0.2.1", port: 5070, params: setParam(v.params, "rport", undefined) }));
  assert.match(via, /\r\nv: SIP\/2\.0\/UDP 192\.0\.2\.1:5070;branch=z9hG4bKx1;rport\r\nVia: SIP\/2\.0\/UDP 10\.0\.0\.9:5060;branch=z9hG4bKy\r\n/);
  const contact = rewriteContacts(req, (h) => h.endsWith(".invalid"), "192.0.2.1:5070", "udp");
  assert.match(contact, /Contact: <sip:u1@192\.0\.2\.1:5070;transport=udp>;expires=60\r\n/);
  assert.equal(rewriteContacts(req, () => false, "x:1", "udp"), req, "foreign contacts untouched");
  const resp = parseSipMessage("SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h:1;branch=z9hG4bKq;received=1.2.3.4;rport=9\r\nRSeq: 4\r\nCSeq: 1 INVITE\r\n\r\n");
  assert.equal(resp.status, 180);
  assert.equal(resp.rseq, "4");
  assert.equal(parseSipMessage("HTTP/1.1 200 OK\r\n\r\n"), undefined);
  assert.deepEqual(parseSipTarget("sips:alice@[2001:db8::1]:5061;transport=tcp"), { host: "2001:db8::1", port: 5061, secure: true, transport: "tcp", maddr: undefined });
  assert.deepEqual(parseSipTarget("pbx.example.com"), { host: "pbx.example.com", port: undefined, secure: false, transport: undefined, maddr: undefined });
  assert.throws(() => parseSipTarget("sip:host:99999"), /invalid port/);
});

// ---------- retransmission state machine ----------

const T1 = 500;
const T2 = 4000;
const head = (start, { branch = "z9hG4bK1", sentBy = "10.0.0.1:5060", cseq = "1 INVITE", toTag = "", rseq = "" } = {}) =>
  `${start}\r\nVia: SIP/2.0/UDP ${sentBy};branch=${branch}\r\nCall-ID: c1\r\nCSeq: ${cseq}\r\nTo: <sip:b@x>${toTag ? `;tag=${toTag}` : ""}\r\n${rseq ? `RSeq: ${rseq}\r\n` : ""}Content-Length: 0\r\n\r\n`;
const msg = (start, opts) => {
  const text = head(start, opts);
  return { text, info: parseSipMessage(text), data: Buffer.from(text) };
};

/** Drive poll() at every deadline up to `until`; returns the times of each transmit. */
function runTimers(rel, from, until) {
  const times = [];
  let now = from;
  for (let guard = 0; guard < 1000; guard++) {
    const next = rel.nextDeadline();
    if (next === undefined || next > until) break;
    now = Math.max(now, next);
    for (const t of rel.poll(now)) times.push({ at: now - from, data: t.data.toString() });
  }
  return times;
}

test("timer A: INVITE resent at T1, 2T1, 4T1... (no cap) until 64*T1 when nothing answers", () => {
  const rel = new SipReliability();
  const inv = msg("INVITE sip:b@x SIP/2.0");
  rel.outgoing(inv.info, inv.data, "peer", 0);
  const times = runTimers(rel, 0, 100_000).map((t) => t.at);
  assert.deepEqual(times, [500, 1500, 3500, 7500, 15500, 31500], "RFC 3261 §17.1.1.2: A doubles, B stops at 64*T1");
  assert.equal(rel.stats.retransmittedRequests, 6);
  assert.equal(rel.size, 0, "forgotten after timer B plus T4");
});

test("timer A stops on a provisional; duplicate provisional absorbed, first delivered", () => {
  const rel = new SipReliability();
  const inv = msg("INVITE sip:b@x SIP/2.0");
  rel.outgoing(inv.info, inv.data, "peer", 0);
  assert.equal(runTimers(rel, 0, 600).length, 1, "one retransmission before the 100");
  const trying = msg("SIP/2.0 100 Trying");
  assert.deepEqual(rel.incoming(trying.info, "peer", 700), { deliver: true, send: [] });
  const again = rel.incoming(trying.info, "peer", 800);
  assert.equal(again.deliver, false);
  assert.equal(again.absorbed, "duplicate-response");
  // A different reliable 183 (other RSeq) is new.
  assert.equal(rel.incoming(msg("SIP/2.0 183 Session Progress", { toTag: "a", rseq: "1" }).info, "peer", 900).deliver, true);
  assert.equal(rel.incoming(msg("SIP/2.0 183 Session Progress", { toTag: "a", rseq: "2" }).info, "peer", 950).deliver, true);
  assert.equal(runTimers(rel, 950, 60_000).length, 0, "no more INVITEs after a provisional");
});

test("timer E: non-INVITE doubles to T2, then T2 after a provisional, stops on final; duplicate final absorbed", () => {
  const rel = new SipReliability();
  const reg = msg("REGISTER sip:x SIP/2.0", { cseq: "1 REGISTER" });
  rel.outgoing(reg.info, reg.data, "peer", 0);
  const early = runTimers(rel, 0, 16_000).map((t) => t.at);
  assert.deepEqual(early, [500, 1500, 3500, 7500, 11500, 15500], "T1, 2T1, 4T1, then capped at T2");
  const prov = msg("SIP/2.0 100 Trying", { cseq: "1 REGISTER" });
  assert.equal(rel.incoming(prov.info, "peer", 16_000).deliver, true);
  const mid = runTimers(rel, 16_000, 24_100).map((t) => t.at);
  assert.deepEqual(mid, [3500, 7500], "Proceeding: the running timer E fires, then every T2");
  const ok = msg("SIP/2.0 200 OK", { cseq: "1 REGISTER", toTag: "r" });
  assert.equal(rel.incoming(ok.info, "peer", 24_200).deliver, true);
  assert.equal(runTimers(rel, 24_200, 31_000).length, 0, "stopped by the final response");
  assert.equal(rel.incoming(ok.info, "peer", 25_000).deliver, false, "retransmitted 200 absorbed");
});

test("timer G: a non-2xx final to INVITE resent (T1 doubling, capped T2) until the ACK; ACK passed up once", () => {
  const rel = new SipReliability();
  const inv = msg("INVITE sip:b@x SIP/2.0", { branch: "z9hG4bKsrv" });
  assert.equal(rel.incoming(inv.info, "peer", 0).deliver, true);
  const busy = msg("SIP/2.0 486 Busy Here", { branch: "z9hG4bKsrv", toTag: "me" });
  rel.outgoing(busy.info, busy.data, "peer", 100);
  const sent = runTimers(rel, 100, 16_200);
  assert.deepEqual(sent.map((t) => t.at), [500, 1500, 3500, 7500, 11500, 15500]);
  assert.ok(sent.every((t) => t.data.startsWith("SIP/2.0 486")));
  const ack = msg("ACK sip:b@x SIP/2.0", { branch: "z9hG4bKsrv", cseq: "1 ACK", toTag: "me" });
  assert.equal(rel.incoming(ack.info, "peer", 16_300).deliver, true);
  assert.equal(rel.incoming(ack.info, "peer", 16_400).absorbed, "duplicate-ack");
  assert.equal(runTimers(rel, 16_400, 60_000).length, 0, "ACK stops timer G");
});

test("timer G gives up at 64*T1 (timer H) without an ACK", () => {
  const rel = new SipReliability();
  const inv = msg("INVITE sip:b@x SIP/2.0", { branch: "z9hG4bKh" });
  rel.incoming(inv.info, "peer", 0);
  const busy = msg("SIP/2.0 603 Decline", { branch: "z9hG4bKh", toTag: "me" });
  rel.outgoing(busy.info, busy.data, "peer", 0);
  const sent = runTimers(rel, 0, 200_000).map((t) => t.at);
  assert.equal(sent.at(-1) < 64 * T1, true);
  assert.deepEqual(sent.slice(0, 4), [500, 1500, 3500, 7500]);
  assert.ok(sent.slice(4).every((t, i) => t - (sent[3 + i]) === T2), "capped at T2");
});

test("server: a retransmitted request is absorbed and answered with the last response (not for INVITE 2xx)", () => {
  const rel = new SipReliability();
  const bye = msg("BYE sip:b@x SIP/2.0", { branch: "z9hG4bKbye", cseq: "2 BYE" });
  assert.equal(rel.incoming(bye.info, "peer", 0).deliver, true);
  const again = rel.incoming(bye.info, "peer", 10);
  assert.deepEqual([again.deliver, again.send.length], [false, 0], "Trying: absorbed, nothing to resend yet");
  const ok = msg("SIP/2.0 200 OK", { branch: "z9hG4bKbye", cseq: "2 BYE", toTag: "x" });
  rel.outgoing(ok.info, ok.data, "peer", 20);
  const third = rel.incoming(bye.info, "peer", 20_000);
  assert.equal(third.deliver, false);
  assert.equal(third.send[0].data.toString(), ok.text, "timer J: 200 resent for the retransmitted BYE");

  const inv = msg("INVITE sip:b@x SIP/2.0", { branch: "z9hG4bKinv" });
  rel.incoming(inv.info, "peer", 0);
  const ringing = msg("SIP/2.0 180 Ringing", { branch: "z9hG4bKinv", toTag: "t" });
  rel.outgoing(ringing.info, ringing.data, "peer", 5);
  assert.equal(rel.incoming(inv.info, "peer", 500).send[0].data.toString(), ringing.text, "Proceeding: provisional resent");
  const okInv = msg("SIP/2.0 200 OK", { branch: "z9hG4bKinv", toTag: "t" });
  rel.outgoing(okInv.info, okInv.data, "peer", 600);
  assert.equal(runTimers(rel, 600, 5000).length, 0, "2xx retransmission is left to SIP.js' dialog layer (RFC 6026)");
  const late = rel.incoming(inv.info, "peer", 1000);
  assert.deepEqual([late.deliver, late.send.length], [false, 0], "Accepted: absorbed silently");
});

test("client: a duplicate non-2xx final to INVITE re-sends the ACK; duplicate 2xx goes up to SIP.js", () => {
  const rel = new SipReliability();
  const inv = msg("INVITE sip:b@x SIP/2.0", { branch: "z9hG4bKc" });
  rel.outgoing(inv.info, inv.data, "peer", 0);
  const busy = msg("SIP/2.0 486 Busy Here", { branch: "z9hG4bKc", toTag: "t" });
  assert.equal(rel.incoming(busy.info, "peer", 100).deliver, true);
  const ack = msg("ACK sip:b@x SIP/2.0", { branch: "z9hG4bKc", cseq: "1 ACK", toTag: "t" });
  rel.outgoing(ack.info, ack.data, "peer", 110);
  const dup = rel.incoming(busy.info, "peer", 600);
  assert.equal(dup.deliver, false);
  assert.equal(dup.send[0].data.toString(), ack.text);
  assert.equal(rel.stats.resentAcks, 1);

  const inv2 = msg("INVITE sip:b@x SIP/2.0", { branch: "z9hG4bKd" });
  rel.outgoing(inv2.info, inv2.data, "peer", 0);
  const ok = msg("SIP/2.0 200 OK", { branch: "z9hG4bKd", toTag: "u" });
  assert.equal(rel.incoming(ok.info, "peer", 100).deliver, true);
  assert.equal(rel.incoming(ok.info, "peer", 600).deliver, true, "SIP.js' Accepted state re-ACKs 2xx retransmissions");
});

test("SipReliability forgets everything after the transaction lifetimes (no leak)", () => {
  const rel = new SipReliability({ T1: 10, T2: 80, T4: 100 });
  for (let i = 0; i < 50; i++) {
    const r = msg("OPTIONS sip:b@x SIP/2.0", { branch: `z9hG4bKo${i}`, cseq: `${i} OPTIONS` });
    rel.outgoing(r.info, r.data, "peer", i);
    const s = msg("INFO sip:b@x SIP/2.0", { branch: `z9hG4bKi${i}`, cseq: `${i} INFO` });
    rel.incoming(s.info, "peer", i);
  }
  assert.equal(rel.size, 100);
  runTimers(rel, 0, 10_000);
  assert.equal(rel.size, 0);
  assert.throws(() => new SipReliability({ T1: 0 }), /T1 must be a positive/);
});

// ---------- RFC 3263 resolution ----------

function fakeResolver(records) {
  const calls = [];
  const lookup = (kind) => async (name) => {
    calls.push(`${kind} ${name}`);
    const v = records[`${kind} ${name}`];
    if (!v) throw Object.assign(new Error(`queryA ENOTFOUND ${name}`), { code: "ENOTFOUND" });
    return v;
  };
  return { calls, resolver: { resolveSrv: lookup("SRV"), resolve4: lookup("A"), resolve6: lookup("AAAA") } };
}

test("resolveSipUri: SRV per transport, priority then weight, then A/AAAA of each target", async () => {
  const { resolver, calls } = fakeResolver({
    "SRV _sip._udp.example.com": [
      { name: "b.example.com", port: 5070, priority: 20, weight: 0 },
      { name: "a.example.com", port: 5060, priority: 10, weight: 100 },
    ],
    "SRV _sips._tcp.example.com": [{ name: "tls.example.com", port: 5061, priority: 1, weight: 1 }],
    "SRV _sip._tcp.example.com": [{ name: ".", port: 0, priority: 0, weight: 0 }],
    "A a.example.com": ["192.0.2.10"],
    "A b.example.com": ["192.0.2.20"],
    "AAAA b.example.com": ["2001:db8::20"],
    "A tls.example.com": ["192.0.2.30"],
    "A example.com": ["192.0.2.99"],
  });
  const udp = await resolveSipUri("sip:alice@example.com", "udp", { resolver });
  assert.deepEqual(udp.map((a) => `${a.address}:${a.port}`), ["192.0.2.10:5060", "192.0.2.20:5070", "2001:db8::20:5070"]);
  assert.ok(udp.every((a) => a.hostname === "example.com"), "TLS identity is the URI host, not the SRV target");
  const tls = await resolveSipUri("sip:example.com", "tls", { resolver });
  assert.deepEqual(tls.map((a) => `${a.address}:${a.port}`), ["192.0.2.30:5061"]);
  assert.ok(calls.includes("SRV _sips._tcp.example.com"));
  // "." target: SRV says no service; nothing else to try, so it fails clearly.
  await assert.rejects(resolveSipUri("sip:example.com", "tcp", { resolver }), /cannot resolve sip:example\.com for SIP over TCP/);
  // A port skips SRV (RFC 3263 §4.2); an IP literal skips DNS.
  calls.length = 0;
  assert.deepEqual((await resolveSipUri("sip:example.com:5080", "udp", { resolver, family: 4 })).map((a) => a.port), [5080]);
  assert.deepEqual(calls, ["A example.com"]);
  calls.length = 0;
  assert.deepEqual(await resolveSipUri("sip:127.0.0.1", "tls", { resolver }), [{ address: "127.0.0.1", port: 5061, family: 4, hostname: "127.0.0.1" }]);
  assert.deepEqual(calls, []);
  // No SRV: A/AAAA with the default port.
  const { resolver: r2 } = fakeResolver({ "A pbx.test": ["198.51.100.7"] });
  assert.deepEqual(await resolveSipUri("pbx.test", "tcp", { resolver: r2 }), [{ address: "198.51.100.7", port: 5060, family: 4, hostname: "pbx.test" }]);
  await assert.rejects(resolveSipUri("sip:nowhere.test", "udp", { resolver: r2 }), /cannot resolve sip:nowhere\.test for SIP over UDP: .*ENOTFOUND/);
});

test("orderSrv: RFC 2782 weighted choice within a priority", () => {
  const recs = [
    { name: "heavy", port: 1, priority: 1, weight: 90 },
    { name: "light", port: 1, priority: 1, weight: 10 },
    { name: "backup", port: 1, priority: 2, weight: 50 },
  ];
  let heavyFirst = 0;
  const rnd = prng(7);
  for (let i = 0; i < 1000; i++) {
    const o = orderSrv(recs, rnd).map((r) => r.name);
    assert.equal(o[2], "backup");
    if (o[0] === "heavy") heavyFirst++;
  }
  assert.ok(heavyFirst > 850 && heavyFirst < 950, `heavy first ${heavyFirst}/1000 (expected ~900)`);
});
