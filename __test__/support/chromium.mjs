// Headless Debian Chromium (driven by playwright-core) running SIP.js from a tiny
// HTTP server on 127.0.0.1, for the browser interop suite. Nothing is downloaded:
// the browser is /usr/bin/chromium, the page and SIP.js are served from this repo.
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CHROMIUM_BIN = '/usr/bin/chromium';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PAGE_DIR = join(ROOT, '__test__', 'browser');
const SIPJS_DIR = join(ROOT, 'node_modules', 'sip.js');

export async function loadPlaywright() {
  try {
    return (await import('playwright-core')).chromium;
  } catch {
    return null;
  }
}

/** Why the browser suite cannot run here, or false. */
export async function chromiumSkipReason() {
  if (!existsSync(CHROMIUM_BIN)) return 'chromium not installed (apt-get install chromium)';
  if (!(await loadPlaywright())) return 'playwright-core not installed (npm install playwright-core)';
  const outside = Object.entries(networkInterfaces()).filter(([, addrs]) => addrs.some((a) => !a.internal));
  if (outside.length > 0)
    return `a non-loopback interface is up (${outside.map(([n]) => n).join(', ')}): run inside \`unshare -n\` with only lo (scripts/test.sh does as root)`;
  return false;
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.map': 'application/json', '.wav': 'audio/wav' };

/** Serve / (the page), /page.js and /sip.js/** on 127.0.0.1. */
export function startPageServer() {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    let file = null;
    if (path === '/' || path === '/index.html') file = join(PAGE_DIR, 'index.html');
    else if (path === '/page.js') file = join(PAGE_DIR, 'page.js');
    else if (path.startsWith('/sip.js/')) {
      const f = normalize(join(SIPJS_DIR, path.slice('/sip.js/'.length)));
      if (f.startsWith(SIPJS_DIR + sep)) file = f;
    }
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (!file || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(readFileSync(file));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}/`,
        close: () => new Promise((r) => (server.closeAllConnections?.(), server.close(() => r()))),
      });
    });
  });
}

// Chromium processes we launched, killed on exit if still alive.
const live = new Set();
let hooked = false;
function killGroup(pid) {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* not a group leader or gone */
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}
function hook() {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const pid of live) killGroup(pid);
  });
}

const isAlive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Our direct children that run the Chromium binary. */
function chromiumChildren() {
  const out = new Set();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== process.pid) continue;
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0')[0];
      if (/chromium/.test(cmd)) out.add(Number(d));
    } catch {
      /* raced with exit */
    }
  }
  return out;
}

/**
 * Launch headless Chromium with a fake microphone playing `toneWav`.
 * `fakeMic: false` leaves out the fake capture flags (no microphone, no auto-granted permission).
 * @param {{ toneWav: string, mdns?: boolean, fakeMic?: boolean, log?: (line: string) => void, timeoutMs?: number }} opts
 */
export async function launchChromium({ toneWav, mdns = false, fakeMic = true, log = () => {}, timeoutMs = 30000 }) {
  const chromium = await loadPlaywright();
  const userDataDir = mkdtempSync(join(tmpdir(), 'sipwire-chromium-'));
  const args = [
    '--allow-loopback-in-peer-connection',
    ...(mdns ? [] : ['--disable-features=WebRtcHideLocalIpsWithMdns']),
    ...(fakeMic ? ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-audio-capture=${toneWav}`] : []),
    '--autoplay-policy=no-user-gesture-required',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ];
  const before = chromiumChildren();
  // A fresh profile: Playwright takes it as launchPersistentContext's userDataDir
  // (it refuses a --user-data-dir argument) and passes it on as --user-data-dir.
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_BIN,
    headless: true,
    ignoreDefaultArgs: ['--mute-audio'],
    args,
    timeout: timeoutMs,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  const pids = [...chromiumChildren()].filter((p) => !before.has(p));
  const pid = pids[0];
  if (pid !== undefined) {
    live.add(pid);
    hook();
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const version = context.browser()?.version() ?? 'unknown';
  page.on('console', (m) => log(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log(`pageerror: ${e.message}`));
  let closed;
  const close = () => {
    closed ??= (async () => {
      try {
        await Promise.race([context.close(), new Promise((r) => setTimeout(r, 5000))]);
      } catch {
        /* fall through to the PID kill */
      }
      if (pid !== undefined) {
        for (let i = 0; i < 40 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
        if (isAlive(pid)) {
          log(`chromium pid ${pid} survived browser.close(); SIGKILL`);
          killGroup(pid);
        }
        live.delete(pid);
      }
      try {
        rmSync(userDataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
      } catch (e) {
        log(`could not remove ${userDataDir}: ${e.message}`);
      }
    })();
    return closed;
  };
  return { context, page, pid, close, version };
}

/** page.evaluate with a time bound. */
export function evaluate(page, fn, arg, ms = 20000, what = 'page.evaluate') {
  let t;
  return Promise.race([
    page.evaluate(fn, arg),
    new Promise((_, rej) => (t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms))),
  ]).finally(() => clearTimeout(t));
}
