// The bot process of the SIPp load run (bench/sipp-load.mjs): a SIP.js UserAgent over
// sipwire's UdpTransport that answers every INVITE (plain RTP/AVP PCMU, the profile of
// SIPp's offer), loops a 400 Hz tone into the call and records what it hears to /dev/null,
// both in Rust. JS only does SIP. Protocol on stdio, one line each:
//   stdout `READY {port}` once listening;
//   stdin  `snap` -> stdout `SNAP {json}`: CPU of this process (user+sys, all threads),
//          calls live/answered/ended/failed and per-call RTP counters of the live calls;
//   stdin  `quit` -> stops the UA and exits.
//
//   node bench/sipp-bot.mjs --port 5070
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { REPO_DIR } from './stacks/common.mjs';

const { UserAgent } = await import('sip.js');
const { sessionDescriptionHandlerFactory, answerCall } = await import(join(REPO_DIR, 'dist', 'sip.js'));
const { UdpTransport } = await import(join(REPO_DIR, 'dist', 'transport', 'index.js'));
const { sineWave } = await import(join(REPO_DIR, 'dist', 'index.js'));

const port = Number(process.argv[process.argv.indexOf('--port') + 1]);
// 400 ms of 400 Hz: a whole number of periods, so the loop is phase-continuous.
const tone = { samples: sineWave(400, 8000, 400), sampleRate: 8000 };
const live = new Map(); // call number -> Call
let answered = 0;
let ended = 0;
let failed = 0;
let nextId = 0;
const firstError = [];

const ua = new UserAgent({
  uri: UserAgent.makeURI(`sip:bot@127.0.0.1:${port}`),
  transportConstructor: UdpTransport,
  transportOptions: { bindAddress: '127.0.0.1', port },
  sessionDescriptionHandlerFactory: sessionDescriptionHandlerFactory({
    peerConnectionConfiguration: { bindAddresses: ['127.0.0.1'], codecs: ['pcmu'], rtpTimeout: 0 },
  }),
  logLevel: 'error',
  logBuiltinEnabled: false,
  delegate: {
    onInvite: async (inv) => {
      const id = nextId++;
      try {
        const call = await answerCall(inv);
        answered++;
        live.set(id, call);
        void call.ended.then(() => {
          live.delete(id);
          ended++;
        });
        call.play(tone, { loop: true }).catch(() => {});
        call.record('/dev/null').catch(() => {});
      } catch (e) {
        failed++;
        if (firstError.length < 3) firstError.push(String(e?.message ?? e));
      }
    },
  },
});
await ua.start();
process.stdout.write(`READY ${port}\n`);

async function snap() {
  const cpu = process.cpuUsage();
  const t = performance.now();
  const calls = {};
  await Promise.all(
    [...live].map(async ([id, call]) => {
      try {
        const c = { sent: 0, recv: 0, lost: 0 };
        for (const s of (await call.stats()).values()) {
          if (s.type === 'outbound-rtp') c.sent += s.packetsSent;
          else if (s.type === 'inbound-rtp') (c.recv += s.packetsReceived), (c.lost += s.packetsLost);
        }
        calls[id] = c;
      } catch {
        /* ended meanwhile */
      }
    }),
  );
  // cpuUsEnd excludes this snapshot's own getStats work from a window that starts here.
  const end = process.cpuUsage();
  return { t, cpuUs: cpu.user + cpu.system, cpuUsEnd: end.user + end.system, tEnd: performance.now(), live: live.size, answered, ended, failed, firstError, calls, rssMB: process.memoryUsage().rss / 2 ** 20 };
}

for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'snap') process.stdout.write(`SNAP ${JSON.stringify(await snap())}\n`);
  else if (line === 'quit') break;
}
await ua.stop();
process.exit(0);
