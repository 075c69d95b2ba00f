// sipwire demo: two RTCPeerConnections in one process connect over 127.0.0.1
// (ICE, DTLS-SRTP), exchange tones, send DTMF, and print what each end heard.
// Run: npm run demo
import { RTCPeerConnection, detectTone, sineWave } from '../dist/index.js';

const codec = process.argv[2] ?? 'opus';
const opts = { bindAddresses: ['127.0.0.1'], codecs: [codec] };
const alice = new RTCPeerConnection(opts);
const bob = new RTCPeerConnection(opts);

const connected = (pc) =>
  new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no connection within 10 s')), 10000);
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'connected') (clearTimeout(t), resolve());
    });
  });

async function hear(pc, ms) {
  const chunks = [];
  let n = 0;
  for await (const f of pc.audio({ sampleRate: 16000, batchMs: 100 })) {
    chunks.push(f.samples);
    n += f.samples.length;
    if (n >= 16 * ms) break;
  }
  const all = new Int16Array(n);
  let o = 0;
  for (const c of chunks) (all.set(c, o), (o += c.length));
  return detectTone(all.subarray(all.length / 2), 16000);
}

const t0 = performance.now();
const up = Promise.all([connected(alice), connected(bob)]);
// SIP-style signaling: complete SDP, no trickle.
await alice.setLocalDescription(await alice.createOffer());
await alice.waitForGatheringComplete(2000);
await bob.setRemoteDescription(alice.localDescription);
await bob.setLocalDescription(await bob.createAnswer());
await bob.waitForGatheringComplete(2000);
await alice.setRemoteDescription(bob.localDescription);
await up;
console.log(`connected over 127.0.0.1 with ${codec} in ${(performance.now() - t0).toFixed(0)} ms (ICE + DTLS-SRTP)`);

alice.play({ samples: sineWave(1000, 16000, 2500), sampleRate: 16000 });
bob.play({ samples: sineWave(440, 16000, 2500), sampleRate: 16000 });
const [bobHeard, aliceHeard] = await Promise.all([hear(bob, 1000), hear(alice, 1000)]);
console.log(`alice sends 1000 Hz -> bob detects ${bobHeard?.toFixed(1)} Hz`);
console.log(`bob sends 440 Hz   -> alice detects ${aliceHeard?.toFixed(1)} Hz`);

const digits = [];
const gotAll = new Promise((resolve) =>
  bob.addEventListener('dtmf', (e) => {
    digits.push(e.digit);
    if (digits.length === 6) resolve();
  }),
);
await alice.sendDtmf('123#*A');
await Promise.race([gotAll, new Promise((r) => setTimeout(r, 5000))]);
console.log(`alice sends DTMF "123#*A" -> bob receives "${digits.join('')}"`);

const row = async (name, pc) => {
  const s = [...(await pc.getStats()).values()];
  const out = s.find((x) => x.type === 'outbound-rtp') ?? {};
  const inn = s.find((x) => x.type === 'inbound-rtp') ?? {};
  const c = s.find((x) => x.type === 'codec') ?? {};
  return { peer: name, codec: c.mimeType, sent: out.packetsSent, received: inn.packetsReceived, lost: inn.packetsLost, jitterMs: +(1000 * (inn.jitter ?? 0)).toFixed(1) };
};
console.table([await row('alice', alice), await row('bob', bob)]);

alice.close();
bob.close();
const ok = Math.abs(bobHeard - 1000) < 20 && Math.abs(aliceHeard - 440) < 9 && digits.join('') === '123#*A';
console.log(ok ? 'demo OK' : 'demo FAILED');
process.exitCode = ok ? 0 : 1;
