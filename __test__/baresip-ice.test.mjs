// ICE without DTLS: baresip with `medianat=ice` offers RTP/SAVP (SDES) or RTP/AVP with ICE
// credentials and candidates, and the bot answers as an ICE-lite agent (a=ice-lite, its
// ufrag/pwd and host candidates) and answers baresip's connectivity checks. baresip completes
// ICE, starts its media (it sends none when the answer has no ICE), and the bot moves its
// media to the nominated pair, not the offer's default c= address. Tones both ways, hold and
// resume by baresip (same ICE credentials), BYE.
//
// baresip's ICE skips loopback addresses for host candidates, so the test gives `lo` a second,
// non-loopback address (10.211.0.1/32) in this network namespace for the duration of the test,
// and baresip needs a STUN server to gather: a minimal Binding responder of ours.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { sineWave, detectTone } from "../dist/index.js";
import { answerCall } from "../dist/sip.js";
import { startBaresip, readPcmWav } from "./support/baresip.mjs";
import { heardTone, near, onceState, startUdpBot, withTimeout, SessionState } from "./support/sip.mjs";
import { probe } from "./support/video.mjs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const HOST_IP = "10.211.0.1";
const BARESIP_HZ = 700;
const BOT_HZ = 1200;

/** A STUN server answering Binding requests with XOR-MAPPED-ADDRESS (RFC 5389), nothing else. */
async function startStun() {
  const s = createSocket("udp4");
  s.on("message", (m, r) => {
    if (m.length < 20 || m.readUInt16BE(0) !== 0x0001 || m.readUInt32BE(4) !== 0x2112a442) return;
    const out = Buffer.alloc(32);
    out.writeUInt16BE(0x0101, 0);
    out.writeUInt16BE(12, 2);
    m.copy(out, 4, 4, 20);
    out.writeUInt16BE(0x0020, 20);
    out.writeUInt16BE(8, 22);
    out.writeUInt16BE(0x0001, 24);
    out.writeUInt16BE(r.port ^ 0x2112, 26);
    r.address.split(".").forEach((b, i) => (out[28 + i] = Number(b) ^ [0x21, 0x12, 0xa4, 0x42][i]));
    s.send(out, r.port, r.address);
  });
  await new Promise((r) => s.bind(0, "127.0.0.1", r));
  return { port: s.address().port, close: () => new Promise((r) => s.close(r)) };
}

async function waitUntil(pred, what, ms = 5000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out: ${what}`);
}

describe("baresip offering ICE without DTLS; the bot answers as ICE-lite", { timeout: 120_000 }, () => {
  let stun;
  before(async () => {
    execFileSync("ip", ["addr", "add", `${HOST_IP}/32`, "dev", "lo"]);
    stun = await startStun();
  });
  after(async () => {
    await stun?.close();
    execFileSync("ip", ["addr", "del", `${HOST_IP}/32`, "dev", "lo"]);
  });

  for (const [name, mediaenc, proto] of [
    ["RTP/SAVP (SDES, srtp-mand) + ICE", "srtp-mand", "RTP/SAVP"],
    ["RTP/AVP + ICE", undefined, "RTP/AVP"],
  ]) {
    test(`${name}: baresip calls the bot; ICE completes on the nominated host pair, tones both ways, hold/resume by baresip keeps the credentials, BYE from the bot`, async () => {
      const bs = await startBaresip({
        toneHz: BARESIP_HZ,
        mediaenc,
        codecs: "PCMU/8000/1",
        modules: ["ice.so"],
        accountParams: ["medianat=ice", `stunserver=stun:127.0.0.1:${stun.port}`],
      });
      const bot = await startUdpBot({ bindAddresses: [HOST_IP] });
      try {
        await bs.command("dial", bot.uri);
        const inv = await bot.nextInvite();
        const offer = inv.request.body;
        assert.match(offer, new RegExp(`m=audio (\\d+) ${proto.replace("/", "\\/")} `));
        assert.match(offer, /a=ice-ufrag:/);
        // baresip's default candidate (c=/m=) is its server-reflexive address from our STUN server.
        const defaultPort = Number(/m=audio (\d+) /.exec(offer)[1]);
        const call = await answerCall(inv);
        const answer = call.peerConnection?.localDescription?.sdp ?? "";
        assert.match(answer, /^a=ice-lite\r$/m, "session-level a=ice-lite");
        assert.match(answer, new RegExp(`^a=candidate:1 1 UDP 2130706431 ${HOST_IP.replace(/\./g, "\\.")} \\d+ typ host\\r$`, "m"));
        assert.match(answer, /^a=ice-pwd:[A-Za-z0-9+/]{22,}\r$/m);
        await onceState(inv, SessionState.Established);
        call.play({ samples: sineWave(BOT_HZ, 16000, 30000), sampleRate: 16000 });
        const heard = await heardTone(call, 600, 16000);
        assert.ok(near(heard, BARESIP_HZ), `the bot heard ${heard} Hz from baresip`);
        assert.match(bs.output(), /connectivity check is complete/, "baresip completed ICE against the bot");
        const transport = [...(await call.stats()).values()].find((s) => s.type === "transport");
        // Media goes to the pair baresip nominated (its host candidate), not its c= default.
        assert.match(transport?.remoteAddress ?? "", new RegExp(`^${HOST_IP.replace(/\./g, "\\.")}:\\d+$`), JSON.stringify(transport));
        assert.notEqual(transport.remoteAddress, `127.0.0.1:${defaultPort}`);
        if (mediaenc) assert.ok(transport.srtpCipher, "SRTP keyed by SDES");
        // baresip's hold and resume re-INVITEs keep its ICE credentials, so ours stay too (a
        // change would be an ICE restart) and the media carries on over the same pair.
        const ufrag = (sdp) => /^a=ice-ufrag:(\S+)\r$/m.exec(sdp ?? "")?.[1];
        const ours = ufrag(answer);
        const inbound = async () => [...(await call.stats()).values()].find((s) => s.type === "inbound-rtp")?.packetsReceived ?? 0;
        await bs.command("hold");
        await waitUntil(async () => /a=(sendonly|inactive)/.test(call.peerConnection?.remoteDescription?.sdp ?? ""), "baresip's hold re-INVITE");
        await bs.command("resume");
        await waitUntil(async () => /a=sendrecv/.test(call.peerConnection?.remoteDescription?.sdp ?? ""), "baresip's resume re-INVITE");
        assert.equal(ufrag(call.peerConnection?.localDescription?.sdp), ours, "same ICE credentials after the re-INVITEs");
        const before = await inbound();
        await waitUntil(async () => (await inbound()) > before + 10, "media after resume");
        const again = await heardTone(call, 600, 16000);
        assert.ok(near(again, BARESIP_HZ), `after resume the bot hears ${again} Hz`);
        await new Promise((r) => setTimeout(r, 1000)); // a dump long enough to judge
        const closedFrom = bs.events.length;
        await call.hangup();
        await bs.waitEvent("CALL_CLOSED", 5000, closedFrom);
        await new Promise((r) => setTimeout(r, 200)); // sndfile closes its dump at stream end
        const dumps = bs.decodedDumps();
        assert.ok(dumps.length >= 1, "baresip wrote what it decoded");
        const tones = dumps.map((f) => {
          const { samples, rate } = readPcmWav(f);
          return detectTone(samples.subarray(Math.min(rate >> 1, samples.length >> 2)), rate);
        });
        assert.ok(tones.some((f) => near(f, BOT_HZ)), `baresip heard the bot: ${tones.join(",")} Hz`);
      } catch (e) {
        e.message += `\n--- baresip output (tail) ---\n${bs.output().replace(/\[[^\]]*\] audio=\S+ \(bit\/s\)\s*/g, "").slice(-3000)}`;
        throw e;
      } finally {
        await bot.stop();
        await bs.stop();
      }
    });
  }
  test("RTP/AVP + ICE with VP8 video: the video section gets ICE-lite credentials and host candidates of its own, baresip completes ICE on it and the bot records its video", async () => {
    const bs = await startBaresip({
      toneHz: BARESIP_HZ,
      codecs: "PCMU/8000/1",
      modules: ["ice.so", "vp8.so", "fakevideo.so"],
      accountParams: ["medianat=ice", `stunserver=stun:127.0.0.1:${stun.port}`, "video_codecs=vp8"],
      config: ["video_source fakevideo,nil", "video_display fakevideo,nil", "video_size 320x240", "video_fps 15", "video_bitrate 300000"],
    });
    const bot = await startUdpBot({ bindAddresses: [HOST_IP] });
    const dir = mkdtempSync(join(tmpdir(), "sipwire-ice-video-"));
    try {
      await bs.command("dial", bot.uri);
      const inv = await bot.nextInvite();
      const offer = inv.request.body;
      assert.match(offer, /^m=video [1-9]\d* RTP\/AVP/m, offer);
      const call = await answerCall(inv, { video: { codecs: ["vp8"], direction: "recvonly" } });
      const answer = call.peerConnection?.localDescription?.sdp ?? "";
      const video = answer.slice(answer.indexOf("m=video"));
      const audio = answer.slice(answer.indexOf("m=audio"), answer.indexOf("m=video"));
      const vport = Number(/^m=video (\d+) /m.exec(video)?.[1]);
      assert.ok(vport > 0, `video answered: ${answer}`);
      assert.match(video, new RegExp(`^a=candidate:2 1 UDP 2130706431 ${HOST_IP.replace(/\./g, "\\.")} ${vport} typ host\\r$`, "m"), video);
      const ufrag = (sdp) => /^a=ice-ufrag:(\S+)\r$/m.exec(sdp)?.[1];
      assert.ok(ufrag(video) && ufrag(video) !== ufrag(audio), "credentials of its own");
      await onceState(inv, SessionState.Established);
      const heard = await heardTone(call, 600, 16000);
      assert.ok(near(heard, BARESIP_HZ), `the bot heard ${heard} Hz from baresip`);
      // baresip sends video only once ICE completed for the video stream too.
      const file = join(dir, "ice.ivf");
      await call.recordVideo(file);
      let inb;
      await waitUntil(async () => {
        inb = [...(await call.stats()).values()].find((s) => s.type === "inbound-rtp" && s.kind === "video");
        return inb?.framesReceived >= 30 && inb.keyFramesReceived >= 1;
      }, `30 video frames from baresip over ICE (${JSON.stringify(inb)})`, 10000);
      await call.stopVideoRecording();
      const got = probe(file);
      console.log(`ICE video: ${JSON.stringify(inb)}; ffprobe ${JSON.stringify(got)}`);
      assert.equal(got.codec, "vp8");
      assert.deepEqual([got.width, got.height], [320, 240]);
      assert.ok(got.frames >= 10, `recording has ${got.frames} frames`);
      const closedFrom = bs.events.length;
      await call.hangup();
      await bs.waitEvent("CALL_CLOSED", 5000, closedFrom);
    } catch (e) {
      e.message += `\n--- baresip output (tail) ---\n${bs.output().replace(/\[[^\]]*\] audio=\S+ video=\S+ \(bit\/s\)[^\n]*?(?=\[|\n|$)/g, "").slice(-3000)}`;
      throw e;
    } finally {
      await bot.stop();
      await bs.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
