// Helpers shared by the stack adapters: peer-module resolution, a drift-free
// media clock, RTP packets carrying a send timestamp, and a delay histogram.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const BENCH_DIR = join(here, '..');
export const REPO_DIR = join(BENCH_DIR, '..');

/**
 * Where the peer stacks are installed. They are deliberately NOT dependencies
 * of sipwire (three heavy native/TS stacks for a benchmark), so they live in
 * their own node_modules: $SIPWIRE_BENCH_PEERS, else bench/peers/node_modules
 * (bench/setup.sh), else /tmp/bench-peers/node_modules.
 */
export function peersDir() {
  if (process.env.SIPWIRE_BENCH_PEERS) return process.env.SIPWIRE_BENCH_PEERS;
  const local = join(BENCH_DIR, 'peers', 'node_modules');
  return existsSync(local) ? local : '/tmp/bench-peers/node_modules';
}

/** Load a peer package from peersDir() with require (all three ship CJS builds). */
export function requirePeer(name) {
  const req = createRequire(join(peersDir(), '..', 'package.json'));
  try {
    return req(name);
  } catch (e) {
    throw new Error(`${name} not loadable from ${peersDir()} (run bench/setup.sh or set SIPWIRE_BENCH_PEERS): ${e.message}`);
  }
}

/** Milliseconds on a clock shared by all processes (for the two-process case too). */
export const wallMs = () => performance.timeOrigin + performance.now();

/**
 * Call `onTick()` every `periodMs` on average: a timer that re-arms against an
 * absolute schedule so Node's timer drift does not lower the packet rate. If
 * the loop stalls, it catches up by at most `maxBurst` ticks and drops the
 * rest, like a real-time sender would (those show up as missing packets).
 */
export function startClock(periodMs, onTick, maxBurst = 5) {
  const t0 = performance.now();
  let done = 0;
  let timer = null;
  let stopped = false;
  const step = () => {
    if (stopped) return;
    const due = Math.floor((performance.now() - t0) / periodMs) + 1 - done;
    const n = Math.min(due, maxBurst);
    for (let i = 0; i < n; i++) onTick();
    done += due; // ticks beyond maxBurst are skipped, not queued
    timer = setTimeout(step, Math.max(0, t0 + done * periodMs - performance.now()));
  };
  step();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** Delay histogram in 0.1 ms bins up to 2 s: O(1) memory whatever N and D. */
export class DelayHist {
  constructor() {
    this.bins = new Uint32Array(20001);
    this.count = 0;
    this.enabled = false;
  }
  add(ms) {
    if (!this.enabled) return;
    const b = Math.min(20000, Math.max(0, Math.round(ms * 10)));
    this.bins[b]++;
    this.count++;
  }
  quantile(q) {
    if (this.count === 0) return null;
    const want = Math.ceil(q * this.count);
    let acc = 0;
    for (let i = 0; i < this.bins.length; i++) {
      acc += this.bins[i];
      if (acc >= want) return i / 10;
    }
    return null;
  }
}
export const delays = new DelayHist();

/**
 * sipwire's `oneWayDelayHistogram` (lower bin edge in ms -> count): add
 * `from` into `into` (returned); `from` may be undefined.
 */
export function mergeHist(into, from) {
  for (const [k, c] of Object.entries(from ?? {})) into[k] = (into[k] ?? 0) + c;
  return into;
}

/** sipwire histogram bin width (ms) for a lower edge: as in src/delay.rs. */
const binWidthMs = (edge) => (edge < 5 ? 0.05 : edge < 50 ? 0.5 : edge < 500 ? 5 : 0);

/**
 * Quantile (ms) of the samples added between two cumulative sipwire
 * histograms, as the middle of the bin holding it; null with no samples.
 */
export function histWindowQuantile(before, after, q) {
  const bins = Object.entries(after ?? {})
    .map(([k, c]) => [Number(k), c - (before?.[k] ?? 0)])
    .filter(([, c]) => c > 0)
    .sort((x, y) => x[0] - y[0]);
  const total = bins.reduce((s, [, c]) => s + c, 0);
  if (!total) return null;
  const want = Math.max(1, Math.ceil(q * total));
  let acc = 0;
  for (const [edge, c] of bins) {
    acc += c;
    if (acc >= want) return edge + binWidthMs(edge) / 2;
  }
  return null;
}

/**
 * One direction of an RTP passthrough stream: PCMU (PT 0), 160-byte payload
 * per 20 ms whose first 8 bytes are the send time (for one-way delay).
 * A fresh Buffer per packet: the stacks may keep the buffer after send().
 */
export class RtpSender {
  constructor(ssrc, pt = 0) {
    this.ssrc = ssrc >>> 0;
    this.pt = pt;
    this.seq = (Math.random() * 65536) | 0;
    this.ts = (Math.random() * 2 ** 32) >>> 0;
    this.sent = 0;
  }
  next() {
    const b = Buffer.allocUnsafe(12 + 160);
    b[0] = 0x80;
    b[1] = this.pt;
    b.writeUInt16BE(this.seq, 2);
    b.writeUInt32BE(this.ts, 4);
    b.writeUInt32BE(this.ssrc, 8);
    b.writeDoubleLE(wallMs(), 12);
    b.fill(0xff, 20); // PCMU silence
    this.seq = (this.seq + 1) & 0xffff;
    this.ts = (this.ts + 160) >>> 0;
    this.sent++;
    return b;
  }
}

/** Count a received payload built by RtpSender and record its one-way delay. */
export function onRtpPayload(counter, payload) {
  counter.recv++;
  if (payload.length >= 8) delays.add(wallMs() - payload.readDoubleLE(0));
}

/** Count an incoming RTP packet (raw bytes incl. header) and record its delay. */
export function onRtpBytes(counter, buf) {
  if (buf.length < 20) return;
  const pt = buf[1] & 0x7f;
  if (buf[1] >= 192 && buf[1] <= 223) return; // RTCP (PT 192-223) on a muxed track
  if (pt !== 0) return;
  counter.recv++;
  const cc = buf[0] & 0x0f;
  const ext = buf[0] & 0x10;
  let off = 12 + 4 * cc;
  if (ext) off += 4 + 4 * buf.readUInt16BE(off + 2);
  if (buf.length >= off + 8) delays.add(wallMs() - buf.readDoubleLE(off));
}

/** Resolve when `pred()` holds, polling; reject after `ms`. */
export function until(pred, ms, what) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = () => {
      if (pred()) return resolve();
      if (Date.now() - t0 > ms) return reject(new Error(`timeout: ${what}`));
      setTimeout(poll, 5);
    };
    poll();
  });
}
