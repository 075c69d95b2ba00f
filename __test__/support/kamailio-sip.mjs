// Starts a throwaway Kamailio speaking SIP over UDP + TCP (same port) and optionally TLS, on
// 127.0.0.1, for the socket transport tests. Everything it needs (tls.cfg, a self-signed
// certificate made by `openssl` for IP 127.0.0.1) lives in a fresh mkdtemp dir.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { KAMAILIO_BIN, kamailioAvailable, freePort } from "./kamailio.mjs";

const CFG = join(dirname(fileURLToPath(import.meta.url)), "..", "kamailio", "kamailio-sip.cfg");

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

/**
 * A self-signed certificate for `127.0.0.1` (and DNS `sip.test`), made by the openssl CLI.
 * @returns {{ certFile: string, keyFile: string, cert: string, key: string }}
 */
export function makeCertificate(dir, cn = "127.0.0.1") {
  const keyFile = join(dir, `${cn}.key`);
  const certFile = join(dir, `${cn}.pem`);
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", `/CN=${cn}`,
    "-addext", `subjectAltName=IP:127.0.0.1,DNS:sip.test`,
  ], { stdio: ["ignore", "ignore", "pipe"] });
  return { certFile, keyFile, cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
}

const live = new Set();
process.on("exit", () => {
  for (const pid of live) try { process.kill(-pid, "SIGKILL"); } catch { /* gone */ }
});

/**
 * @param {{ tls?: boolean, logLevel?: number, startTimeoutMs?: number }} [opts]
 * @returns {Promise<{ port: number, tlsPort?: number, ca?: string, pid: number, stderr: () => string, stop: () => Promise<void> }>}
 */
export async function startKamailioSip({ tls = false, logLevel, startTimeoutMs = 10_000 } = {}) {
  if (!kamailioAvailable()) throw new Error(`Kamailio is not installed (${KAMAILIO_BIN} missing): apt-get install kamailio kamailio-tls-modules`);
  const dir = mkdtempSync(join(tmpdir(), "sipwire-kamailio-sip-"));
  const port = await freePort();
  const args = ["-f", CFG, "-A", `SIP_PORT=${port}`];
  let tlsPort;
  let ca;
  if (tls) {
    tlsPort = await freePort();
    const c = makeCertificate(dir);
    ca = c.cert;
    const tlsCfg = join(dir, "tls.cfg");
    writeFileSync(tlsCfg, [
      "[server:default]", "method = TLSv1.2+", "verify_certificate = no", "require_certificate = no",
      `private_key = ${c.keyFile}`, `certificate = ${c.certFile}`, "",
      "[client:default]", "method = TLSv1.2+", "verify_certificate = no", "require_certificate = no", "",
    ].join("\n"));
    args.push("-A", "WITH_TLS", "-A", `TLS_PORT=${tlsPort}`, "-A", `TLS_CFG="${tlsCfg}"`);
  }
  if (logLevel !== undefined) args.push("-A", `LOG_LEVEL=${logLevel}`);
  args.push("-DD", "-E", "-m", "64", "-M", "8", "-P", join(dir, "kamailio.pid"), "-Y", dir);
  const child = spawn(KAMAILIO_BIN, args, { stdio: ["ignore", "ignore", "pipe"], detached: true });
  let errBuf = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => { errBuf = (errBuf + d).slice(-64 * 1024); });
  let exited = null;
  const exitPromise = new Promise((resolve) => child.once("exit", (code, signal) => resolve((exited = { code, signal }))));
  const pid = child.pid;
  child.unref();
  child.stderr.unref?.();
  if (pid !== undefined) live.add(pid);
  const waitExit = (ms) => {
    let t;
    return Promise.race([exitPromise.then(() => true), new Promise((r) => { t = setTimeout(() => r(false), ms); })]).finally(() => clearTimeout(t));
  };
  let stopped;
  const stop = () => (stopped ??= (async () => {
    if (exited === null && pid !== undefined) {
      try { child.kill("SIGTERM"); } catch { /* gone */ }
      if (!(await waitExit(3000))) {
        try { process.kill(-pid, "SIGKILL"); } catch { /* gone */ }
        await waitExit(3000);
      }
    }
    if (pid !== undefined) {
      try { process.kill(-pid, "SIGKILL"); } catch { /* no worker left */ }
      live.delete(pid);
    }
    rmSync(dir, { recursive: true, force: true });
  })());
  const deadline = Date.now() + startTimeoutMs;
  try {
    for (;;) {
      if (exited) throw new Error(`Kamailio exited during startup (code ${exited.code}, signal ${exited.signal})`);
      if (pid === undefined) throw new Error("Kamailio did not start");
      if ((await canConnect(port)) && (!tls || (await canConnect(tlsPort)))) break;
      if (Date.now() > deadline) throw new Error(`Kamailio did not listen on 127.0.0.1:${port} within ${startTimeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (e) {
    await stop();
    throw new Error(`${e.message}\n--- kamailio stderr (tail) ---\n${errBuf.split("\n").slice(-25).join("\n")}`, { cause: e });
  }
  return { port, tlsPort, ca, pid, stderr: () => errBuf, stop };
}
