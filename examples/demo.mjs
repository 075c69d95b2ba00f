// sipwire demo: an IVR bot and a caller, two SIP.js UserAgents in one process
// joined by the in-memory SIP link (no server), with real media between two
// native RTCPeerConnections over 127.0.0.1 (ICE, DTLS-SRTP, Opus, RFC 4733).
// Run: npm run demo
import { UserAgent } from 'sip.js';
import { InMemorySipLink, sessionDescriptionHandlerFactory } from '../dist/sip.js';
import { startIvrBot, PROMPT_HZ } from './ivr-bot/index.mjs';
import { placeCalls, CALLER_HZ } from './caller/index.mjs';

const CALLS = Number(process.argv[2] ?? 2);
const link = new InMemorySipLink();
const sdh = sessionDescriptionHandlerFactory({ peerConnectionConfiguration: { bindAddresses: ['127.0.0.1'] }, iceGatheringTimeout: 1000 });
const ua = (user) =>
  new UserAgent({
    uri: UserAgent.makeURI(`sip:${user}@demo.invalid`),
    transportConstructor: link.transportFor(user),
    sessionDescriptionHandlerFactory: sdh,
    logBuiltinEnabled: false,
  });

const ivr = ua('ivr');
const caller = ua('caller');
const results = [];
startIvrBot(ivr, { onResult: (r) => results.push(r), log: console.log });
await ivr.start();
await caller.start();

const t0 = performance.now();
const calls = await placeCalls(caller, 'sip:ivr@demo.invalid', CALLS);
console.log(`${CALLS} calls over SIP.js + sipwire in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

let ok = true;
for (const c of calls) {
  const r = results.find((x) => x.id === c.i) ?? results[c.i - 1];
  const digits = r?.digits.map((d) => `${d.digit}(${d.method})`).join(' ') ?? '';
  console.log(`call ${c.i}: caller heard the prompt at ${c.promptHz?.toFixed(1)} Hz (sent ${PROMPT_HZ})`);
  console.log(`        IVR heard the caller at ${r?.heardHz?.toFixed(1)} Hz (sent ${CALLER_HZ}), recorded ${r?.recordedMs} ms`);
  console.log(`        IVR got digits: ${digits}`);
  ok &&= Math.abs(c.promptHz - PROMPT_HZ) < 9 && Math.abs(r?.heardHz - CALLER_HZ) < 20 && r?.digits.map((d) => d.digit).join('') === '1234#';
}
const rows = calls.map((c) => {
  const s = [...c.stats.values()];
  const inb = s.find((x) => x.type === 'inbound-rtp') ?? {};
  const out = s.find((x) => x.type === 'outbound-rtp') ?? {};
  const codec = s.find((x) => x.type === 'codec') ?? {};
  return { call: c.i, codec: codec.mimeType, sent: out.packetsSent, received: inb.packetsReceived, lost: inb.packetsLost, jitterMs: +((inb.jitter ?? 0) * 1000).toFixed(1) };
});
console.log('\ncaller-side stats (getStats, W3C names):');
console.table(rows);
await caller.stop();
await ivr.stop();
console.log(ok ? 'demo OK' : 'demo FAILED');
process.exitCode = ok ? 0 : 1;
