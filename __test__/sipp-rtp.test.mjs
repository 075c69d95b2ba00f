// SIPp (sip-tester) as a UAC placing 20 concurrent plain-RTP (RTP/AVP PCMU) calls to a
// sipwire bot over SIP/UDP, streaming an 8 kHz mu-law WAV made by sox with its rtp_stream
// action; the bot answers each call and must hear the WAV's tone on every one. Also: garbage
// sent to a call's RTP port and to port+1 (RTCP) leaves the call and its audio intact.
// And SIPp as a UAS the bot calls with mediaProfile 'rtp': SIPp answers RTP/AVP and echoes
// the bot's RTP (-rtp_echo), so the bot hears its own tone. SIPp or sox missing is a
// failure, not a skip.
import test from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createSocket } from "node:dgram";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { answerCall } from "../dist/sip.js";
import { UserAgent, Inviter, SessionState } from "sip.js";
import { Call } from "../dist/sip.js";
import { heardTone, near, onceState, startUdpBot, withTimeout } from "./support/sip.mjs";

const SIPP = "/usr/bin/sipp";
const SCENARIO = join(dirname(fileURLToPath(import.meta.url)), "sipp", "uac-rtp-stream.xml");
const UAS_ECHO = join(dirname(fileURLToPath(import.meta.url)), "sipp", "uas-rtp-echo.xml");
const CALLS = 20;
const HZ = 700;

async function freeUdpPort() {
  const s = createSocket("udp4");
  await new Promise((r) => s.bind(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

test(`SIPp UAC: ${CALLS} concurrent RTP/AVP calls to a bot over UDP; the bot hears SIPp's audio on every call, garbage on RTP/RTCP ports is harmless`, { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "sipwire-sipp-rtp-"));
  const wav = join(dir, "tone.wav");
  execFileSync("sox", ["-n", "-r", "8000", "-c", "1", "-e", "u-law", wav, "synth", "10", "sine", String(HZ), "vol", "0.5"]);
  const bot = await startUdpBot();
  const heard = [];
  const answered = [];
  let garbageSent = false;
  bot.ua.delegate = {
    onInvite: async (inv) => {
      try {
        const call = await answerCall(inv);
        answered.push(call);
        if (!garbageSent) {
          // Junk at the call's RTP port and at port+1 from a stranger: dropped, never fatal.
          garbageSent = true;
          const m = /m=audio (\d+) /.exec(call.peerConnection?.localDescription?.sdp ?? "");
          const port = Number(m?.[1]);
          const s = createSocket("udp4");
          for (const p of [port, port + 1]) {
            for (const junk of [Buffer.from("not rtp"), Buffer.alloc(300, 0x80), Buffer.from([0x80, 201, 0, 1, 1, 2, 3, 4])]) {
              await new Promise((r) => s.send(junk, p, "127.0.0.1", r));
            }
          }
          s.close();
        }
        heard.push(await heardTone(call, 600, 16000));
      } catch (e) {
        heard.push(`error: ${e.message}`);
      }
    },
  };
  const port = Number(bot.uri.split(":").pop());
  const sipp = spawn(SIPP, [
    "-sf", SCENARIO, "-i", "127.0.0.1", "-p", String(await freeUdpPort()), "-mp", String(30000 + 2 * Math.floor(Math.random() * 5000)),
    "-m", String(CALLS), "-l", String(CALLS), "-r", String(CALLS), "-rp", "1000",
    "-nostdin", "-timeout", "60s", "-timeout_error", "-trace_err", "-error_file", join(dir, "errors.log"),
    `127.0.0.1:${port}`,
  ], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  sipp.stderr.on("data", (d) => { stderr += d; });
  const exited = new Promise((resolve, reject) => {
    sipp.once("error", reject);
    sipp.once("exit", (code, signal) => resolve({ code, signal }));
  });
  try {
    const { code } = await withTimeout(exited, 90_000, "SIPp finished its calls");
    let errors = "";
    try { errors = readFileSync(join(dir, "errors.log"), "utf8"); } catch { /* none */ }
    assert.equal(code, 0, `SIPp exit code ${code} (0 = every call succeeded)\n${stderr}\n${errors.slice(-2000)}`);
    assert.equal(answered.length, CALLS, "the bot answered every call");
    const ok = heard.filter((f) => typeof f === "number" && near(f, HZ));
    assert.equal(ok.length, CALLS, `the bot heard ${HZ} Hz on every call: ${heard.join(", ")}`);
    for (const c of answered) await withTimeout(c.ended, 5000, "SIPp's BYE ended the call");
  } finally {
    if (sipp.exitCode === null) sipp.kill("SIGKILL");
    await bot.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("SIPp UAS: the bot calls SIPp offering RTP/AVP; SIPp echoes the RTP and the bot hears its own tone; BYE", { timeout: 60_000 }, async () => {
  const port = await freeUdpPort();
  const sipp = spawn(SIPP, [
    "-sf", UAS_ECHO, "-i", "127.0.0.1", "-p", String(port), "-mi", "127.0.0.1", "-mp", String(await freeUdpPort()), "-rtp_echo",
    "-m", "1", "-nostdin", "-timeout", "30s", "-timeout_error",
  ], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  sipp.stderr.on("data", (d) => { stderr += d; });
  const exited = new Promise((resolve, reject) => {
    sipp.once("error", reject);
    sipp.once("exit", (code, signal) => resolve({ code, signal }));
  });
  const bot = await startUdpBot({ mediaProfile: "rtp", codecs: ["pcmu"] });
  try {
    // SIPp binds in a moment; the bot's timer A resends the INVITE if it was early.
    const inviter = new Inviter(bot.ua, UserAgent.makeURI(`sip:sipp@127.0.0.1:${port}`));
    const call = new Call(inviter);
    await inviter.invite();
    await onceState(inviter, SessionState.Established, 15_000);
    assert.match(call.peerConnection?.remoteDescription?.sdp ?? "", /RTP\/AVP/);
    call.play({ samples: (await import("../dist/index.js")).sineWave(900, 16000, 10000), sampleRate: 16000 });
    const heard = await heardTone(call, 600, 16000);
    assert.ok(near(heard, 900), `the bot heard its tone echoed by SIPp: ${heard} Hz`);
    await call.hangup();
    const { code } = await withTimeout(exited, 10_000, "SIPp ended");
    assert.equal(code, 0, `SIPp exit code ${code}\n${stderr}`);
  } finally {
    if (sipp.exitCode === null) sipp.kill("SIGKILL");
    await bot.stop();
  }
});
