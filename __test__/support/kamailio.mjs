// Starts a throwaway Kamailio (SIP over WebSocket on 127.0.0.1) for interop tests.
// Nothing is written into the repo: pid file and runtime dir live in a fresh mkdtemp dir.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

export const KAMAILIO_BIN = "/usr/sbin/kamailio";
const CFG = join(dirname(fileURLToPath(import.meta.url)), "..", "kamailio", "kamailio.cfg");
const STDERR_LIMIT = 64 * 1024;

export function kamailioAvailable() {
  return existsSync(KAMAILIO_BIN);
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
    s.setTimeout(500, () => done(false));
  });
}

// Every Kamailio still running, so one exit/signal hook can kill them all (each has its own
// process group, so the group gets it: main process and forked workers).
const live = new Set();
let hooked = false;
function killAll() {
  for (const pid of live) {
    try { process.kill(-pid, "SIGKILL"); } catch { /* already gone */ }
  }
  live.clear();
}
function hookProcess() {
  if (hooked) return;
  hooked = true;
  process.on("exit", killAll);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    const onSignal = () => {
      killAll();
      process.off(sig, onSignal);
      // Only mimic the default action if nobody else handles this signal.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Spawn Kamailio in the foreground and wait until its WebSocket port accepts TCP.
 * @param {{ port?: number, startTimeoutMs?: number, logLevel?: number }} [opts]
 * @returns {Promise<{ wsUrl: string, port: number, pid: number, stderr: () => string, stop: () => Promise<void> }>}
 */
export async function startKamailio({ port, startTimeoutMs = 10_000, logLevel } = {}) {
  if (!kamailioAvailable()) throw new Error(`Kamailio is not installed (${KAMAILIO_BIN} missing)`);
  if (port === undefined) port = await freePort();
  else if (await canConnect(port)) throw new Error(`127.0.0.1:${port} is already in use; not starting Kamailio`);
  const dir = mkdtempSync(join(tmpdir(), "sipwire-kamailio-"));
  const args = [
    "-f", CFG,
    "-A", `WS_PORT=${port}`,
    ...(logLevel === undefined ? [] : ["-A", `LOG_LEVEL=${logLevel}`]),
    "-DD", "-E",
    "-m", "64", "-M", "8",
    "-P", join(dir, "kamailio.pid"),
    "-Y", dir,
  ];
  // Own process group, so a SIGKILL fallback also reaches Kamailio's forked workers.
  const child = spawn(KAMAILIO_BIN, args, { stdio: ["ignore", "ignore", "pipe"], detached: true });
  let errBuf = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => {
    errBuf = (errBuf + d).slice(-STDERR_LIMIT);
  });
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });
  const spawnError = new Promise((_, reject) => child.once("error", reject));
  spawnError.catch(() => {});

  const tail = () => errBuf.split("\n").slice(-25).join("\n");
  const pid = child.pid;
  // A forgotten stop() must not keep the test process alive; the exit hook then kills it.
  child.unref();
  child.stderr.unref?.();
  if (pid !== undefined) {
    live.add(pid);
    hookProcess();
    exitPromise.then(() => live.delete(pid));
  }

  // Resolves true on exit, false after `ms`; the timer also keeps the event loop alive,
  // since the child itself is unref'd.
  const waitExit = (ms) => {
    let timer;
    return Promise.race([
      exitPromise.then(() => true),
      new Promise((r) => { timer = setTimeout(() => r(false), ms); }),
    ]).finally(() => clearTimeout(timer));
  };

  let stopped;
  const stop = () => {
    stopped ??= (async () => {
      if (exited === null && pid !== undefined) {
        try { child.kill("SIGTERM"); } catch { /* already gone */ }
        if (!(await waitExit(3000))) {
          try { process.kill(-pid, "SIGKILL"); } catch { /* already gone */ }
          if (!(await waitExit(3000))) throw new Error(`Kamailio pid ${pid} survived SIGKILL`);
        }
      }
      // Main is gone; make sure no forked worker outlived it.
      if (pid !== undefined) try { process.kill(-pid, "SIGKILL"); } catch { /* none left */ }
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  const deadline = Date.now() + startTimeoutMs;
  try {
    for (;;) {
      if (exited) throw new Error(`Kamailio exited during startup (code ${exited.code}, signal ${exited.signal})`);
      if (pid === undefined) await spawnError;
      if (await canConnect(port)) break;
      if (Date.now() > deadline) throw new Error(`Kamailio did not accept TCP on 127.0.0.1:${port} within ${startTimeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (e) {
    await stop();
    throw new Error(`${e.message}\n--- kamailio stderr (tail) ---\n${tail()}`, { cause: e });
  }

  return {
    wsUrl: `ws://127.0.0.1:${port}`,
    port,
    pid,
    stderr: () => errBuf,
    stop,
    isAlive: () => exited === null && isAlive(pid),
  };
}
