// One benchmark run: one stack, N calls, D seconds of media, in this process.
// run.mjs starts a fresh child per (stack, N) so RSS, crashes and leaked
// threads of one run never leak into the next. Prints `RESULT {json}` on stdout.
//
//   node bench/child.mjs --stack sipwire-bot-pcmu --n 50 --d 5
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { delays, histWindowQuantile } from './stacks/common.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const stackName = args.stack;
const N = Number(args.n ?? 1);
const D = Number(args.d ?? 5);
// At most this many setups in flight: calls arrive in a burst, as when a
// dialler or a SIP trunk fills a box, but not all 400 handshakes at once.
const CONC = Number(args.concurrency ?? 50);
const SETUP_TIMEOUT = Number(args['setup-timeout'] ?? 15000);
const WARMUP_MS = 1000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (m) => process.stderr.write(`[child ${stackName} n=${N}] ${m}\n`);
const quantile = (xs, q) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};
const threads = () => Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
const fds = () => readdirSync('/proc/self/fd').length;
/** UDP drop counters of this network namespace: tells kernel drops from stack drops. */
function udpDrops() {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const [keys, vals] = lines.map((l) => l.trim().split(/\s+/).slice(1));
  const o = Object.fromEntries(keys.map((k, i) => [k, Number(vals[i])]));
  return { rcvbuf: o.RcvbufErrors ?? 0, sndbuf: o.SndbufErrors ?? 0 };
}

// Stack registry: name -> adapter factory. Loaded lazily so a broken peer
// install only fails the runs that need it.
const STACKS = {
  'sipwire-bot-pcmu': async () => (await import('./stacks/sipwire.mjs')).create('bot-pcmu'),
  'sipwire-bot-rtp': async () => (await import('./stacks/sipwire.mjs')).create('bot-rtp'),
  'sipwire-bot-opus': async () => (await import('./stacks/sipwire.mjs')).create('bot-opus'),
  'sipwire-bot-pcmu-plain': async () => (await import('./stacks/sipwire.mjs')).create('bot-pcmu-plain'),
  'sipwire-bot-pcmu-listen': async () => (await import('./stacks/sipwire.mjs')).create('bot-pcmu-listen'),
  'sipwire-bot-opus-plain': async () => (await import('./stacks/sipwire.mjs')).create('bot-opus-plain'),
  'sipwire-bot-opus-listen': async () => (await import('./stacks/sipwire.mjs')).create('bot-opus-listen'),
  'sipwire-idle-pcmu': async () => (await import('./stacks/sipwire.mjs')).create('idle-pcmu'),
  'sipwire-video-vp8': async () => (await import('./stacks/sipwire.mjs')).create('video-vp8'),
  'sipwire-2p-bot-pcmu': async () => (await import('./stacks/sipwire-2p.mjs')).create('bot-pcmu'),
  'sipwire-bridge-pcmu': async () => (await import('./stacks/sipwire-graph.mjs')).create('bridge-pcmu'),
  'sipwire-conf10-pcmu': async () => (await import('./stacks/sipwire-graph.mjs')).create('conf10-pcmu'),
  'sipwire-stream-pcmu': async () => (await import('./stacks/sipwire-graph.mjs')).create('stream-pcmu'),
  'sipwire-js-pcm': async () => (await import('./stacks/sipwire.mjs')).create('js-pcm'),
  'wrtc-pcmu': async () => (await import('./stacks/wrtc.mjs')).create('pcmu'),
  'wrtc-opus': async () => (await import('./stacks/wrtc.mjs')).create('opus'),
  werift: async () => (await import('./stacks/werift.mjs')).create(),
  'node-datachannel': async () => (await import('./stacks/node-datachannel.mjs')).create(),
};

async function main() {
  if (!STACKS[stackName]) throw new Error(`unknown stack ${stackName}; known: ${Object.keys(STACKS).join(', ')}`);
  const stack = await STACKS[stackName]();
  await stack.ready; // two-process variant: helper up before the baseline
  await sleep(200);
  const rssBase = process.memoryUsage().rss;
  const threadsBase = threads();
  const fdsBase = fds();

  // --- setup: create -> both ends connected, per call ---
  const calls = [];
  const setupMs = [];
  const errors = [];
  let next = 0;
  const tSetup0 = performance.now();
  async function worker() {
    while (next < N) {
      const i = next++;
      const t0 = performance.now();
      try {
        calls.push(await stack.openCall(i, SETUP_TIMEOUT));
        setupMs.push(performance.now() - t0);
      } catch (e) {
        errors.push(String(e?.message ?? e));
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONC, N) }, worker));
  const setupWallMs = performance.now() - tSetup0;
  log(`setup: ${calls.length}/${N} connected in ${setupWallMs.toFixed(0)} ms${errors.length ? `, first error: ${errors[0]}` : ''}`);

  // --- media window ---
  await sleep(WARMUP_MS); // let jitter buffers and timers settle
  const c0 = await stack.counters(calls);
  const udp0 = udpDrops();
  delays.enabled = true;
  await stack.windowStart?.();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  let rssPeakSampled = process.memoryUsage().rss;
  const rssTimer = setInterval(() => (rssPeakSampled = Math.max(rssPeakSampled, process.memoryUsage().rss)), 250);
  await sleep(D * 1000);
  clearInterval(rssTimer);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  // Two-process variant: the helper's CPU and RSS belong to these calls too.
  const other = (await stack.windowEnd?.()) ?? { cpuMs: 0, rssAdded: 0 };
  delays.enabled = false;
  const udp1 = udpDrops();
  const c1 = await stack.counters(calls);
  const threadsNow = threads();
  const fdsNow = fds();

  const delayQuantile = (q) =>
    stack.delay === 'histogram' ? histWindowQuantile(c0.delayHist, c1.delayHist, q) : stack.delay ? delays.quantile(q) : null;
  const n = calls.length;
  const sent = c1.sent - c0.sent;
  const recv = c1.recv - c0.recv;
  const expected = 2 * n * 50 * (wallMs / 1000); // 20 ms packets, both directions
  const cpuMs = (cpu.user + cpu.system) / 1000 + other.cpuMs;
  const peakRss = Math.max(rssPeakSampled, process.resourceUsage().maxRSS * 1024) + other.rssAdded;
  const result = {
    stack: stackName,
    n: N,
    connected: n,
    failed: errors.length,
    firstError: errors[0] ?? null,
    d: D,
    concurrency: CONC,
    setupMedianMs: quantile(setupMs, 0.5),
    setupP95Ms: quantile(setupMs, 0.95),
    setupMaxMs: quantile(setupMs, 1),
    setupWallMs,
    cpuMsPerCallSec: n ? cpuMs / (n * (wallMs / 1000)) : null,
    cpuCores: cpuMs / wallMs,
    elu: elu.utilization,
    rssBaseMB: rssBase / 2 ** 20,
    rssPeakMB: peakRss / 2 ** 20,
    rssPerCallMB: n ? (peakRss - rssBase) / 2 ** 20 / N : null,
    sent,
    recv,
    expected: Math.round(expected),
    // loss: from RTP sequence numbers where the stack reports packetsLost
    // (sipwire, wrtc: their counters are read asynchronously, so recv vs
    // sent would be skewed by a packet or two per call); else
    // what receivers missed of what senders actually sent;
    // sendRate: what senders sent of what the 20 ms clock asks for (a starved
    // JS timer or an overloaded sender shows here, not in loss).
    lost: c1.lost != null ? c1.lost - c0.lost : null,
    lossPct:
      c1.lost != null
        ? Math.max(0, (100 * (c1.lost - c0.lost)) / Math.max(1, recv + c1.lost - c0.lost))
        : sent > 0
          ? Math.max(0, 100 * (1 - recv / sent))
          : 100,
    lossVsSentPct: sent > 0 ? 100 * (1 - recv / sent) : null,
    udpRcvbufDrops: udp1.rcvbuf - udp0.rcvbuf,
    udpSndbufDrops: udp1.sndbuf - udp0.sndbuf,
    sendRatePct: expected > 0 ? (100 * sent) / expected : 0,
    // 'histogram': Rust-side abs-send-time counts (sipwire), differenced over
    // the window; otherwise JS saw each packet and timed it (passthrough).
    delayP50Ms: delayQuantile(0.5),
    delayP99Ms: delayQuantile(0.99),
    jitterP50Ms: c1.jitter?.length ? quantile(c1.jitter, 0.5) : null,
    jitterP99Ms: c1.jitter?.length ? quantile(c1.jitter, 0.99) : null,
    threadsPerCall: n ? (threadsNow - threadsBase) / n : null,
    fdsPerCall: n ? (fdsNow - fdsBase) / n : null,
    helperElu: other.elu ?? null,
    extra: stack.extra?.() ?? null,
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);

  // --- teardown (a hang here is reported by the parent as closeHang) ---
  const tc = performance.now();
  for (const c of calls) stack.closeCall(c);
  stack.stop();
  await sleep(100);
  process.stdout.write(`CLOSED ${JSON.stringify({ closeMs: performance.now() - tc })}\n`);
  process.exit(0);
}

main().catch((e) => {
  process.stdout.write(`ERROR ${JSON.stringify(String(e?.stack ?? e))}\n`);
  process.exit(2);
});
