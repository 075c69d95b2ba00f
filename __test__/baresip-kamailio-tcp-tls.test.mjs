// baresip and a sipwire bot both registered to a real Kamailio over SIP/TCP and over SIP/TLS
// (Kamailio's certificate made by `openssl` in the test; the bot verifies it with `ca`,
// baresip with `sip_cafile`). Kamailio routes each call between them: the bot calls baresip,
// then baresip calls the bot. Over TCP the media is plain RTP/AVP; over TLS it is SDES-SRTP
// (keys in SDP are only as private as the signalling, which is why SDES goes with TLS).
// Tones both ways, BYE from each side. The UDP variant is in baresip.test.mjs.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SessionState } from "sip.js";
import { sineWave, detectTone } from "../dist/index.js";
import { answerCall } from "../dist/sip.js";
import { TcpTransport, TlsTransport } from "../dist/transport/index.js";
import { startBaresip, readPcmWav } from "./support/baresip.mjs";
import { startKamailioSip } from "./support/kamailio-sip.mjs";
import { heardTone, near, onceState, withTimeout, Party, DOMAIN } from "./support/sip.mjs";

const BARESIP_HZ = 700;
const BOT_HZ = 1200;
const tone = (freq, ms = 30000) => ({ samples: sineWave(freq, 16000, ms), sampleRate: 16000 });

describe("baresip and a bot registered to Kamailio over TCP and TLS", { timeout: 120_000 }, () => {
  let kam;
  let dir;
  before(async () => {
    kam = await startKamailioSip({ tls: true });
    dir = mkdtempSync(join(tmpdir(), "sipwire-ca-"));
    writeFileSync(join(dir, "ca.pem"), kam.ca);
  });
  after(async () => {
    await kam?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const t of ["tcp", "tls"]) {
    const sdes = t === "tls";
    test(`${t.toUpperCase()}: both register, the bot calls baresip and baresip calls the bot through Kamailio (${sdes ? "SDES-SRTP" : "RTP/AVP"}); tones both ways, BYE from each side`, async () => {
      const proxy = t === "tls" ? `sip:127.0.0.1:${kam.tlsPort};transport=tls` : `sip:127.0.0.1:${kam.port};transport=tcp`;
      const bs = await startBaresip({
        name: "carol",
        toneHz: BARESIP_HZ,
        codecs: "PCMU/8000/1",
        mediaenc: sdes ? "srtp-mand" : undefined,
        registrar: { domain: DOMAIN, proxy },
        config: t === "tls" ? [`sip_cafile ${join(dir, "ca.pem")}`] : [],
      });
      const bot = new Party(
        "bot",
        {
          transportConstructor: t === "tls" ? TlsTransport : TcpTransport,
          transportOptions: { outboundProxy: proxy, bindAddress: "127.0.0.1", ...(t === "tls" ? { ca: kam.ca } : {}) },
        },
        { peerConnection: { mediaProfile: sdes ? "sdes" : "rtp", codecs: ["pcmu"] } },
      );
      try {
        const until = Date.now() + 10000;
        let reg = "";
        while (Date.now() < until && !/OK\s/.test(reg)) {
          reg = (await bs.command("reginfo")).data ?? "";
          if (!/OK\s/.test(reg)) await new Promise((r) => setTimeout(r, 100));
        }
        assert.match(reg, new RegExp(`OK\\s`), `baresip registered over ${t}`);
        assert.match(bs.output(), new RegExp(`\\{0/${t.toUpperCase()}/v4\\} 200 OK`), `baresip's REGISTER went over ${t}`);
        await bot.start(true);

        // Bot -> baresip.
        const from = bs.events.length;
        const out = await bot.dial("carol");
        await bs.waitEvent("CALL_INCOMING", 5000, from);
        await bs.command("accept");
        await onceState(out.session, SessionState.Established);
        assert.match(out.peerConnection?.remoteDescription?.sdp ?? "", sdes ? /RTP\/SAVP[\s\S]*a=crypto:/ : /RTP\/AVP /);
        out.play(tone(BOT_HZ));
        const heard = await heardTone(out, 600, 16000);
        assert.ok(near(heard, BARESIP_HZ), `the bot heard ${heard} Hz on its call`);
        await new Promise((r) => setTimeout(r, 1000)); // a dump long enough to judge
        const closed = bs.events.length;
        await out.hangup();
        await bs.waitEvent("CALL_CLOSED", 5000, closed);

        // Baresip -> bot.
        await bs.command("dial", `sip:bot@${DOMAIN}`);
        const inv = await bot.nextInvite();
        assert.match(inv.request.getHeader("via") ?? "", new RegExp(`SIP/2\\.0/${t.toUpperCase()} `, "i"), "the INVITE reached the bot over the same transport");
        const inc = await answerCall(inv);
        await onceState(inv, SessionState.Established);
        if (sdes) assert.ok([...(await inc.stats()).values()].find((s) => s.type === "transport")?.srtpCipher, "SRTP on baresip's call");
        inc.play(tone(BOT_HZ));
        const heard2 = await heardTone(inc, 600, 16000);
        assert.ok(near(heard2, BARESIP_HZ), `the bot heard ${heard2} Hz on baresip's call`);
        await new Promise((r) => setTimeout(r, 1000));
        await bs.command("hangup");
        await withTimeout(inc.ended, 5000, "baresip's BYE through Kamailio");
        await new Promise((r) => setTimeout(r, 200)); // sndfile closes its dump at stream end
        const tones = bs.decodedDumps().map((f) => {
          const { samples, rate } = readPcmWav(f);
          return detectTone(samples.subarray(Math.min(rate >> 1, samples.length >> 2)), rate);
        });
        assert.ok(tones.filter((f) => near(f, BOT_HZ)).length >= 2, `baresip heard the bot on both calls: ${tones.join(",")}`);
      } catch (e) {
        e.message += `\n--- baresip (tail) ---\n${bs.output().slice(-2500)}\n--- kamailio (tail) ---\n${kam.stderr().split("\n").slice(-15).join("\n")}`;
        throw e;
      } finally {
        await bot.stop();
        await bs.stop();
      }
    });
  }
});
