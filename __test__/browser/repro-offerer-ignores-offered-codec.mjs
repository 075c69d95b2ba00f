// Minimal reproduction (no browser, no SIP) of what Chromium 156 does to a sipwire
// offerer: the answer lists only PCMU (the browser used setCodecPreferences), yet
// the browser sends Opus with PT 111, a payload type the offer listed. JSEP lets an
// endpoint send any codec the remote description offered; RFC 3264 §5.1 has the
// offerer ready to receive every format it offered. Here B is a sipwire peer that
// answers Opus, and A is handed that answer with the m-line rewritten to PCMU only.
// Run: unshare -n bash -c 'ip link set lo up && node __test__/browser/repro-offerer-ignores-offered-codec.mjs'
import { RTCPeerConnection, sineWave } from '../../dist/index.js';

const L = { bindAddresses: ['127.0.0.1'] };
const a = new RTCPeerConnection(L); // the bot, offerer
const b = new RTCPeerConnection(L); // stands in for Chromium
await a.setLocalDescription(await a.createOffer());
await a.waitForGatheringComplete(2000);
await b.setRemoteDescription(a.localDescription);
await b.setLocalDescription(await b.createAnswer());
await b.waitForGatheringComplete(2000);
// What Chromium's answer looks like: m=audio <port> UDP/TLS/RTP/SAVPF 0 101, no opus rtpmap.
const pcmuOnly = b.localDescription.sdp
  .split('\r\n')
  .filter((l) => !/^a=(rtpmap|fmtp|rtcp-fb):/.test(l))
  .map((l) => (l.startsWith('m=audio') ? l.split(' ').slice(0, 3).concat(['0', '101']).join(' ') : l))
  .join('\r\n')
  .replace(/^(a=mid:.*)$/m, '$1\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15');
console.log(`B answers: ${/^m=audio.*$/m.exec(b.localDescription.sdp)[0]}; A is given: ${/^m=audio.*$/m.exec(pcmuOnly)[0]}`);
await a.setRemoteDescription({ type: 'answer', sdp: pcmuOnly });
const up = (pc) => new Promise((r) => (pc.connectionState === 'connected' ? r() : pc.addEventListener('connectionstatechange', () => pc.connectionState === 'connected' && r())));
await Promise.race([Promise.all([up(a), up(b)]), new Promise((_, j) => setTimeout(() => j(new Error('no connection')), 5000))]);
b.play({ samples: sineWave(700, 16000, 3000), sampleRate: 16000 });
await new Promise((r) => setTimeout(r, 1500));
const codecOf = async (pc, type) => {
  const s = [...(await pc.getStats()).values()];
  const r = s.find((x) => x.type === type);
  return { ...r, codec: s.find((x) => x.id === r?.codecId)?.mimeType };
};
const inA = await codecOf(a, 'inbound-rtp');
const outB = await codecOf(b, 'outbound-rtp');
console.log(`B sends ${outB.codec} (${outB.packetsSent} packets); A received ${inA.packetsReceived} packets, framesDecoded ${inA.framesDecoded}, audioLevel ${inA.audioLevel}`);
console.log(inA.framesDecoded > 0 ? 'OK: A decodes the offered codec' : 'BUG: A drops every packet of a codec it offered');
a.close();
b.close();
process.exit(inA.framesDecoded > 0 ? 0 : 1);
