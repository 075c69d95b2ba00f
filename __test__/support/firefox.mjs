// Headless Debian Firefox ESR (driven by puppeteer-core over WebDriver BiDi) running the
// same SIP.js page as the Chromium suite. Nothing is downloaded: the browser is
// /usr/bin/firefox-esr. WebAudio needs an audio backend to run its graph, so each test
// file starts a private PulseAudio with a null sink (its own runtime dir, stopped by PID).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';

export const FIREFOX_BIN = '/usr/bin/firefox-esr';
export const PULSEAUDIO_BIN = '/usr/bin/pulseaudio';

/** Why the Firefox suite cannot run here: a missing tool is an error, not a skip. */
export async function firefoxMissing() {
  if (!existsSync(FIREFOX_BIN)) return 'firefox-esr not installed (apt-get install firefox-esr)';
  if (!existsSync(PULSEAUDIO_BIN)) return 'pulseaudio not installed (apt-get install pulseaudio)';
  try {
    await import('puppeteer-core');
  } catch {
    return 'puppeteer-core not installed (npm ci)';
  }
  return false;
}

/** The suite opens browser ICE on every interface: only inside `unshare -n` (scripts/test.sh). */
export function outsideNetnsReason() {
  const outside = Object.entries(networkInterfaces()).filter(([, addrs]) => addrs.some((a) => !a.internal));
  return outside.length > 0
    ? `a non-loopback interface is up (${outside.map(([n]) => n).join(', ')}): run inside \`unshare -n\` with only lo (scripts/test.sh does as root)`
    : false;
}

/**
 * Firefox gathers host candidates only on the interface of its default route (it asks the
 * kernel which source address a UDP "connection" to a public address would use; no packet
 * is sent). A namespace with only `lo` has no default route, so Firefox gathers nothing.
 * Inside the test's private namespace, route the default via `lo` with source 127.0.0.1;
 * returns a function that removes the route again (a no-op if one was already there).
 */
export function addLoopbackDefaultRoute() {
  if (outsideNetnsReason()) throw new Error('refusing to touch routes outside a private network namespace');
  const has = spawnSync('ip', ['route', 'show', 'default'], { encoding: 'utf8' });
  if (has.status !== 0) throw new Error(`ip route failed: ${has.stderr}`);
  if (has.stdout.trim()) return () => {};
  const add = spawnSync('ip', ['route', 'add', 'default', 'dev', 'lo', 'src', '127.0.0.1'], { encoding: 'utf8' });
  if (add.status !== 0) throw new Error(`ip route add default dev lo failed: ${add.stderr}`);
  return () => void spawnSync('ip', ['route', 'del', 'default', 'dev', 'lo'], { encoding: 'utf8' });
}

const live = new Set(); // PIDs (process-group leaders) we started and have not reaped
let hooked = false;
function kill(pid) {
  for (const p of [-pid, pid]) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone, or not a group leader */
    }
  }
}
function hook() {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const pid of live) kill(pid);
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const isAlive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * A private PulseAudio: runtime dir, socket and state in a fresh temp dir, one null sink,
 * no autospawn, never exits on idle. `server` goes into the browser's PULSE_SERVER.
 */
export async function startPulseAudio({ log = () => {}, timeoutMs = 10000 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sipwire-pulse-'));
  const socket = join(dir, 'native');
  const env = { ...process.env, HOME: dir, PULSE_RUNTIME_PATH: dir, PULSE_STATE_PATH: dir, XDG_RUNTIME_DIR: dir, XDG_CONFIG_HOME: dir };
  const child = spawn(
    PULSEAUDIO_BIN,
    [
      '--daemonize=no',
      '--exit-idle-time=-1',
      '-n', // no default.pa: only the modules below
      '--use-pid-file=no',
      '--disallow-exit',
      `--load=module-native-protocol-unix auth-anonymous=1 socket=${socket}`,
      '--load=module-null-sink sink_name=sipwire_null rate=48000',
      '--load=module-null-source source_name=sipwire_null_src rate=48000', // Firefox wants a default source
    ],
    { env, stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => (err = (err + d).slice(-8192)));
  let exited = null;
  const exit = new Promise((r) => child.once('exit', (code, signal) => r((exited = { code, signal }))));
  child.once('error', (e) => (exited = { error: e.message }));
  const pid = child.pid;
  if (pid) {
    live.add(pid);
    hook();
  }
  const stop = async () => {
    if (exited === null && pid) {
      child.kill('SIGTERM');
      await Promise.race([exit, sleep(3000)]);
      if (exited === null) kill(pid);
      await Promise.race([exit, sleep(2000)]);
    }
    live.delete(pid);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(socket)) {
    if (exited) {
      await stop();
      throw new Error(`pulseaudio exited at startup (${JSON.stringify(exited)}): ${err}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`pulseaudio made no socket within ${timeoutMs} ms: ${err}`);
    }
    await sleep(50);
  }
  log(`pulseaudio pid ${pid}, socket ${socket}`);
  return { server: `unix:${socket}`, pid, stop };
}

/**
 * Launch headless Firefox ESR over WebDriver BiDi, with ICE on loopback, a fake
 * microphone (Firefox's fake device plays a 1 kHz tone), no permission prompts, no mDNS
 * obfuscation of host candidates, and autoplay allowed so WebAudio runs without a gesture.
 * @param {{ pulseServer: string, log?: (line: string) => void, timeoutMs?: number }} opts
 */
export async function launchFirefox({ pulseServer, log = () => {}, timeoutMs = 60000 }) {
  const { default: puppeteer } = await import('puppeteer-core');
  const home = mkdtempSync(join(tmpdir(), 'sipwire-firefox-home-'));
  const browser = await puppeteer.launch({
    browser: 'firefox',
    protocol: 'webDriverBiDi',
    executablePath: FIREFOX_BIN,
    headless: true,
    timeout: timeoutMs,
    protocolTimeout: timeoutMs,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    env: { ...process.env, HOME: home, PULSE_SERVER: pulseServer, MOZ_CRASHREPORTER_DISABLE: '1' },
    extraPrefsFirefox: {
      'media.peerconnection.ice.loopback': true,
      'media.peerconnection.ice.obfuscate_host_addresses': false,
      'media.navigator.streams.fake': true,
      'media.navigator.permission.disabled': true,
      'media.autoplay.default': 0,
      'media.autoplay.block-webaudio': false,
      'media.cubeb.backend': 'pulse',
      'media.peerconnection.mtransport_process': false,
      'network.process.enabled': false,
      'network.dns.disableIPv6': true,
      'browser.shell.checkDefaultBrowser': false,
      'app.update.enabled': false,
      'datareporting.policy.dataSubmissionEnabled': false,
      'toolkit.telemetry.enabled': false,
    },
  });
  const pid = browser.process()?.pid;
  if (pid) {
    live.add(pid);
    hook();
  }
  const version = await browser.version();
  const page = (await browser.pages())[0] ?? (await browser.newPage());
  page.on('console', (m) => log(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log(`pageerror: ${e.message}`));
  let closed;
  const close = () => {
    closed ??= (async () => {
      try {
        await Promise.race([browser.close(), sleep(8000)]);
      } catch {
        /* fall through to the PID kill */
      }
      if (pid) {
        for (let i = 0; i < 40 && isAlive(pid); i++) await sleep(50);
        if (isAlive(pid)) {
          log(`firefox pid ${pid} survived browser.close(); SIGKILL`);
          kill(pid);
        }
        live.delete(pid);
      }
      rmSync(home, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    })();
    return closed;
  };
  return { browser, page, pid, version, close };
}
