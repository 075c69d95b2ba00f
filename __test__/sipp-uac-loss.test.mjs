// SIPp (sip-tester) as a UAC calling a sipwire bot over SIP/UDP through a lossy relay of
// ours that drops the first INVITE and the first 200 OK of every call. SIPp's own timer A
// must resend the INVITE, the bot must resend its 200 OK until SIPp's ACK, and every call
// must still complete with audio: SIPp streams a 700 Hz mu-law WAV (rtp_stream, RTP/AVP
// PCMU, straight to the bot's media port) and the bot hears it. BYE from SIPp. The
// opposite direction (the bot's timer A, SIPp's 200 retransmission) is sipp-uas.test.mjs.
// SIPp or sox missing is a failure, not a skip.
import test from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createSocket } from "node:dgram";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { answerCall } from "../dist/sip.js";
import { heardTone, near, startUdpBot, withTimeout } from "./support/sip.mjs";
import { startUdpRelay } from "./support/udp-relay.mjs";

const SIPP = "/usr/bin/sipp";
const SCENARIO = join(dirname(fileURLToPath(import.meta.url)), "sipp", "uac-rtp-stream.xml");
const CALLS = 4;
const HZ = 700;

async function freeUdpPort() {
  const s = createSocket("udp4");
  await new Promise((r) => s.bind(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

const callIdOf = (text) => /\r\nCall-ID:\s*(\S+)/i.exec(text)?.[1] ?? "";

test(`SIPp UAC through a lossy relay: the first INVITE and the first 200 OK of each of ${CALLS} calls lost; SIPp's timer A and the bot's 2xx retransmission recover; audio on every call`, { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "sipwire-sipp-loss-"));
  execFileSync("sox", ["-n", "-r", "8000", "-c", "1", "-e", "u-law", join(dir, "tone.wav"), "synth", "10", "sine", String(HZ), "vol", "0.5"]);
  const bot = await startUdpBot({ mediaProfile: "rtp", codecs: ["pcmu"] });
  const heard = [];
  const answered = [];
  const invitesSeen = new Map(); // Call-ID -> INVITEs SIP.js was handed (must be 1 each)
  bot.ua.delegate = {
    onInvite: async (inv) => {
      const id = inv.request.callId;
      invitesSeen.set(id, (invitesSeen.get(id) ?? 0) + 1);
      try {
        const call = await answerCall(inv);
        answered.push(call);
        heard.push(await heardTone(call, 600, 16000));
      } catch (e) {
        heard.push(`error: ${e.message}`);
      }
    },
  };
  const botPort = Number(bot.uri.split(":").pop());
  const droppedInvite = new Set();
  const droppedOk = new Set();
  const relay = await startUdpRelay({ host: "127.0.0.1", port: botPort }, (d) => {
    const id = callIdOf(d.text);
    if (d.dir === "up" && d.start.startsWith("INVITE ") && !droppedInvite.has(id)) return (droppedInvite.add(id), "drop");
    if (d.dir === "down" && d.start.startsWith("SIP/2.0 200") && d.cseq === "INVITE" && !droppedOk.has(id)) return (droppedOk.add(id), "drop");
    return undefined;
  });
  const msgFile = join(dir, "messages.log");
  const sipp = spawn(SIPP, [
    "-sf", SCENARIO, "-i", "127.0.0.1", "-p", String(await freeUdpPort()), "-mp", String(30000 + 2 * Math.floor(Math.random() * 5000)),
    "-m", String(CALLS), "-l", String(CALLS), "-r", String(CALLS), "-rp", "1000",
    "-nostdin", "-timeout", "40s", "-timeout_error",
    "-trace_msg", "-message_file", msgFile, "-trace_err", "-error_file", join(dir, "errors.log"),
    `127.0.0.1:${relay.port}`,
  ], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  sipp.stderr.on("data", (d) => { stderr += d; });
  const exited = new Promise((resolve, reject) => {
    sipp.once("error", reject);
    sipp.once("exit", (code, signal) => resolve({ code, signal }));
  });
  try {
    const { code, signal } = await withTimeout(exited, 50_000, "SIPp finished its calls");
    let errors = "";
    try { errors = readFileSync(join(dir, "errors.log"), "utf8"); } catch { /* none */ }
    assert.equal(code, 0, `SIPp exit ${code} ${signal ?? ""} (0 = every call succeeded)\n${stderr}\n${errors.slice(-2000)}`);
    assert.equal(droppedInvite.size, CALLS, "the relay dropped one INVITE per call");
    assert.equal(droppedOk.size, CALLS, "the relay dropped one 200 OK per call");
    const up = (re) => relay.log.filter((l) => l.dir === "up" && re.test(l.start));
    const down200 = relay.log.filter((l) => l.dir === "down" && l.start.startsWith("SIP/2.0 200") && l.cseq === "INVITE");
    for (const id of droppedInvite) {
      const invites = up(/^INVITE /).filter((l) => callIdOf(l.text) === id);
      assert.ok(invites.length >= 2, `SIPp resent the INVITE of ${id} (${invites.length} sent)`);
      const oks = down200.filter((l) => callIdOf(l.text) === id);
      assert.ok(oks.length >= 2, `the bot resent its 200 OK for ${id} until the ACK (${oks.length} sent)`);
      assert.equal(invitesSeen.get(id), 1, `SIP.js saw the INVITE of ${id} once (retransmissions absorbed)`);
    }
    assert.equal(up(/^ACK /).length >= CALLS, true, "an ACK per call reached the bot");
    assert.equal(answered.length, CALLS, "the bot answered every call");
    const ok = heard.filter((f) => typeof f === "number" && near(f, HZ));
    assert.equal(ok.length, CALLS, `the bot heard ${HZ} Hz on every call: ${heard.join(", ")}`);
    for (const c of answered) await withTimeout(c.ended, 5000, "SIPp's BYE ended the call");
    const log = readFileSync(msgFile, "utf8");
    assert.ok((log.match(/^INVITE sip:/gm) ?? []).length >= 2 * CALLS, "SIPp's message log shows the INVITE resent");
    t.diagnostic(`relay: ${relay.log.length} datagrams, INVITEs up ${up(/^INVITE /).length}, 200s down ${down200.length}`);
  } finally {
    if (sipp.exitCode === null && sipp.signalCode === null) {
      sipp.kill("SIGKILL");
      await exited.catch(() => {});
    }
    await bot.stop();
    await relay.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
