// Table, target ratios (issue 5) and a dependency-free SVG chart from the
// per-run results. `node bench/report.mjs [results.json]` regenerates the
// report and chart from a saved sweep without rerunning it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const f = (x, d = 1) => (x == null || Number.isNaN(x) ? 'n/a' : Number(x).toFixed(d));
const COLORS = {
  'sipwire-bot-pcmu': '#d62728',
  'sipwire-bot-opus': '#ff7f0e',
  'sipwire-js-pcm': '#e377c2',
  'sipwire-idle-pcmu': '#8c564b',
  'sipwire-2p-bot-pcmu': '#7f7f7f',
  'node-datachannel': '#1f77b4',
  'wrtc-pcmu': '#2ca02c',
  'wrtc-opus': '#98df8a',
  werift: '#9467bd',
};

export function renderTable(results) {
  const head = ['stack', 'N', 'status', 'setup p50/p95 ms', 'CPU ms/call-s', 'ELU', 'RSS MB/call', 'recv/sent (loss %)', 'UDP drops', 'send %', 'delay p50/p99 ms', 'jitter p50/p99 ms', 'thr/fd per call'];
  const rows = results
    .filter((r) => r.status !== 'skipped-budget' && r.stack !== 'sipp-load')
    .map((r) => [
      r.stack,
      r.n,
      r.status,
      `${f(r.setupMedianMs, 0)}/${f(r.setupP95Ms, 0)}`,
      f(r.cpuMsPerCallSec, 2),
      f(r.elu, 2),
      f(r.rssPerCallMB, 2),
      r.sent != null ? `${r.recv}/${r.sent} (${f(r.lossPct, 2)})` : 'n/a',
      r.udpRcvbufDrops ?? 'n/a',
      f(r.sendRatePct, 1),
      r.delayP50Ms != null ? `${f(r.delayP50Ms)}/${f(r.delayP99Ms)}` : 'n/a',
      r.jitterP50Ms != null ? `${f(r.jitterP50Ms, 2)}/${f(r.jitterP99Ms, 2)}` : 'n/a',
      r.threadsPerCall != null ? `${f(r.threadsPerCall, 1)}/${f(r.fdsPerCall, 1)}` : 'n/a',
    ]);
  return [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** The SIPp load run (bench/sipp-load.mjs), if the sweep had one. */
export function renderSippLoad(results) {
  const r = results.find((x) => x.stack === 'sipp-load');
  if (!r) return '';
  if (r.status === 'skipped-budget') return 'SIPp load run: skipped (time budget).';
  const head = ['concurrent calls (avg/min)', 'status', 'bot CPU, cores', 'CPU per call, % of one core', 'call rate held (offered), calls/s', 'calls ok/failed', 'setup mean ms', 'RTP in/out pps per call (min in)', 'loss %', 'bot UDP drops', 'bot RSS MB', 'SIPp CPU % of a core'];
  const row = [
    `${f(r.avgLive, 0)}/${r.minLive ?? 'n/a'}`,
    r.status + (r.error ? ` (${r.error.split('\n')[0]})` : ''),
    f(r.cpuCores, 3),
    f(r.cpuPctPerCall, 3),
    `${f(r.heldRate, 2)} (${f(r.offeredRate, 2)})`,
    `${r.successfulCalls ?? 'n/a'}/${r.failedCalls ?? 'n/a'}`,
    f(r.setupMeanMs, 1),
    `${f(r.recvPpsPerCall, 1)}/${f(r.sentPpsPerCall, 1)} (${f(r.minRecvPps, 1)})`,
    f(r.lossPct, 3),
    r.botUdpDrops ?? 'n/a',
    r.rssMB ?? 'n/a',
    f(r.sippCpuPctOfCore, 1),
  ];
  return [
    `SIPp UAC → bot over SIP/UDP, RTP/AVP PCMU: ${r.calls} concurrent calls of ${r.holdS} s (${r.totalCalls} calls), bot loops a tone and records to /dev/null in Rust; ${r.windowS} s steady-state window. Anchor: SiphonAI reports 0.65% of a core per call at 200 concurrent calls.`,
    '',
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    `| ${row.join(' | ')} |`,
  ].join('\n');
}

const clean = (results, stack) => results.filter((r) => r.stack === stack && r.status === 'clean');
const at = (results, stack, n) => results.find((r) => r.stack === stack && r.n === n && r.status === 'clean');
/** Largest clean N, and whether the sweep went past it (else it is a lower bound). */
function maxClean(results, stack) {
  const c = clean(results, stack);
  if (!c.length) return { n: 0, bound: '' };
  const n = Math.max(...c.map((r) => r.n));
  const stopped = results.some((r) => r.stack === stack && r.n > n && r.status !== 'skipped-budget');
  return { n, bound: stopped ? '' : '≥' };
}
/** CPU ratio a/b at the largest N where both stacks ran clean. */
function cpuRatio(results, a, b) {
  const common = clean(results, a).map((r) => r.n).filter((n) => at(results, b, n)).sort((x, y) => y - x);
  if (!common.length) return null;
  const n = common[0];
  return { n, a: at(results, a, n).cpuMsPerCallSec, b: at(results, b, n).cpuMsPerCallSec, ratio: at(results, a, n).cpuMsPerCallSec / at(results, b, n).cpuMsPerCallSec, all: common.map((m) => `N=${m}: ${f(at(results, a, m).cpuMsPerCallSec / at(results, b, m).cpuMsPerCallSec, 2)}x`).join(', ') };
}

export function targets(results) {
  const lines = [];
  const verdict = (ok) => (ok == null ? '—' : ok ? 'met' : 'NOT met');
  const nd = cpuRatio(results, 'sipwire-bot-pcmu', 'node-datachannel');
  lines.push(nd ? `| PCMU bot CPU ≤ 0.75x node-datachannel | ${f(nd.ratio, 2)}x at N=${nd.n} (${f(nd.a, 2)} vs ${f(nd.b, 2)} ms; ${nd.all}) | ${verdict(nd.ratio <= 0.75)} |` : '| PCMU bot CPU ≤ 0.75x node-datachannel | no common clean N | — |');
  const wr = cpuRatio(results, 'sipwire-bot-pcmu', 'wrtc-pcmu');
  lines.push(wr ? `| PCMU bot CPU ≤ 0.25x wrtc (PCMU) | ${f(wr.ratio, 2)}x at N=${wr.n} (${f(wr.a, 2)} vs ${f(wr.b, 2)} ms; ${wr.all}) | ${verdict(wr.ratio <= 0.25)} |` : '| PCMU bot CPU ≤ 0.25x wrtc | no common clean N | — |');
  const rtp = cpuRatio(results, 'sipwire-bot-rtp', 'sipwire-bot-pcmu');
  if (rtp) lines.push(`| (info) plain RTP/AVP bot vs WebRTC (DTLS-SRTP) bot, PCMU | ${f(rtp.ratio, 2)}x at N=${rtp.n} (${f(rtp.a, 2)} vs ${f(rtp.b, 2)} ms; ${rtp.all}) | — |`);
  const idle = cpuRatio(results, 'sipwire-idle-pcmu', 'node-datachannel');
  if (idle) lines.push(`| (info) transport only: sipwire idle PCMU vs node-datachannel | ${f(idle.ratio, 2)}x at N=${idle.n} (${f(idle.a, 2)} vs ${f(idle.b, 2)} ms) | — |`);
  const big = results.filter((r) => r.stack === 'sipwire-bot-pcmu' && r.n >= 500 && r.sent != null).sort((a, b) => a.n - b.n)[0];
  const delayOk = big?.delayP99Ms != null && big.delayP99Ms <= 60;
  lines.push(big ? `| PCMU bot: 500 calls, ≤0.5% loss, p99 delay ≤ 60 ms | N=${big.n}: ${big.status}, loss ${f(big.lossPct, 2)}%, delay p50/p99 ${big.delayP99Ms != null ? `${f(big.delayP50Ms, 2)}/${f(big.delayP99Ms, 2)} ms` : 'n/a'} (jitter p99 ${f(big.jitterP99Ms, 2)} ms) | ${big.status !== 'clean' ? 'NOT met' : big.delayP99Ms == null ? 'loss met, delay not measured' : verdict(delayOk)} |` : '| PCMU bot: 500 calls | not reached | NOT met |');
  const so = maxClean(results, 'sipwire-bot-opus');
  const wo = maxClean(results, 'wrtc-opus');
  const wp = maxClean(results, 'wrtc-pcmu');
  // Like for like (Opus both sides) is the target's reading; against wrtc's
  // best codec (PCMU) is shown too, as the stricter one.
  lines.push(`| Opus bot calls ≥ 3x wrtc clean calls (Opus vs Opus) | sipwire-bot-opus ${so.bound}${so.n} vs wrtc-opus ${wo.bound}${wo.n}: ${wo.n ? f(so.n / wo.n, 1) : '∞'}x (grid-limited) | ${verdict(wo.n ? so.n >= 3 * wo.n : so.n > 0)} |`);
  lines.push(`| (stricter) Opus bot calls vs wrtc's best codec (PCMU) | sipwire-bot-opus ${so.bound}${so.n} vs wrtc-pcmu ${wp.bound}${wp.n}: ${wp.n ? f(so.n / wp.n, 1) : '∞'}x | ${verdict(wp.n ? so.n >= 3 * wp.n : so.n > 0)} |`);
  const sp = clean(results, 'sipwire-bot-pcmu');
  if (sp.length) {
    const worstMed = Math.max(...sp.map((r) => r.setupMedianMs));
    const worstP95 = Math.max(...sp.map((r) => r.setupP95Ms));
    lines.push(`| Setup median ≤ 50 ms, p95 ≤ 100 ms (PCMU bot, all clean N) | per N: ${sp.map((r) => `${r.n}: ${f(r.setupMedianMs, 0)}/${f(r.setupP95Ms, 0)}`).join(', ')}; worst ${f(worstMed, 0)}/${f(worstP95, 0)} | ${verdict(worstMed <= 50 && worstP95 <= 100)} |`);
    const top = sp.sort((a, b) => b.n - a.n)[0];
    lines.push(`| RSS ≤ 0.5 MB per call (PCMU bot, largest clean N) | ${f(top.rssPerCallMB, 2)} MB at N=${top.n} | ${verdict(top.rssPerCallMB <= 0.5)} |`);
  }
  return ['| target | measured | verdict |', '| --- | --- | --- |', ...lines].join('\n');
}

// ---- chart: two panels, log-N x axis; CPU linear, loss on a log axis ----
export function renderChart(results) {
  const W = 980, H = 420, PW = 400, PH = 300, top = 50, lefts = [70, 560];
  const runs = results.filter((r) => r.cpuMsPerCallSec != null);
  // Missing = max(loss, send shortfall): sipwire and wrtc fail at high N by
  // not sending on time (sequence numbers stay gap-free), not by losing.
  const missing = (r) => Math.max(r.lossPct ?? 0, 100 - (r.sendRatePct ?? 100), 0);
  const stacks = [...new Set(runs.map((r) => r.stack))];
  const maxN = Math.max(10, ...runs.map((r) => r.n));
  const xN = (n, left) => left + (Math.log10(n) / Math.log10(maxN)) * PW;
  const cpuMax = Math.max(1, ...runs.map((r) => r.cpuMsPerCallSec)) * 1.1;
  const yCpu = (v) => top + PH - (v / cpuMax) * PH;
  const LMIN = 0.01, LMAX = 100; // loss %, 0 is drawn on the bottom edge
  const yLoss = (v) => top + PH - ((Math.log10(Math.max(LMIN, Math.min(LMAX, v))) - Math.log10(LMIN)) / (Math.log10(LMAX) - Math.log10(LMIN))) * PH;
  const el = [];
  const text = (x, y, s, extra = '') => el.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${extra}>${s}</text>`);
  const panel = (left, title, yTicks, yFn, yLabel) => {
    el.push(`<rect x="${left}" y="${top}" width="${PW}" height="${PH}" fill="none" stroke="#999"/>`);
    text(left + PW / 2, top - 12, title, 'text-anchor="middle" font-weight="bold"');
    for (let d = 1; d <= maxN; d *= 10) {
      el.push(`<line x1="${xN(d, left)}" y1="${top}" x2="${xN(d, left)}" y2="${top + PH}" stroke="#eee"/>`);
      text(xN(d, left), top + PH + 16, d, 'text-anchor="middle"');
    }
    text(left + PW / 2, top + PH + 34, 'concurrent calls N (log)', 'text-anchor="middle"');
    for (const t of yTicks) {
      el.push(`<line x1="${left}" y1="${yFn(t)}" x2="${left + PW}" y2="${yFn(t)}" stroke="#eee"/>`);
      text(left - 6, yFn(t) + 4, t, 'text-anchor="end"');
    }
    text(left - 48, top + PH / 2, yLabel, `text-anchor="middle" transform="rotate(-90 ${left - 48} ${top + PH / 2})"`);
  };
  const step = cpuMax > 40 ? 10 : cpuMax > 10 ? 5 : 1;
  panel(lefts[0], 'CPU ms per call-second (both ends)', Array.from({ length: Math.floor(cpuMax / step) + 1 }, (_, i) => i * step), yCpu, 'ms');
  panel(lefts[1], 'Packets missing %: lost, or not sent on time', [0.01, 0.1, 0.5, 1, 10, 100], yLoss, 'loss % (log; 0 at bottom)');
  el.push(`<line x1="${lefts[1]}" y1="${yLoss(0.5)}" x2="${lefts[1] + PW}" y2="${yLoss(0.5)}" stroke="#c00" stroke-dasharray="4 3"/>`);
  stacks.forEach((s, i) => {
    const pts = runs.filter((r) => r.stack === s).sort((a, b) => a.n - b.n);
    const c = COLORS[s] ?? '#333';
    const line = (left, y) => pts.map((r) => `${xN(r.n, left).toFixed(1)},${y(r).toFixed(1)}`).join(' ');
    el.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${line(lefts[0], (r) => yCpu(r.cpuMsPerCallSec))}"/>`);
    el.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${line(lefts[1], (r) => yLoss(missing(r)))}"/>`);
    for (const r of pts) {
      const mark = r.status === 'clean' ? 'circle' : 'x';
      for (const [left, y] of [[lefts[0], yCpu(r.cpuMsPerCallSec)], [lefts[1], yLoss(missing(r))]]) {
        const x = xN(r.n, left);
        el.push(mark === 'circle' ? `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3" fill="${c}"/>` : `<path d="M${x - 4},${y - 4}L${x + 4},${y + 4}M${x - 4},${y + 4}L${x + 4},${y - 4}" stroke="${c}" stroke-width="2"/>`);
      }
    }
    const lx = 70 + (i % 4) * 225, ly = H - 22 + Math.floor(i / 4) * 16;
    el.push(`<rect x="${lx}" y="${ly - 9}" width="12" height="10" fill="${c}"/>`);
    text(lx + 16, ly, s);
  });
  text(W - 10, H - 40, '● clean  ✕ not clean', 'text-anchor="end" fill="#555"');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H + 20}" font-family="sans-serif" font-size="11">\n<rect width="100%" height="100%" fill="white"/>\n${el.join('\n')}\n</svg>\n`;
}

export function writeReport({ meta, results }, outDir) {
  const md = `# sipwire benchmark (issue 5)

\`${meta.command}\` — ${meta.date}, Node ${meta.node}, ${meta.cores} cores, D = ${meta.D} s media window per run,
setup concurrency ${meta.concurrency}, private network namespace with only \`lo\`, one fresh process per (stack, N).

Stacks: sipwire *bot* (each end play()s a 400 ms tone re-queued from JS and startRecording()s to /dev/null:
encode + decode in Rust), sipwire *idle-pcmu* (nothing played or recorded: silence sent, nothing decoded; transport cost),
sipwire *2p-bot-pcmu* (bot PCMU with the answering ends in a second process; CPU and RSS of both processes),
sipwire *js-pcm* (writePcm 20 ms frames from one JS timer, subscribeAudio 20 ms batches),
@roamhq/wrtc (RTCAudioSource 10 ms frames in, RTCAudioSink out), werift and node-datachannel (RTP passthrough:
pre-built PCMU packets every 20 ms with the send time in the payload, no codec).
CPU = process user+sys over the window / (N·D), both ends of every call; RSS per call = (peak RSS − baseline)/N;
loss = RTP-sequence loss (packetsLost) for sipwire and wrtc, 1 − received/sent for the passthrough stacks;
UDP drops = kernel receive-buffer drops in the namespace (/proc/net/snmp) during the window; send % = sent / (2·N·50·D). One-way delay: for the passthrough stacks JS timestamps
each packet (send time in the payload); for sipwire the delay is Rust send tick → Rust receive via abs-send-time
(\`measureOneWayDelay\`, histograms from getStats differenced over the window; bin middles, 0.05 ms bins below 5 ms);
wrtc still n/a. Jitter is inbound RTP jitter from getStats (sipwire, wrtc).
A stack stops at its first unclean N (loss > 0.5%, setup failure, send rate < 98%, hang or crash).

## Results

${renderTable(results)}

## SIPp load

${renderSippLoad(results) || 'not run'}

## Targets

${targets(results)}

![CPU and loss vs N](chart.svg)
`;
  writeFileSync(join(outDir, 'report.md'), md);
  writeFileSync(join(outDir, 'chart.svg'), renderChart(results));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2] ?? join(fileURLToPath(new URL('.', import.meta.url)), 'results', 'results.json');
  const data = JSON.parse(readFileSync(file, 'utf8'));
  writeReport(data, join(file, '..'));
  console.log(renderTable(data.results) + '\n\n' + targets(data.results));
}
