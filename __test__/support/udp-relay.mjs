// A lossy UDP relay for SIP tests: the client talks to `front`, the relay talks to the server from
// `back`, and a rule may drop (or duplicate) any datagram in either direction. Used to prove that
// the SIP layers retransmit (RFC 3261 timers A/E, 2xx retransmission) and absorb duplicates.
import { createSocket } from "node:dgram";

const startLine = (buf) => buf.toString("latin1", 0, Math.min(buf.length, 200)).split("\r\n")[0];
const cseqOf = (buf) => /\r\nCSeq:\s*\d+\s+(\S+)/i.exec(buf.toString("latin1"))?.[1]?.toUpperCase() ?? "";

/**
 * @param {{ host: string, port: number }} server
 * @param {(d: { dir: "up" | "down", start: string, cseq: string, text: string }) => "drop" | "dup" | undefined} rule
 *   `up` is client -> server, `down` server -> client; "dup" forwards a second copy `dupDelayMs` later.
 */
export async function startUdpRelay(server, rule, { dupDelayMs = 0 } = {}) {
  const front = createSocket("udp4");
  const back = createSocket("udp4");
  let client;
  let closed = false;
  const log = [];
  const bind = (s) => new Promise((r) => s.bind(0, "127.0.0.1", r));
  await bind(front);
  await bind(back);
  const handle = (dir, msg, forward) => {
    const d = { dir, start: startLine(msg), cseq: cseqOf(msg), text: msg.toString("utf8") };
    const verdict = rule(d);
    log.push({ dir, start: d.start, cseq: d.cseq, verdict: verdict ?? "pass", text: d.text });
    if (verdict === "drop") return;
    forward();
    if (verdict === "dup") {
      if (dupDelayMs > 0) setTimeout(() => { if (!closed) forward(); }, dupDelayMs);
      else forward();
    }
  };
  front.on("message", (msg, rinfo) => {
    client = { address: rinfo.address, port: rinfo.port };
    handle("up", msg, () => back.send(msg, server.port, server.host));
  });
  back.on("message", (msg) => {
    if (!client) return;
    const c = client;
    handle("down", msg, () => front.send(msg, c.port, c.address));
  });
  return {
    port: front.address().port,
    /** The port the server sees the client at (what a NAT would show). */
    backPort: back.address().port,
    log,
    close: () => (closed = true) && Promise.all([new Promise((r) => front.close(r)), new Promise((r) => back.close(r))]),
  };
}
