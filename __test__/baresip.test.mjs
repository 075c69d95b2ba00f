// A real softphone, baresip (Debian baresip-core), against a sipwire bot over SIP/UDP
// directly (no proxy), with the plain media profiles: RTP/AVP (PCMU, PCMA) and RTP/SAVP
// keyed by SDES (baresip's srtp module, mediaenc=srtp-mand), and G.722 over RTP/AVP. Each way: the bot calls
// baresip and baresip calls the bot; tones both ways (baresip plays a WAV through aufile,
// the bot detects it; the bot's tone is found in what baresip decoded, dumped by sndfile),
// RFC 4733 both ways, hold/resume by re-INVITE, BYE from each side. Policy: a plain-RTP
// offer to a bot that refuses unencrypted media is answered 488.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { UserAgent, Inviter, SessionState } from "sip.js";
import { sineWave, detectTone } from "../dist/index.js";
import { Call, answerCall } from "../dist/sip.js";
import { startBaresip, readPcmWav } from "./support/baresip.mjs";
import { heardTone, near, onceState, startUdpBot as startBot, withTimeout, Party, DOMAIN } from "./support/sip.mjs";
import { startKamailioSip } from "./support/kamailio-sip.mjs";
import { UdpTransport } from "../dist/transport/index.js";

const BARESIP_HZ = 700;
const BOT_HZ = 1200;
const tone = (freq, ms = 30000) => ({ samples: sineWave(freq, 16000, ms), sampleRate: 16000 });

const digitsOf = (call) => {
  const got = [];
  got.methods = [];
  call.addEventListener("dtmf", (e) => (got.push(e.digit), got.methods.push(e.method)));
  return got;
};

async function waitFor(pred, ms, what) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out: ${what}`);
}

/** What baresip heard of the bot: its sndfile dump, read once the call is over. */
function baresipHeard(bs) {
  const dumps = bs.decodedDumps();
  assert.ok(dumps.length >= 1, `baresip wrote a decoded-audio dump (${bs.dir})`);
  return dumps.map((f) => {
    const { samples, rate } = readPcmWav(f);
    // Skip the first second (setup), look at the middle of the call.
    return detectTone(samples.subarray(Math.min(rate, samples.length >> 2), samples.length - (rate >> 1)), rate);
  });
}

async function exercise({ bs, call, heldBy, baresipHangsUp, mark }) {
  call.play(tone(BOT_HZ));
  const heard = await heardTone(call, 600, 16000);
  assert.ok(near(heard, BARESIP_HZ), `${mark}: the bot heard ${heard} Hz from baresip`);
  // RFC 4733: bot -> baresip.
  const from = bs.events.length;
  await call.sendDtmf("1", { method: "rfc4733" });
  const ev = await bs.waitEvent("CALL_DTMF_START", 5000, from);
  assert.equal(ev.param, "1", `${mark}: baresip got the bot's digit`);
  // RFC 4733: baresip -> bot.
  const digits = digitsOf(call);
  await bs.command("sndcode", "5");
  await waitFor(() => digits.length > 0, 5000, `${mark}: the bot gets baresip's digit`);
  assert.deepEqual([...digits], ["5"], `${mark}: digits by method ${digits.methods.join(",")}`);
  // Hold and resume.
  if (heldBy === "bot") {
    await call.hold();
    assert.equal(call.held, true);
    await call.unhold();
  } else {
    await bs.command("hold");
    await waitDirection(call, (d) => d !== undefined && d !== "sendrecv", `${mark}: baresip's hold re-INVITE reached the bot`);
    await bs.command("resume");
    await waitDirection(call, (d) => d === "sendrecv", `${mark}: baresip's resume re-INVITE reached the bot`);
  }
  const again = await heardTone(call, 600, 16000);
  assert.ok(near(again, BARESIP_HZ), `${mark}: after resume the bot hears ${again} Hz`);
  // BYE.
  if (baresipHangsUp) {
    await bs.command("hangup");
    await withTimeout(call.ended, 5000, `${mark}: baresip's BYE ended the bot's call`);
  } else {
    const closedFrom = bs.events.length;
    await call.hangup();
    await bs.waitEvent("CALL_CLOSED", 5000, closedFrom);
  }
  await new Promise((r) => setTimeout(r, 200)); // sndfile closes its dump at stream end
  const tones = baresipHeard(bs);
  assert.ok(tones.some((f) => near(f, BOT_HZ)), `${mark}: baresip heard ${tones.join(",")} Hz from the bot`);
}

/** Our media direction as getStats reports it (outbound-rtp), polled until `want` holds. */
async function waitDirection(call, want, what) {
  const end = Date.now() + 5000;
  let last;
  while (Date.now() < end) {
    last = [...(await call.stats()).values()].find((x) => x.type === "outbound-rtp")?.direction;
    if (want(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out: ${what} (direction ${last})`);
}

async function botCallsBaresip({ bs, bot }, inviterOptions = {}) {
  const inviter = new Inviter(bot.ua, UserAgent.makeURI(bs.uri), inviterOptions);
  const call = new Call(inviter);
  const incomingFrom = bs.events.length;
  await inviter.invite();
  await bs.waitEvent("CALL_INCOMING", 5000, incomingFrom);
  await bs.command("accept");
  await onceState(inviter, SessionState.Established);
  return call;
}

async function baresipCallsBot({ bs, bot, answerOptions }) {
  await bs.command("dial", bot.uri);
  const inv = await bot.nextInvite();
  const call = await answerCall(inv, answerOptions);
  await onceState(inv, SessionState.Established);
  return call;
}

const withPeers = async ({ baresip, pc }, body) => {
  const bs = await startBaresip({ toneHz: BARESIP_HZ, ...baresip });
  const bot = await startBot(pc);
  try {
    await body({ bs, bot });
  } catch (e) {
    e.message += `\n--- baresip output (tail) ---\n${bs.output().slice(-3000)}`;
    throw e;
  } finally {
    await bot.stop();
    await bs.stop();
  }
};

describe("baresip, plain RTP and SDES-SRTP, direct SIP/UDP", { timeout: 180_000 }, () => {
  test("RTP/AVP PCMU: the bot calls baresip; tones, DTMF both ways, hold/unhold by the bot, BYE from the bot", () =>
    withPeers({ baresip: { codecs: "PCMU/8000/1" }, pc: { mediaProfile: "rtp", codecs: ["pcmu"] } }, async ({ bs, bot }) => {
      const call = await botCallsBaresip({ bs, bot });
      const sdp = call.peerConnection?.localDescription?.sdp ?? "";
      assert.match(sdp, /m=audio \d+ RTP\/AVP 0 101/);
      await exercise({ bs, call, heldBy: "bot", baresipHangsUp: false, mark: "PCMU bot->baresip" });
    }));

  test("RTP/AVP PCMA: baresip calls the bot; tones, DTMF both ways, hold/resume by baresip, BYE from baresip", () =>
    withPeers({ baresip: { codecs: "PCMA/8000/1" }, pc: {} }, async ({ bs, bot }) => {
      const call = await baresipCallsBot({ bs, bot });
      const stats = [...(await call.stats()).values()];
      assert.equal(stats.find((s) => s.type === "codec")?.mimeType, "audio/PCMA");
      assert.ok(!stats.some((s) => s.type === "candidate-pair" || s.type === "certificate"), "no ICE/DTLS stats entries");
      await exercise({ bs, call, heldBy: "baresip", baresipHangsUp: true, mark: "PCMA baresip->bot" });
    }));

  test("RTP/AVP G.722: the bot calls baresip; tones both ways, DTMF, hold/unhold by the bot, BYE from baresip", () =>
    withPeers({ baresip: { codecs: "G722/16000/1", modules: ["g722.so"] }, pc: { mediaProfile: "rtp", codecs: ["g722"] } }, async ({ bs, bot }) => {
      const call = await botCallsBaresip({ bs, bot });
      // RFC 3551: G.722 is 16 kHz audio on an 8000 Hz RTP clock, static payload type 9.
      assert.match(call.peerConnection?.localDescription?.sdp ?? "", /m=audio \d+ RTP\/AVP 9 101[\s\S]*a=rtpmap:9 G722\/8000/);
      const codec = [...(await call.stats()).values()].find((s) => s.type === "codec");
      assert.equal(codec?.mimeType, "audio/G722");
      await exercise({ bs, call, heldBy: "bot", baresipHangsUp: true, mark: "G.722 bot->baresip" });
    }));

  test("RTP/AVP G.722: baresip calls the bot (default codecs); tones, DTMF, hold/resume by baresip, BYE from the bot", () =>
    withPeers({ baresip: { codecs: "G722/16000/1,PCMU/8000/1", modules: ["g722.so"] }, pc: {} }, async ({ bs, bot }) => {
      const call = await baresipCallsBot({ bs, bot });
      // The bot's default order puts G.722 before G.711: it answers with 9.
      assert.match(call.peerConnection?.localDescription?.sdp ?? "", /m=audio \d+ RTP\/AVP 9[ \r]/);
      await exercise({ bs, call, heldBy: "baresip", baresipHangsUp: false, mark: "G.722 baresip->bot" });
    }));

  test("SDES (srtp-mand): the bot calls baresip; tones, DTMF, hold, BYE from the bot", () =>
    withPeers({ baresip: { mediaenc: "srtp-mand", codecs: "PCMU/8000/1" }, pc: { mediaProfile: "sdes" } }, async ({ bs, bot }) => {
      const call = await botCallsBaresip({ bs, bot });
      const remote = call.peerConnection?.remoteDescription?.sdp ?? "";
      assert.match(remote, /RTP\/SAVP/);
      assert.match(remote, /a=crypto:\d+ \S+ inline:/);
      const transport = [...(await call.stats()).values()].find((s) => s.type === "transport");
      assert.ok(transport?.srtpCipher, `srtpCipher in stats: ${JSON.stringify(transport)}`);
      await exercise({ bs, call, heldBy: "bot", baresipHangsUp: false, mark: "SDES bot->baresip" });
    }));

  test("SDES (srtp-mand): baresip calls the bot; tones, DTMF, hold by baresip, BYE from baresip", () =>
    withPeers({ baresip: { mediaenc: "srtp-mand", codecs: "PCMU/8000/1" }, pc: {} }, async ({ bs, bot }) => {
      const call = await baresipCallsBot({ bs, bot });
      assert.match(call.peerConnection?.localDescription?.sdp ?? "", /RTP\/SAVP[\s\S]*a=crypto:/);
      await exercise({ bs, call, heldBy: "baresip", baresipHangsUp: true, mark: "SDES baresip->bot" });
    }));

  test("RTP/AVP without rtcp-mux: baresip's receiver reports reach the RTCP socket at port + 1 named by our a=rtcp", () =>
    withPeers({ baresip: { codecs: "PCMU/8000/1" }, pc: {} }, async ({ bs, bot }) => {
      const call = await baresipCallsBot({ bs, bot });
      const offer = call.peerConnection?.remoteDescription?.sdp ?? "";
      assert.doesNotMatch(offer, /a=rtcp-mux/, "baresip offers no rtcp-mux");
      const answer = call.peerConnection?.localDescription?.sdp ?? "";
      const port = /m=audio (\d+) /.exec(answer)?.[1];
      assert.match(answer, new RegExp(`a=rtcp:${Number(port) + 1}\r\n`), "our a=rtcp names RTP port + 1");
      assert.doesNotMatch(answer, /a=rtcp-mux/);
      // baresip reports every ~5 s; its RR about our SSRC shows up as remote-inbound-rtp.
      let remote;
      const end = Date.now() + 12000;
      while (Date.now() < end && !remote) {
        remote = [...(await call.stats()).values()].find((s) => s.type === "remote-inbound-rtp");
        if (!remote) await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(remote, "a receiver report from baresip reached the bot");
      assert.equal(remote.packetsLost, 0, JSON.stringify(remote));
      console.log(`baresip RR: rttMeasurements=${remote.roundTripTimeMeasurements} rtt=${remote.roundTripTime}`);
      const closedFrom = bs.events.length;
      await call.hangup();
      await bs.waitEvent("CALL_CLOSED", 5000, closedFrom);
    }));

  test("SDES with a wrong key: the bot decrypts nothing, hears no audio, and reports mediafailed (rtp-timeout) after rtpTimeout", () =>
    withPeers({ baresip: { mediaenc: "srtp-mand", codecs: "PCMU/8000/1" }, pc: { mediaProfile: "sdes", rtpTimeout: 1500 } }, async ({ bs, bot }) => {
      // Corrupt baresip's key in the answer as the bot applies it (same suite, tag and length).
      const wrongKey = async (d) =>
        d.type !== "answer" ? d : { ...d, sdp: d.sdp.replace(/inline:([A-Za-z0-9+/]+)/, (_, k) => `inline:${"A".repeat(k.length)}`) };
      const t0 = Date.now();
      const call = await botCallsBaresip({ bs, bot }, { sessionDescriptionHandlerModifiers: [wrongKey] });
      const failed = new Promise((resolve) => call.addEventListener("mediafailed", (e) => resolve(e.reason)));
      const closedFrom = bs.events.length;
      assert.equal(await withTimeout(failed, 6000, "mediafailed"), "rtp-timeout");
      const after = Date.now() - t0;
      assert.ok(after >= 1400, `mediafailed came after rtpTimeout (${after} ms)`);
      const inbound = [...(await call.stats()).values()].find((s) => s.type === "inbound-rtp");
      assert.equal(inbound?.packetsReceived ?? 0, 0, "nothing decrypted");
      // The Call hangs up on media failure: baresip sees the BYE.
      await bs.waitEvent("CALL_CLOSED", 5000, closedFrom);
    }));

  test("policy: a bot that refuses unencrypted media answers baresip's RTP/AVP offer with 488", () =>
    withPeers({ baresip: { codecs: "PCMU/8000/1" }, pc: { allowUnencryptedMedia: false } }, async ({ bs, bot }) => {
      const from = bs.events.length;
      await bs.command("dial", bot.uri);
      const inv = await bot.nextInvite();
      await assert.rejects(answerCall(inv), (e) => e.code === "ERR_UNSUPPORTED_PROFILE");
      const closed = await bs.waitEvent("CALL_CLOSED", 5000, from);
      assert.match(closed.param ?? "", /488/);
    }));
});

describe("baresip and a bot registered to Kamailio over SIP/UDP, plain RTP", { timeout: 120_000 }, () => {
  test("the bot calls baresip and baresip calls the bot through Kamailio: tones both ways, BYE", async () => {
    const kam = await startKamailioSip();
    const proxy = `sip:127.0.0.1:${kam.port}`;
    const bs = await startBaresip({ name: "carol", toneHz: BARESIP_HZ, codecs: "PCMU/8000/1", registrar: { domain: DOMAIN, proxy } });
    const bot = new Party("bot", { transportConstructor: UdpTransport, transportOptions: { outboundProxy: proxy, bindAddress: "127.0.0.1" } }, { peerConnection: { mediaProfile: "rtp" } });
    try {
      // REGISTER may finish before ctrl_tcp is connected (its event is then missed): ask.
      const until = Date.now() + 10000;
      while (!/OK\s/.test((await bs.command("reginfo")).data ?? "") && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      assert.match((await bs.command("reginfo")).data ?? "", /OK\s/, "baresip registered with Kamailio");
      await bot.start(true);
      // Bot -> baresip, through the proxy.
      const from = bs.events.length;
      const out = await bot.dial("carol");
      await bs.waitEvent("CALL_INCOMING", 5000, from);
      await bs.command("accept");
      await onceState(out.session, SessionState.Established);
      out.play(tone(BOT_HZ));
      const heard = await heardTone(out, 600, 16000);
      assert.ok(near(heard, BARESIP_HZ), `the bot heard ${heard} Hz through Kamailio`);
      await new Promise((r) => setTimeout(r, 1000)); // a dump long enough to judge
      const closed = bs.events.length;
      await out.hangup();
      await bs.waitEvent("CALL_CLOSED", 5000, closed);
      // Baresip -> bot, through the proxy.
      await bs.command("dial", `sip:bot@${DOMAIN}`);
      const inv = await bot.nextInvite();
      const inc = await answerCall(inv);
      await onceState(inv, SessionState.Established);
      inc.play(tone(BOT_HZ));
      const heard2 = await heardTone(inc, 600, 16000);
      assert.ok(near(heard2, BARESIP_HZ), `the bot heard ${heard2} Hz on baresip's call`);
      await new Promise((r) => setTimeout(r, 1000)); // a dump long enough to judge
      await bs.command("hangup");
      await withTimeout(inc.ended, 5000, "baresip's BYE through Kamailio");
      await new Promise((r) => setTimeout(r, 200));
      const tones = baresipHeard(bs);
      assert.ok(tones.filter((f) => near(f, BOT_HZ)).length >= 2, `baresip heard the bot on both calls: ${tones.join(",")}`);
    } catch (e) {
      e.message += `\n--- baresip (tail) ---\n${bs.output().slice(-2500)}\n--- kamailio (tail) ---\n${kam.stderr().split("\n").slice(-15).join("\n")}`;
      throw e;
    } finally {
      await bot.stop();
      await bs.stop();
      await kam.stop();
    }
  });
});
