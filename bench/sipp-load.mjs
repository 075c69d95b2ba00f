#!/usr/bin/env node
// SIPp-driven load run: SIPp (sip-tester) places `calls` concurrent calls over SIP/UDP to a
// bot process (bench/sipp-bot.mjs) that answers each with plain RTP/AVP PCMU, loops a tone
// and records to /dev/null in Rust. SIPp streams an 8 kHz mu-law WAV into every call. Calls
// last `hold` s and arrive at calls/hold per second, so once ramped up the bot holds
// `calls` concurrent calls at that call rate. Over a `window` s of steady state we take the
// bot process's CPU (user+sys, all threads: SIP.js, napi, media and recording threads) and
// report it per call as a share of one core, the call rate held (calls answered per second
// in the window), failed calls, and the RTP rates of the calls live across the whole window
// (hence hold > window).
//
//   node bench/sipp-load.mjs [--calls 200] [--hold 20] [--window 10]
//
// Runs in a private network namespace holding only `lo` (re-exec under `unshare -n`), like
// bench/run.mjs, which also imports runSippLoad() for `npm run bench`.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BENCH_DIR } from './stacks/common.mjs';

const SIPP = '/usr/bin/sipp';
const SCENARIO = join(BENCH_DIR, 'sipp', 'uac-load.xml');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freeUdpPort() {
  const s = createSocket('udp4');
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** utime+stime of a process we started, in ms (CLK_TCK = 100 on Linux). */
function procCpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) * 10;
  } catch {
    return null;
  }
}

/**
 * Kernel drops on the UDP sockets of one process (the `drops` column of /proc/net/udp for
 * the socket inodes in its fd table). Namespace-wide counters would count SIPp's media
 * sockets too, which never read the bot's RTP.
 */
function udpSocketDrops(pid) {
  const inodes = new Set();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]);
      } catch {
        /* closed meanwhile */
      }
    }
  } catch {
    return null;
  }
  let drops = 0;
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let rows = [];
    try {
      rows = readFileSync(file, 'utf8').trim().split('\n').slice(1);
    } catch {
      continue;
    }
    for (const row of rows) {
      const c = row.trim().split(/\s+/);
      if (inodes.has(c[9])) drops += Number(c[c.length - 1]);
    }
  }
  return drops;
}

/** SIPp's last -trace_stat row as { column: value }. */
function lastStatRow(file) {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  const rows = text.trim().split('\n').filter(Boolean);
  if (rows.length < 2) return {};
  const head = rows[0].split(';');
  const last = rows[rows.length - 1].split(';');
  return Object.fromEntries(head.map((h, i) => [h, last[i]]));
}

/** "HH:MM:SS:uuuuuu" (SIPp's response-time format) or a plain number of ms -> ms. */
function sippMs(v) {
  if (v == null) return null;
  const p = String(v).split(':').map(Number);
  if (p.length === 4 && p.every(Number.isFinite)) return p[0] * 3.6e6 + p[1] * 6e4 + p[2] * 1e3 + p[3] / 1000;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/**
 * One load run. Every wait is bounded; SIPp and the bot are stopped by PID whatever happens.
 * @returns the figures, with `status` 'clean' or why not.
 */
export async function runSippLoad({ calls = 200, hold = 20, window = 10, log = console.log } = {}) {
  const rate = calls / hold;
  const rampS = hold + 3; // calls placed in the first `hold` s are all still up at hold + 3 s
  const total = Math.ceil(rate * (rampS + window + 2));
  const result = { stack: 'sipp-load', calls, holdS: hold, windowS: window, offeredRate: Number(rate.toFixed(2)), totalCalls: total };
  const dir = mkdtempSync(join(tmpdir(), 'sipwire-sipp-load-'));
  try {
    execFileSync('sox', ['-n', '-r', '8000', '-c', '1', '-e', 'u-law', join(dir, 'tone.wav'), 'synth', '5', 'sine', '700', 'vol', '0.5']);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    log(`[sipp-load] error: sox could not write the WAV SIPp streams: ${e.message}`);
    return { ...result, status: 'error', error: `sox: ${e.message}` };
  }
  const botPort = await freeUdpPort();
  const bot = spawn(process.execPath, [join(BENCH_DIR, 'sipp-bot.mjs'), '--port', String(botPort)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let botErr = '';
  bot.stderr.on('data', (d) => (botErr += d));
  const lines = createInterface({ input: bot.stdout });
  const waiters = [];
  lines.on('line', (l) => {
    const w = waiters.findIndex((x) => l.startsWith(`${x.tag} `));
    if (w >= 0) waiters.splice(w, 1)[0].resolve(l.slice(l.indexOf(' ') + 1));
  });
  const botExited = new Promise((r) => bot.once('exit', r));
  const expect = (tag, ms) =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`bot: no ${tag} in ${ms} ms\n${botErr.slice(-1500)}`)), ms);
      waiters.push({ tag, resolve: (v) => (clearTimeout(t), resolve(v)) });
      botExited.then(() => reject(new Error(`bot exited\n${botErr.slice(-1500)}`)));
    });
  const snap = async () => {
    const p = expect('SNAP', 20000);
    bot.stdin.write('snap\n');
    return JSON.parse(await p);
  };
  let sipp = null;
  let sippExited = null;
  try {
    await expect('READY', 20000);
    const statFile = join(dir, 'stat.csv');
    sipp = spawn(SIPP, [
      '-sf', SCENARIO, '-i', '127.0.0.1', '-p', String(await freeUdpPort()), '-mp', String(20000 + 2 * Math.floor(Math.random() * 5000)),
      '-m', String(total), '-l', String(calls), '-r', String(rate), '-rp', '1000', '-d', String(hold * 1000),
      '-nostdin', '-timeout', `${rampS + window + hold + 30}s`, '-timeout_error',
      '-trace_stat', '-stf', statFile, '-fd', '1', '-trace_err', '-error_file', join(dir, 'errors.log'),
      `127.0.0.1:${botPort}`,
    ], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let sippErr = '';
    sipp.stderr.on('data', (d) => (sippErr += d));
    sippExited = new Promise((resolve) => {
      sipp.once('error', (e) => resolve({ code: null, error: e }));
      sipp.once('exit', (code, signal) => resolve({ code, signal }));
    });
    log(`[sipp-load] ${calls} concurrent calls, ${rate.toFixed(1)} calls/s, ${hold} s each, ${total} calls; window ${window} s after ${rampS} s ramp`);
    const early = await Promise.race([sippExited, sleep(rampS * 1000).then(() => null)]);
    if (early) throw new Error(`SIPp exited during the ramp: ${JSON.stringify(early)}\n${sippErr.slice(-1500)}`);
    const drops0 = udpSocketDrops(bot.pid);
    const sippCpu0 = procCpuMs(sipp.pid);
    const a = await snap();
    const lives = [a.live];
    const tEnd = Date.now() + window * 1000;
    while (Date.now() < tEnd) {
      await sleep(Math.min(1000, Math.max(0, tEnd - Date.now())));
      if (Date.now() < tEnd) lives.push((await snap()).live); // a few getStats calls: counted in the CPU, like any app polling
    }
    const b = await snap();
    lives.push(b.live);
    const sippCpu1 = procCpuMs(sipp.pid);
    const drops1 = udpSocketDrops(bot.pid);
    const drops = drops0 != null && drops1 != null ? drops1 - drops0 : null;
    const dtS = (b.t - a.tEnd) / 1000;
    const avgLive = lives.reduce((x, y) => x + y, 0) / lives.length;
    const cpuCores = (b.cpuUs - a.cpuUsEnd) / 1e6 / dtS;
    // RTP over the window, per call live at both ends of it.
    const both = Object.keys(b.calls).filter((id) => a.calls[id]);
    const rates = both.map((id) => ({
      recv: (b.calls[id].recv - a.calls[id].recv) / dtS,
      sent: (b.calls[id].sent - a.calls[id].sent) / dtS,
      lost: b.calls[id].lost - a.calls[id].lost,
      got: b.calls[id].recv - a.calls[id].recv,
    }));
    const mean = (xs) => (xs.length ? xs.reduce((x, y) => x + y, 0) / xs.length : null);
    const lost = rates.reduce((x, r) => x + r.lost, 0);
    const got = rates.reduce((x, r) => x + r.got, 0);
    Object.assign(result, {
      avgLive: Number(avgLive.toFixed(1)),
      minLive: Math.min(...lives),
      cpuCores: Number(cpuCores.toFixed(3)),
      cpuPctPerCall: Number(((cpuCores * 100) / avgLive).toFixed(3)),
      sippCpuPctOfCore: sippCpu0 != null && sippCpu1 != null ? Number((((sippCpu1 - sippCpu0) / 1000 / dtS) * 100).toFixed(1)) : null,
      rssMB: Number(b.rssMB.toFixed(0)),
      sampledCalls: rates.length,
      recvPpsPerCall: mean(rates.map((r) => r.recv)),
      sentPpsPerCall: mean(rates.map((r) => r.sent)),
      minRecvPps: rates.length ? Math.min(...rates.map((r) => r.recv)) : null,
      lossPct: got + lost > 0 ? (100 * lost) / (got + lost) : null,
      botUdpDrops: drops,
      // Calls the bot answered per second during the window: the SIP call rate it held.
      heldRate: Number(((b.answered - a.answered) / dtS).toFixed(2)),
    });
    const done = await Promise.race([sippExited, sleep((hold + 30) * 1000).then(() => null)]);
    if (!done) throw new Error(`SIPp did not finish within ${hold + 30} s after the window`);
    const end = await snap();
    const st = lastStatRow(statFile);
    let errors = '';
    try {
      errors = readFileSync(join(dir, 'errors.log'), 'utf8');
    } catch {
      /* none */
    }
    Object.assign(result, {
      sippExit: done.code,
      successfulCalls: Number(st['SuccessfulCall(C)'] ?? NaN),
      failedCalls: Number(st['FailedCall(C)'] ?? NaN),
      setupMeanMs: sippMs(st['ResponseTime1(C)']),
      botAnswered: end.answered,
      botFailed: end.failed,
      botFirstError: end.firstError[0],
    });
    if (done.code !== 0) result.sippError = (sippErr + errors).slice(-800);
    result.status =
      done.code !== 0 || result.failedCalls > 0 || end.failed > 0
        ? 'calls-failed'
        : result.minLive < calls * 0.95
          ? 'not-held'
          : result.minRecvPps == null || result.minRecvPps < 49 || result.sentPpsPerCall < 49
            ? 'media-short'
            : 'clean';
  } catch (e) {
    result.status = 'error';
    result.error = String(e?.message ?? e);
  } finally {
    if (sipp && sipp.exitCode === null && sipp.signalCode === null) {
      sipp.kill('SIGKILL'); // only the SIPp we started, by PID
      await sippExited;
    }
    if (bot.exitCode === null) {
      bot.stdin.write('quit\n');
      const gone = await Promise.race([botExited.then(() => true), sleep(10000).then(() => false)]);
      if (!gone) {
        bot.kill('SIGKILL');
        await botExited;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
  const f = (x, d = 2) => (x == null || Number.isNaN(x) ? 'n/a' : Number(x).toFixed(d));
  log(
    `[sipp-load] ${result.status}: ${f(result.avgLive, 0)} live calls (min ${result.minLive}), bot CPU ${f(result.cpuCores, 3)} cores = ` +
      `${f(result.cpuPctPerCall, 3)}% of a core per call, SIPp ${f(result.sippCpuPctOfCore, 1)}% of a core; ` +
      `held ${f(result.heldRate)} calls/s (offered ${f(result.offeredRate)}), ${result.successfulCalls} ok / ${result.failedCalls} failed, ` +
      `setup mean ${f(result.setupMeanMs, 1)} ms; RTP per call ${f(result.recvPpsPerCall, 1)} in / ${f(result.sentPpsPerCall, 1)} out pps ` +
      `(min in ${f(result.minRecvPps, 1)}, loss ${f(result.lossPct, 3)}%, bot UDP drops ${result.botUdpDrops ?? 'n/a'})` +
      (result.error ? `\n  error: ${result.error}` : '') +
      (result.sippError ? `\n  sipp: ${result.sippError}` : ''),
  );
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] !== undefined ? Number(argv[i + 1]) : dflt;
  };
  if (!process.env.SIPWIRE_BENCH_NETNS && !argv.includes('--no-netns')) {
    const inner = `ip link set lo up && exec ${JSON.stringify(process.execPath)} ${process.argv.slice(1).map((a) => JSON.stringify(a)).join(' ')}`;
    for (const flags of [['-n'], ['-rn']]) {
      if (spawnSync('unshare', [...flags, 'true']).status !== 0) continue;
      const r = spawnSync('unshare', [...flags, 'bash', '-c', inner], { stdio: 'inherit', env: { ...process.env, SIPWIRE_BENCH_NETNS: '1' } });
      process.exit(r.status ?? 1);
    }
    console.error('cannot create a network namespace (unshare -n / -rn); rerun with --no-netns');
    process.exit(1);
  }
  const r = await runSippLoad({ calls: opt('calls', 200), hold: opt('hold', 20), window: opt('window', 10) });
  console.log(JSON.stringify(r));
  process.exit(r.status === 'clean' ? 0 : 1);
}
