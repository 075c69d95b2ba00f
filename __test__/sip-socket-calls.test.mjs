// Bots with real media calling each other through a real Kamailio over SIP/UDP, SIP/TCP and
// SIP/TLS (sipwire's socket transports), plus UDP loss: a relay of our own drops the first
// INVITE and the first 200 OK, and the call still completes with audio both ways.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Registerer, RegistererState } from "sip.js";
import { sineWave } from "../dist/index.js";
import { UdpTransport, TcpTransport, TlsTransport } from "../dist/transport/index.js";
import { startKamailioSip } from "./support/kamailio-sip.mjs";
import { startUdpRelay } from "./support/udp-relay.mjs";
import { Party, establish, heardTone, near, withTimeout } from "./support/sip.mjs";

const tone = (freq, ms = 30000) => ({ samples: sineWave(freq, 16000, ms), sampleRate: 16000 });
const CONSTRUCTORS = { udp: UdpTransport, tcp: TcpTransport, tls: TlsTransport };

describe("bots call each other through Kamailio over UDP, TCP and TLS", { timeout: 120_000 }, () => {
  let kam;
  before(async () => { kam = await startKamailioSip({ tls: true }); });
  after(async () => { await kam?.stop(); });

  const transportFor = (t, outboundProxy) => ({
    transportConstructor: CONSTRUCTORS[t],
    transportOptions: {
      outboundProxy: outboundProxy ?? (t === "tls" ? `sip:127.0.0.1:${kam.tlsPort};transport=tls` : `sip:127.0.0.1:${kam.port}`),
      bindAddress: "127.0.0.1",
      ...(t === "tls" ? { ca: kam.ca } : {}),
    },
  });

  for (const t of ["udp", "tcp", "tls"]) {
    test(`${t.toUpperCase()}: register both, alice calls bob, tones both ways, BYE`, async () => {
      const alice = new Party("alice", transportFor(t));
      const bob = new Party("bob", transportFor(t));
      try {
        await alice.start(true);
        await bob.start(true);
        const [a, b] = await establish(alice, bob);
        a.play(tone(1000));
        b.play(tone(440));
        const [fb, fa] = await Promise.all([heardTone(b), heardTone(a)]);
        assert.ok(near(fb, 1000), `bob heard ${fb} Hz`);
        assert.ok(near(fa, 440), `alice heard ${fa} Hz`);
        await a.hangup();
        await withTimeout(b.ended, 5000, "BYE reached bob");
        assert.equal(alice.sdhClosed, 1);
        assert.equal(bob.sdhClosed, 1);
      } catch (e) {
        e.message += `\n--- kamailio stderr (tail) ---\n${kam.stderr().split("\n").slice(-20).join("\n")}`;
        throw e;
      } finally {
        await alice.stop();
        await bob.stop();
      }
    });
  }

  test("UDP loss, caller side: first INVITE and first 200 OK dropped; timer A and the callee's 2xx retransmission recover", async (t) => {
    const dropped = { invite: 0, ok: 0, byeOk: 0 };
    const relay = await startUdpRelay({ host: "127.0.0.1", port: kam.port }, (d) => {
      if (d.dir === "up" && d.start.startsWith("INVITE ") && !dropped.invite) return (dropped.invite++, "drop");
      if (d.dir === "down" && d.start.startsWith("SIP/2.0 200") && d.cseq === "INVITE" && !dropped.ok) return (dropped.ok++, "drop");
      // The 200 to the BYE too: the BYE must be resent (timer E).
      if (d.dir === "down" && d.start.startsWith("SIP/2.0 200") && d.cseq === "BYE" && !dropped.byeOk) return (dropped.byeOk++, "drop");
      return undefined;
    });
    const alice = new Party("alice", transportFor("udp", `sip:127.0.0.1:${relay.port}`));
    const bob = new Party("bob", transportFor("udp"));
    try {
      await alice.start(true);
      await bob.start(true);
      const t0 = Date.now();
      const [a, b] = await establish(alice, bob);
      const setup = Date.now() - t0;
      assert.deepEqual([dropped.invite, dropped.ok], [1, 1], "the relay dropped one INVITE and one 200 OK");
      const invitesUp = relay.log.filter((l) => l.dir === "up" && l.start.startsWith("INVITE ")).length;
      assert.ok(invitesUp >= 2, `alice sent the INVITE again (${invitesUp} copies seen)`);
      const oksDown = relay.log.filter((l) => l.dir === "down" && l.start.startsWith("SIP/2.0 200") && l.cseq === "INVITE").length;
      assert.ok(oksDown >= 2, `the 200 OK came again (${oksDown} copies)`);
      assert.ok(setup >= 500 && setup < 8000, `setup took ${setup} ms (one T1 at least)`);
      // Kamailio saw alice at the relay's port (rport in its responses), so like a NAT'd UA she
      // advertises that address in her INVITE's Contact (the REGISTER went out before she knew).
      assert.match(relay.log.find((l) => l.dir === "up" && l.start.startsWith("INVITE ")).text, new RegExp(`\\r\\nContact: <sip:[^@]+@127\\.0\\.0\\.1:${relay.backPort};transport=udp[;>]`));
      a.play(tone(1000));
      b.play(tone(440));
      const [fb, fa] = await Promise.all([heardTone(b), heardTone(a)]);
      assert.ok(near(fb, 1000), `bob heard ${fb} Hz`);
      assert.ok(near(fa, 440), `alice heard ${fa} Hz`);
      await a.hangup();
      await withTimeout(b.ended, 5000, "BYE reached bob");
      // The BYE's 200 was dropped once: wait until alice's timer E got one through.
      for (let i = 0; i < 100 && relay.log.filter((l) => l.dir === "down" && l.cseq === "BYE").length < 2; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(dropped.byeOk, 1);
      const byesUp = relay.log.filter((l) => l.dir === "up" && l.start.startsWith("BYE ")).length;
      assert.ok(byesUp >= 2, `alice resent the BYE (${byesUp} copies)`);
      const st = alice.ua.transport.reliabilityStats;
      assert.ok(st.retransmittedRequests >= 2, `INVITE and BYE retransmitted: ${JSON.stringify(st)}`);
      // A REGISTER after the NAT was seen keeps the local Contact (no second binding).
      const r = new Registerer(alice.ua, { expires: 300 });
      const registered = new Promise((resolve) => r.stateChange.addListener((s) => s === RegistererState.Registered && resolve()));
      await r.register();
      await withTimeout(registered, 5000, "re-registered");
      const lastReg = relay.log.filter((l) => l.dir === "up" && l.start.startsWith("REGISTER ")).at(-1).text;
      assert.match(lastReg, new RegExp(`\\r\\nContact: <sip:[^@]+@127\\.0\\.0\\.1:${alice.ua.transport.localPort};transport=udp[;>]`));
      t.diagnostic(`setup ${setup} ms with one INVITE and one 200 lost; INVITE copies ${invitesUp}, 200 copies ${oksDown}, BYE copies ${byesUp}; alice ${JSON.stringify(st)}`);
    } finally {
      await alice.stop();
      await bob.stop();
      await relay.close();
    }
  });

  test("UDP loss, callee side: first INVITE and first 200 OK dropped, a duplicated BYE absorbed", async (t) => {
    const dropped = { invite: 0, ok: 0 };
    const relay = await startUdpRelay({ host: "127.0.0.1", port: kam.port }, (d) => {
      if (d.dir === "down" && d.start.startsWith("INVITE ") && !dropped.invite) return (dropped.invite++, "drop");
      if (d.dir === "up" && d.start.startsWith("SIP/2.0 200") && d.cseq === "INVITE" && !dropped.ok) return (dropped.ok++, "drop");
      if (d.dir === "down" && d.start.startsWith("BYE ")) return "dup";
      return undefined;
    });
    const alice = new Party("alice", transportFor("udp"));
    const bob = new Party("bob", transportFor("udp", `sip:127.0.0.1:${relay.port}`));
    try {
      await alice.start(true);
      await bob.start(true);
      const [a, b] = await establish(alice, bob);
      assert.deepEqual([dropped.invite, dropped.ok], [1, 1]);
      const oksUp = relay.log.filter((l) => l.dir === "up" && l.start.startsWith("SIP/2.0 200") && l.cseq === "INVITE").length;
      assert.ok(oksUp >= 2, `bob resent the 200 OK until the ACK (${oksUp} copies)`);
      const acks = relay.log.filter((l) => l.dir === "down" && l.start.startsWith("ACK ")).length;
      assert.ok(acks >= 1, "the ACK reached bob");
      const invitesDelivered = bob.sdhCreated;
      assert.equal(invitesDelivered, 1, "one INVITE reached SIP.js (retransmissions absorbed)");
      a.play(tone(700));
      assert.ok(near(await heardTone(b), 700));
      await a.hangup();
      await withTimeout(b.ended, 5000, "BYE reached bob");
      const st = bob.ua.transport.reliabilityStats;
      for (let i = 0; i < 40 && st.absorbedRequests < 1; i++) await new Promise((r) => setTimeout(r, 25));
      const st2 = bob.ua.transport.reliabilityStats;
      assert.ok(st2.absorbedRequests >= 1, `the duplicated BYE was absorbed: ${JSON.stringify(st2)}`);
      assert.ok(st2.resentResponses >= 1, `and answered with the same 200 again: ${JSON.stringify(st2)}`);
      assert.equal(bob.sdhClosed, 1);
      t.diagnostic(`200 copies up ${oksUp}; bob ${JSON.stringify(st2)}`);
    } finally {
      await alice.stop();
      await bob.stop();
      await relay.close();
    }
  });

  test("UDP loss: the ACK for a 486 is lost, the callee resends the 486 (timer G) until an ACK arrives", async (t) => {
    let droppedAck = 0;
    const relay = await startUdpRelay({ host: "127.0.0.1", port: kam.port }, (d) => {
      if (d.dir === "down" && d.start.startsWith("ACK ") && !droppedAck) return (droppedAck++, "drop");
      return undefined;
    });
    const alice = new Party("alice", transportFor("udp"));
    const bob = new Party("bob", transportFor("udp", `sip:127.0.0.1:${relay.port}`));
    try {
      await alice.start(true);
      await bob.start(true);
      const [call, invitation] = await Promise.all([alice.dial("bob"), bob.nextInvite()]);
      await invitation.reject({ statusCode: 486 });
      await withTimeout(call.ended, 5000, "caller saw the 486");
      const busyUp = () => relay.log.filter((l) => l.dir === "up" && l.start.startsWith("SIP/2.0 486")).length;
      const acksDown = () => relay.log.filter((l) => l.dir === "down" && l.start.startsWith("ACK ")).length;
      for (let i = 0; i < 100 && acksDown() < 2; i++) await new Promise((r) => setTimeout(r, 25));
      assert.equal(droppedAck, 1);
      assert.ok(busyUp() >= 2, `486 resent (${busyUp()} copies)`);
      assert.ok(acksDown() >= 2, `the resent 486 drew a second ACK (${acksDown()})`);
      const settled = busyUp();
      // Timer G is stopped by the ACK: no more 486 in the next 2*T1 + slack.
      await new Promise((r) => setTimeout(r, 1200));
      assert.equal(busyUp(), settled, "no 486 after the ACK");
      const st = bob.ua.transport.reliabilityStats;
      assert.ok(st.retransmittedResponses >= 1, JSON.stringify(st));
      t.diagnostic(`486 copies ${settled}, ACKs ${acksDown()} (one dropped); bob ${JSON.stringify(st)}`);
    } finally {
      await alice.stop();
      await bob.stop();
      await relay.close();
    }
  });
});
