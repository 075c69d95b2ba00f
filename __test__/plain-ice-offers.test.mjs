// Offers with ICE but no DTLS, between two sipwire connections on 127.0.0.1: the offerer is
// a sipwire plain (SDES or RTP/AVP) offer with ICE lines added, as an ICE-lite peer (an SBC or
// rtpengine in ice-lite mode) writes it. The answerer answers as ICE-lite (a=ice-lite, its
// credentials, host candidates); with both sides lite nobody checks (RFC 8445 §6.1.1) and
// media flows to the default addresses. A re-offer with a new ufrag (ICE restart) gets new
// credentials, the same ufrag keeps them, and a re-offer without ICE is answered without it;
// media flows throughout. baresip's full ICE agent against the bot is baresip-ice.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RTCPeerConnection, sineWave, detectTone } from '../dist/index.js';

const cfg = { bindAddresses: ['127.0.0.1'], codecs: ['pcmu'], rtpTimeout: 0 };

const withIce = (sdp, ufrag, lite) => {
  const port = /m=audio (\d+)/.exec(sdp)[1];
  const session = lite ? 'a=ice-lite\r\n' : '';
  return sdp
    .replace(/(t=0 0\r\n)/, `$1${session}`)
    .replace(
      /(m=audio[^\r]*\r\n)/,
      `$1a=ice-ufrag:${ufrag}\r\na=ice-pwd:${ufrag}-0123456789abcdefghij\r\na=candidate:1 1 UDP 2130706431 127.0.0.1 ${port} typ host\r\n`,
    );
};
const attr = (sdp, name) => new RegExp(`^a=${name}:(\\S+)\\r$`, 'm').exec(sdp ?? '')?.[1];

async function packets(pc) {
  const s = [...(await pc.getStats()).values()].find((x) => x.type === 'inbound-rtp');
  return s?.packetsReceived ?? 0;
}
async function grows(pc, what) {
  const before = await packets(pc);
  const end = Date.now() + 3000;
  while (Date.now() < end) {
    if ((await packets(pc)) >= before + 10) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`no media at ${what} (${before} -> ${await packets(pc)})`);
}

async function negotiate(a, b, ufrag, lite = true) {
  await a.setLocalDescription(await a.createOffer());
  const offer = ufrag ? withIce(a.localDescription.sdp, ufrag, lite) : a.localDescription.sdp;
  await b.setRemoteDescription({ type: 'offer', sdp: offer });
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);
  return b.localDescription.sdp;
}

for (const profile of ['sdes', 'rtp']) {
  test(`${profile === 'sdes' ? 'RTP/SAVP (SDES)' : 'RTP/AVP'} offer with ICE from an ICE-lite peer: answered as ICE-lite; restart, same ufrag and ICE dropped on re-offers; media throughout`, async () => {
    const a = new RTCPeerConnection({ ...cfg, mediaProfile: profile });
    const b = new RTCPeerConnection(cfg);
    try {
      const answer = await negotiate(a, b, 'lite1');
      assert.match(answer, /^a=ice-lite\r$/m);
      assert.match(answer, /^a=candidate:1 1 UDP 2130706431 127\.0\.0\.1 \d+ typ host\r$/m);
      // a=rtcp-mux was offered: one component only.
      assert.doesNotMatch(answer, /^a=candidate:1 2 /m);
      assert.match(answer, profile === 'sdes' ? /RTP\/SAVP[\s\S]*a=crypto:/ : /RTP\/AVP /);
      const first = attr(answer, 'ice-ufrag');
      assert.ok(first && attr(answer, 'ice-pwd').length >= 22, answer);
      a.play({ samples: sineWave(900, 8000, 20000), sampleRate: 8000 }).catch(() => {});
      b.play({ samples: sineWave(600, 8000, 20000), sampleRate: 8000 }).catch(() => {});
      await grows(a, 'the offerer');
      await grows(b, 'the answerer');

      const same = await negotiate(a, b, 'lite1');
      assert.equal(attr(same, 'ice-ufrag'), first, 'same remote ufrag: same credentials');
      const restarted = await negotiate(a, b, 'lite2');
      const second = attr(restarted, 'ice-ufrag');
      assert.ok(second && second !== first, `ICE restart: new credentials (${first} -> ${second})`);
      await grows(b, 'the answerer after the restart');
      const plain = await negotiate(a, b, null);
      assert.doesNotMatch(plain, /a=ice-|a=candidate/, 'a re-offer without ICE is answered without it');
      await grows(b, 'the answerer without ICE');
      await grows(a, 'the offerer without ICE');
      const got = [];
      for await (const f of b.audio({ sampleRate: 8000, batchMs: 100 })) {
        got.push(...f.samples);
        if (got.length >= 4800) break;
      }
      const hz = detectTone(Int16Array.from(got.slice(2400)), 8000);
      assert.ok(Math.abs(hz - 900) < 20, `the answerer hears the offerer: ${hz} Hz`);
    } finally {
      a.close();
      b.close();
    }
  });
}
