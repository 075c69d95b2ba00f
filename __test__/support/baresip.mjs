// Starts a throwaway baresip (Debian `baresip-core`) on 127.0.0.1 with a generated config
// in a fresh mkdtemp dir, driven over its ctrl_tcp module (netstring JSON commands and
// events). Audio: `aufile` plays a WAV we write as baresip's source; `sndfile` dumps what
// baresip decodes to WAV files in the dir, which the tests read for the bot's tone.
// Stopped by PID (its own process group).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { createSocket } from "node:dgram";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./kamailio.mjs";

export const BARESIP_BIN = "/usr/bin/baresip";
const MODULES = "/usr/lib/baresip/modules";

const live = new Set();
process.on("exit", () => {
  for (const pid of live) try { process.kill(-pid, "SIGKILL"); } catch { /* gone */ }
});

/** A mono 16-bit WAV of a sine at `hz`. */
function sineWav(file, hz, rate, seconds) {
  const n = rate * seconds;
  const buf = Buffer.alloc(44 + n * 2);
  buf.write("RIFF", 0);
  buf.writeUInt32LE(36 + n * 2, 4);
  buf.write("WAVEfmt ", 8);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write("data", 36);
  buf.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) buf.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / rate)), 44 + i * 2);
  writeFileSync(file, buf);
}

/** Samples (Int16Array) and rate of a PCM WAV file. */
export function readPcmWav(file) {
  const b = readFileSync(file);
  let off = 12;
  let rate = 8000;
  let channels = 1;
  while (off + 8 <= b.length) {
    const id = b.toString("ascii", off, off + 4);
    const len = b.readUInt32LE(off + 4);
    if (id === "fmt ") {
      channels = b.readUInt16LE(off + 10);
      rate = b.readUInt32LE(off + 12);
    } else if (id === "data") {
      const end = Math.min(b.length, off + 8 + (len || b.length));
      const all = new Int16Array(b.buffer.slice(b.byteOffset + off + 8, b.byteOffset + end - ((end - off - 8) % 2)));
      if (channels === 1) return { samples: all, rate };
      const mono = new Int16Array(Math.floor(all.length / channels));
      for (let i = 0; i < mono.length; i++) mono[i] = all[i * channels];
      return { samples: mono, rate };
    }
    off += 8 + len + (len % 2);
  }
  return { samples: new Int16Array(0), rate };
}

/**
 * @param {{ name?: string, toneHz?: number, mediaenc?: string, codecs?: string, modules?: string[], accountParams?: string[], config?: string[], rtcpMux?: boolean }} [opts]
 *   `modules`: extra baresip modules to load (e.g. "g722.so", "ice.so"); `accountParams`: more
 *   `key=value` account parameters (e.g. "medianat=ice"); `config`: more config lines (e.g.
 *   "sip_cafile /path/ca.pem").
 */
/** Try to listen on 127.0.0.1:port over TCP and UDP; true when both were free. */
async function portFree(port) {
  const tcp = await new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
  if (!tcp) return false;
  return new Promise((resolve) => {
    const sock = createSocket("udp4");
    sock.once("error", () => { sock.close(); resolve(false); });
    sock.bind(port, "127.0.0.1", () => sock.close(() => resolve(true)));
  });
}

/** A port p with p and p + 1 free over TCP and UDP a moment ago (bounded tries). */
async function freePortPair() {
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    if (p < 65535 && (await portFree(p)) && (await portFree(p + 1))) return p;
  }
  throw new Error("no two consecutive free ports on 127.0.0.1 after 50 tries");
}

export async function startBaresip({ name = "baresip", toneHz = 700, mediaenc, codecs = "PCMU/8000/1,PCMA/8000/1", modules = [], accountParams = [], config = [], rtcpMux = false, registrar } = {}) {
  if (!existsSync(BARESIP_BIN)) throw new Error(`baresip is not installed (${BARESIP_BIN} missing): apt-get install baresip-core`);
  const dir = mkdtempSync(join(tmpdir(), "sipwire-baresip-"));
  // baresip listens for SIP on UDP and TCP at sipPort and for SIP/TLS at sipPort + 1:
  // both must be free (a busy sipPort + 1 aborts its start-up).
  const sipPort = await freePortPair();
  let ctrlPort = await freePort();
  while (ctrlPort === sipPort + 1) ctrlPort = await freePort();
  const rtpBase = 20000 + Math.floor(Math.random() * 20000) * 2;
  const source = join(dir, "tone.wav");
  // G.722 is 16 kHz audio: baresip 1.0 does not resample, so source and codec rates match.
  const srate = /G722/i.test(codecs) ? 16000 : 8000;
  sineWav(source, toneHz, srate, 120);
  writeFileSync(join(dir, "config"), [
    "poll_method epoll",
    "net_interface 127.0.0.1",
    `sip_listen 127.0.0.1:${sipPort}`,
    "call_local_timeout 120",
    "call_max_calls 4",
    `audio_source aufile,${source}`,
    "audio_player aufile,none",
    "audio_alert aufile,none",
    `audio_srate ${srate}`,
    "audio_channels 1",
    `rtp_ports ${rtpBase}-${rtpBase + 40}`,
    `rtcp_mux ${rtcpMux ? "yes" : "no"}`,
    "jitter_buffer_delay 1-10",
    `module_path ${MODULES}`,
    "module g711.so",
    "module aufile.so",
    "module sndfile.so",
    "module srtp.so",
    ...modules.map((m) => `module ${m}`),
    "module_app account.so",
    "module_app menu.so",
    "module_app ctrl_tcp.so",
    `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
    `snd_path ${dir}`,
    ...config,
    "",
  ].join("\n"));
  const params = [`answermode=manual`, `audio_codecs=${codecs}`];
  if (mediaenc) params.push(`mediaenc=${mediaenc}`);
  params.push(...accountParams);
  // With `registrar` ({ domain, proxy }): registers as name@domain through that outbound proxy.
  if (registrar) params.push(`outbound="${registrar.proxy}"`, "regint=60");
  else params.push("regint=0");
  const aor = registrar ? `sip:${name}@${registrar.domain}` : `sip:${name}@127.0.0.1:${sipPort}`;
  writeFileSync(join(dir, "accounts"), `<${aor}>;${params.join(";")}\n`);
  writeFileSync(join(dir, "contacts"), "");
  const child = spawn(BARESIP_BIN, ["-f", dir], { cwd: dir, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  const keep = (d) => { out = (out + d).slice(-64 * 1024); };
  child.stdout.setEncoding("utf8").on("data", keep);
  child.stderr.setEncoding("utf8").on("data", keep);
  const pid = child.pid;
  live.add(pid);
  const exited = new Promise((resolve) => child.once("exit", resolve));

  // ctrl_tcp: retry until it listens (bounded).
  let sock;
  for (let i = 0; i < 100 && !sock; i++) {
    sock = await new Promise((resolve) => {
      const s = connect({ host: "127.0.0.1", port: ctrlPort });
      s.once("connect", () => resolve(s));
      s.once("error", () => resolve(undefined));
    });
    if (!sock) await new Promise((r) => setTimeout(r, 50));
  }
  if (!sock) {
    try { process.kill(-pid, "SIGKILL"); } catch { /* gone */ }
    throw new Error(`baresip ctrl_tcp did not listen on ${ctrlPort}\n${out}`);
  }
  const events = [];
  const eventWaiters = [];
  const responses = new Map();
  let rx = Buffer.alloc(0);
  sock.on("data", (d) => {
    rx = Buffer.concat([rx, d]);
    for (;;) {
      const colon = rx.indexOf(0x3a);
      if (colon < 0) break;
      const len = Number(rx.subarray(0, colon).toString());
      if (!Number.isFinite(len) || rx.length < colon + 1 + len + 1) break;
      const msg = JSON.parse(rx.subarray(colon + 1, colon + 1 + len).toString());
      rx = rx.subarray(colon + 1 + len + 1);
      if (msg.event) {
        events.push(msg);
        for (const w of [...eventWaiters]) if (w.pred(msg)) (eventWaiters.splice(eventWaiters.indexOf(w), 1), w.resolve(msg));
      } else if (msg.response && msg.token) {
        responses.get(msg.token)?.(msg);
        responses.delete(msg.token);
      }
    }
  });
  let tokens = 0;
  const command = (cmd, params = "") =>
    new Promise((resolve, reject) => {
      const token = String(++tokens);
      const body = Buffer.from(JSON.stringify({ command: cmd, params, token }));
      const t = setTimeout(() => (responses.delete(token), reject(new Error(`baresip: no response to ${cmd}`))), 5000);
      responses.set(token, (m) => (clearTimeout(t), resolve(m)));
      sock.write(Buffer.concat([Buffer.from(`${body.length}:`), body, Buffer.from(",")]));
    });
  /** The next (or an already seen, if `past`) event of `type`. */
  const waitEvent = (type, ms = 10000, from = 0) => {
    const seen = events.slice(from).find((e) => e.type === type);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { pred: (e) => e.type === type, resolve: (e) => (clearTimeout(t), resolve(e)) };
      const t = setTimeout(() => (eventWaiters.splice(eventWaiters.indexOf(w), 1), reject(new Error(`baresip: no ${type} event in ${ms} ms; events: ${events.map((e) => e.type).join(",")}\n${out.slice(-3000)}`))), ms);
      eventWaiters.push(w);
    });
  };
  return {
    uri: `sip:${name}@127.0.0.1:${sipPort}`,
    sipPort,
    pid,
    dir,
    events,
    command,
    waitEvent,
    output: () => out,
    /** The WAV files sndfile wrote for decoded audio (what baresip heard). */
    decodedDumps: () => readdirSync(dir).filter((f) => f.startsWith("dump-") && f.endsWith("-dec.wav")).map((f) => join(dir, f)),
    async stop() {
      sock.destroy();
      try { process.kill(-pid, "SIGTERM"); } catch { /* gone */ }
      const t = setTimeout(() => { try { process.kill(-pid, "SIGKILL"); } catch { /* gone */ } }, 3000);
      await exited;
      clearTimeout(t);
      live.delete(pid);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
