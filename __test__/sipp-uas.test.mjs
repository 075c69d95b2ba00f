// SIPp (sip-tester) as a UAS answering a sipwire bot's INVITE over UDP, through a lossy relay
// of ours that drops the first INVITE and the first 200 OK and duplicates the next 200 OK.
// The scenario answers with a WebRTC-shaped SDP (__test__/sipp/uas-webrtc-answer.xml; plain
// RTP with SIPp is sipp-rtp.test.mjs) and only the SIP dialog is checked:
// INVITE/180/200/ACK/BYE/200 with the bot's timer A and SIPp's 200 retransmission recovering
// the losses. SIPp missing is a failure, not a skip.
import test from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createSocket } from "node:dgram";
import { UdpTransport } from "../dist/transport/index.js";
import { startUdpRelay } from "./support/udp-relay.mjs";
import { Party, onceState, withTimeout, SessionState } from "./support/sip.mjs";

const SIPP = "/usr/bin/sipp";
const SCENARIO = join(dirname(fileURLToPath(import.meta.url)), "sipp", "uas-webrtc-answer.xml");

async function freeUdpPort() {
  const s = createSocket("udp4");
  await new Promise((r) => s.bind(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

test("SIPp UAS answers a bot's INVITE over UDP; lost INVITE and 200 OK recovered, duplicate 200 re-ACKed", { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "sipwire-sipp-"));
  const port = await freeUdpPort();
  const msgFile = join(dir, "messages.log");
  const sipp = spawn(SIPP, [
    "-sf", SCENARIO, "-i", "127.0.0.1", "-p", String(port), "-mp", String(await freeUdpPort()),
    "-m", "1", "-nostdin", "-timeout", "30s", "-timeout_error",
    "-trace_msg", "-message_file", msgFile, "-trace_err", "-error_file", join(dir, "errors.log"),
  ], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  sipp.stderr.on("data", (d) => { stderr += d; });
  const exited = new Promise((resolve, reject) => {
    sipp.once("error", reject);
    sipp.once("exit", (code, signal) => resolve({ code, signal }));
  });
  const dropped = { invite: 0, ok: 0, dup: 0 };
  const relay = await startUdpRelay({ host: "127.0.0.1", port }, (d) => {
    if (d.dir === "up" && d.start.startsWith("INVITE ") && !dropped.invite) return (dropped.invite++, "drop");
    if (d.dir === "down" && d.start.startsWith("SIP/2.0 200") && d.cseq === "INVITE") {
      if (!dropped.ok) return (dropped.ok++, "drop");
      if (!dropped.dup) return (dropped.dup++, "dup");
    }
    return undefined;
  }, { dupDelayMs: 300 }); // the copy comes after the bot's ACK, so it must be ACKed again
  const alice = new Party("alice", { transportConstructor: UdpTransport, transportOptions: { outboundProxy: `sip:127.0.0.1:${relay.port}`, bindAddress: "127.0.0.1" } });
  try {
    // SIPp needs a moment to bind; the bot's timer A covers that too, but keep the check honest.
    await alice.start(false);
    const call = await alice.dial("sipp");
    await onceState(call.session, SessionState.Established, 15_000);
    // Hang up only once the delayed copy of the 200 has been ACKed again (RFC 3261 §13.2.2.4).
    const acksUp = () => relay.log.filter((l) => l.dir === "up" && l.start.startsWith("ACK ")).length;
    for (let i = 0; i < 100 && acksUp() < 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(acksUp() >= 2, `one ACK per 200 OK that reached the bot (${acksUp()})`);
    await call.hangup();
    await withTimeout(call.ended, 5000, "call ended");
    const { code, signal } = await withTimeout(exited, 15_000, "sipp exit");
    const log = readFileSync(msgFile, "utf8");
    assert.equal(code, 0, `SIPp reports the call failed (exit ${code}, signal ${signal})\n${stderr}\n${log.slice(-3000)}`);
    assert.deepEqual(dropped, { invite: 1, ok: 1, dup: 1 }, "the relay dropped one INVITE, dropped one 200 and doubled the next");
    const count = (re) => (log.match(re) ?? []).length;
    const invitesAtSipp = count(/^INVITE sip:/gm);
    const oksSent = count(/^SIP\/2\.0 200 OK[\s\S]*?CSeq: \d+ INVITE/gm);
    const acksAtSipp = count(/^ACK sip:/gm);
    assert.ok(invitesAtSipp >= 1, "SIPp got the bot's retransmitted INVITE (the first was lost)");
    assert.ok(relay.log.filter((l) => l.dir === "up" && l.start.startsWith("INVITE ")).length >= 2, "the bot sent the INVITE again");
    assert.ok(oksSent >= 2, `SIPp resent its 200 OK (${oksSent} times in its log)`);
    assert.ok(acksAtSipp >= 2, `the bot ACKed the duplicated 200 again (${acksAtSipp} ACKs)`);
    assert.equal(count(/^BYE sip:/gm), 1);
    const st = alice.ua.transport.reliabilityStats;
    assert.ok(st.retransmittedRequests >= 1, JSON.stringify(st));
    t.diagnostic(`relay log: ${relay.log.map((l) => `${l.dir}:${l.start.split(" ").slice(0, 2).join(" ")}/${l.cseq}:${l.verdict}`).join(", ")}`);
  } finally {
    await alice.stop();
    await relay.close();
    if (sipp.exitCode === null && sipp.signalCode === null) {
      sipp.kill("SIGKILL");
      await exited.catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
