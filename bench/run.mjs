#!/usr/bin/env node
// Benchmark driver: for each stack and each N, run bench/child.mjs in a fresh
// process with a hard timeout, print a progress line, stop a stack at its
// first unclean N (>0.5% loss, failed setup, hang or crash), then print the
// table and write results/{results.json,report.md,chart.svg}.
//
//   node bench/run.mjs [--quick] [--stacks a,b] [--n 1,10,50] [--d 6] [--budget 600]
//                      [--sipp-calls 200] [--sipp-hold 20] [--sipp-window 10]
//
// Everything runs in a private network namespace holding only `lo` (re-exec
// under `unshare -n`, or `unshare -rn` when not root), so the stacks can only
// talk over 127.0.0.1 and nothing on the host network is touched.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { BENCH_DIR, peersDir } from './stacks/common.mjs';
import { renderTable, renderSippLoad, writeReport } from './report.mjs';
import { runSippLoad } from './sipp-load.mjs';

const ALL_STACKS = [
  // Order = priority when the time budget runs out: the target comparisons first.
  'sipwire-bot-pcmu',
  'sipwire-bot-rtp',
  // Not an N sweep: SIPp places --sipp-calls concurrent calls over SIP/UDP to a bot process
  // (bench/sipp-load.mjs): CPU per call and the call rate held.
  'sipp-load',
  'node-datachannel',
  'wrtc-pcmu',
  'sipwire-bot-opus',
  'wrtc-opus',
  'sipwire-js-pcm',
  'werift',
  'sipwire-idle-pcmu',
  'sipwire-2p-bot-pcmu',
  // Media between calls: one unit = a bridged pair (2 calls) / a 10-party conference (10 calls) / a streamed call.
  'sipwire-bridge-pcmu',
  'sipwire-conf10-pcmu',
  'sipwire-stream-pcmu',
  // Video without transcoding: bot-pcmu plus a 1 Mbit/s VP8 clip sent by one end and recorded by the other.
  'sipwire-video-vp8',
];
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : dflt;
};
const quick = argv.includes('--quick');
const stacks = opt('stacks', ALL_STACKS.join(',')).split(',').filter(Boolean);
const ns = opt('n', quick ? '1,10,50' : '1,10,50,100,200,400,500,700,1000').split(',').map(Number);
const D = Number(opt('d', quick ? 5 : 6));
const budgetS = Number(opt('budget', quick ? 300 : 600));
const conc = Number(opt('concurrency', 50));
const outDir = opt('out', join(BENCH_DIR, 'results'));

// ---- network namespace ----
if (!process.env.SIPWIRE_BENCH_NETNS && !argv.includes('--no-netns')) {
  const inner = `ip link set lo up && exec ${JSON.stringify(process.execPath)} ${process.argv.slice(1).map((a) => JSON.stringify(a)).join(' ')}`;
  for (const flags of [['-n'], ['-rn']]) {
    if (spawnSync('unshare', [...flags, 'true']).status !== 0) continue;
    const r = spawnSync('unshare', [...flags, 'bash', '-c', inner], { stdio: 'inherit', env: { ...process.env, SIPWIRE_BENCH_NETNS: '1' } });
    process.exit(r.status ?? 1);
  }
  console.error('cannot create a network namespace (unshare -n / -rn); rerun with --no-netns to use the host loopback');
  process.exit(1);
}
const ifaces = Object.keys(networkInterfaces());
if (!argv.includes('--no-netns') && ifaces.some((n) => n !== 'lo')) {
  console.error(`expected only lo in the bench namespace, found ${ifaces.join(',')}`);
  process.exit(1);
}

// ---- one run ----
function runChild(stack, n) {
  // Hard limit: setup (bounded per call by the child's setup timeout, and by
  // N/concurrency rounds) + warm-up + D + teardown, with margin.
  const limitMs = 25000 + D * 1000 + n * 30;
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [join(BENCH_DIR, 'child.mjs'), '--stack', stack, '--n', String(n), '--d', String(D), '--concurrency', String(conc)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let timedOut = false;
    let closeTimer = null;
    child.stdout.on('data', (d) => {
      out += d;
      // After RESULT, teardown gets 10 s; a stack that cannot close is a hang too.
      if (!closeTimer && out.includes('RESULT ')) closeTimer = setTimeout(() => kill('close'), 10000);
    });
    child.stderr.on('data', (d) => (err += d));
    const kill = (phase) => {
      timedOut = phase;
      try {
        process.kill(child.pid, 'SIGKILL'); // only this child, by PID
      } catch {}
    };
    const hard = setTimeout(() => kill('run'), limitMs);
    child.on('exit', (code, signal) => {
      clearTimeout(hard);
      clearTimeout(closeTimer);
      const line = (tag) => out.split('\n').find((l) => l.startsWith(`${tag} `))?.slice(tag.length + 1);
      const res = line('RESULT') ? JSON.parse(line('RESULT')) : { stack, n };
      res.runMs = Date.now() - t0;
      res.exit = signal ?? code;
      if (line('CLOSED')) res.closeMs = JSON.parse(line('CLOSED')).closeMs;
      if (line('ERROR')) res.error = JSON.parse(line('ERROR'));
      if (timedOut === 'run') res.status = 'hang';
      else if (timedOut === 'close') res.status = 'close-hang';
      else if (!line('RESULT')) res.status = code === 2 ? 'error' : 'crash';
      else if (code !== 0) res.status = 'crash-at-close';
      else if (res.connected < n) res.status = 'setup-failed';
      else if (res.lossPct > 0.5) res.status = 'lossy';
      else if (res.sendRatePct < 98) res.status = 'send-starved';
      else res.status = 'clean';
      if (res.status !== 'clean' && !res.error) res.stderrTail = err.split('\n').slice(-6).join('\n');
      resolve(res);
    });
  });
}

// ---- sweep ----
const f = (x, d = 1) => (x == null ? 'n/a' : Number(x).toFixed(d));
console.log(`sipwire bench: stacks=${stacks.join(',')} N=${ns.join(',')} D=${D}s concurrency=${conc} peers=${peersDir()} netns=${process.env.SIPWIRE_BENCH_NETNS ? 'private(lo)' : 'host'}`);
const started = Date.now();
const results = [];
for (const stack of stacks) {
  if (stack === 'sipp-load') {
    if ((Date.now() - started) / 1000 > budgetS) {
      results.push({ stack, status: 'skipped-budget' });
      console.log(`[${stack}] skipped: time budget of ${budgetS}s used`);
    } else {
      const calls = Number(opt('sipp-calls', quick ? 50 : 200));
      results.push(await runSippLoad({ calls, hold: Number(opt('sipp-hold', 20)), window: Number(opt('sipp-window', 10)) }));
    }
    continue;
  }
  for (const n of ns) {
    if ((Date.now() - started) / 1000 > budgetS) {
      results.push({ stack, n, status: 'skipped-budget' });
      console.log(`[${stack} N=${n}] skipped: time budget of ${budgetS}s used`);
      break;
    }
    const r = await runChild(stack, n);
    results.push(r);
    console.log(
      `[${stack} N=${n}] ${r.status}: setup ${f(r.setupMedianMs, 0)}/${f(r.setupP95Ms, 0)} ms, cpu ${f(r.cpuMsPerCallSec, 2)} ms/call-s, ` +
        `elu ${f(r.elu, 2)}, rss ${f(r.rssPerCallMB, 2)} MB/call, loss ${f(r.lossPct, 2)}% (udp drops ${r.udpRcvbufDrops ?? 'n/a'}), send ${f(r.sendRatePct, 1)}% (${((r.runMs ?? 0) / 1000).toFixed(1)} s)` +
        (r.error ? `\n  error: ${r.error.split('\n')[0]}` : '') +
        (r.firstError ? `\n  first setup error: ${r.firstError}` : '') +
        (r.stderrTail ? `\n  stderr: ${r.stderrTail.replace(/\n/g, '\n  ')}` : ''),
    );
    if (r.status !== 'clean') break; // the stack stops holding here
  }
}

mkdirSync(outDir, { recursive: true });
const meta = {
  date: new Date().toISOString(),
  command: `node bench/run.mjs ${argv.join(' ')}`.trim(),
  D,
  concurrency: conc,
  node: process.version,
  cores: (await import('node:os')).cpus().length,
  totalS: Math.round((Date.now() - started) / 1000),
};
writeFileSync(join(outDir, 'results.json'), JSON.stringify({ meta, results }, null, 2));
console.log('\n' + renderTable(results));
if (results.some((r) => r.stack === 'sipp-load')) console.log('\n' + renderSippLoad(results));
writeReport({ meta, results }, outDir);
console.log(`\nwrote ${join(outDir, 'report.md')}, chart.svg, results.json (${meta.totalS} s)`);
