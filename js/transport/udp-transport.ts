import { createSocket, type Socket } from "node:dgram";
import { isIP } from "node:net";
import type { Core } from "sip.js";
import { frameDatagram } from "./sip-framing";
import { parseSipMessage, headerParam, type SipMessageInfo, type ViaValue } from "./sip-message";
import { SipReliability, type ReliabilityStats, type SipTimerValues, type Transmit } from "./sip-retransmit";
import { SipSocketTransport, errorText, hostPort, type SipPeer, type SipSocketTransportOptions } from "./sip-transport-base";

type Logger = Core.Logger;

/** Options for {@link UdpTransport}, passed as `UserAgentOptions.transportOptions`. */
export interface UdpTransportOptions extends SipSocketTransportOptions {
  /** RFC 3261 timer values in ms (T1, T2, T4). Default 500/4000/5000. */
  timers?: Partial<SipTimerValues>;
  /**
   * When a response's Via shows that the server saw another address than ours
   * (`received`/`rport`, i.e. a NAT in between), put that public address in the Contact of
   * later dialog messages (REGISTER keeps the local one, so bindings never double up).
   * Default true; set false to always advertise the local address.
   */
  contactFromReceived?: boolean;
}

/** Largest SIP message put in one UDP datagram (IPv4 maximum payload). */
const MAX_DATAGRAM = 65507;

/**
 * SIP.js 0.21 `Transport` for SIP over UDP (RFC 3261 §18) on `node:dgram`, for SIP trunks,
 * PBXs, phones and SIPp. One socket both sends and receives (so `rport` NAT traversal works).
 * Because SIP.js leaves the unreliable-transport timers out, this transport retransmits requests
 * (timers A and E), non-2xx INVITE responses (timer G) and absorbs retransmitted requests and
 * duplicate responses ({@link SipReliability}).
 *
 * @example
 * ```ts
 * import { UserAgent, Registerer } from "sip.js";
 * import { UdpTransport } from "sipwire/sip";
 *
 * const ua = new UserAgent({
 *   uri: UserAgent.makeURI("sip:bot@pbx.example.com"),
 *   authorizationUsername: "bot",
 *   authorizationPassword: "secret",
 *   transportConstructor: UdpTransport,
 *   transportOptions: { outboundProxy: "sip:pbx.example.com" }, // SRV _sip._udp, then A
 * });
 * await ua.start();
 * await new Registerer(ua).register();
 * ```
 */
export class UdpTransport extends SipSocketTransport {
  private readonly udpOptions: UdpTransportOptions;
  private socket: Socket | undefined;
  private reliability: SipReliability<SipPeer>;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  /** Public address the server reported (rport/received), if it differs from ours. */
  private natAddress: { host: string; port: number } | undefined;
  /** Where each server transaction's request came from (branch|method -> source). */
  private readonly requestSources = new Map<string, { peer: SipPeer; at: number }>();

  constructor(logger: Logger, options?: UdpTransportOptions) {
    super(logger, "udp", options);
    this.udpOptions = options ?? {};
    this.reliability = new SipReliability(options?.timers);
  }

  /** Retransmission and absorption counters (see {@link ReliabilityStats}). */
  get reliabilityStats(): ReliabilityStats {
    return { ...this.reliability.stats };
  }

  /** The bound local port, once connected. */
  get localPort(): number | undefined {
    return this.socket?.address().port;
  }

  protected async open(gen: number): Promise<void> {
    const { bindAddress, port } = this.baseOptions;
    const sock = createSocket({ type: isIP(bindAddress) === 6 ? "udp6" : "udp4", reuseAddr: false });
    this.socket = sock;
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => reject(new Error(`UDP bind to ${hostPort(bindAddress, port)} failed: ${errorText(e)}`, { cause: e }));
      sock.once("error", onError);
      sock.bind(port, bindAddress, () => {
        sock.off("error", onError);
        resolve();
      });
    });
    if (gen !== this.generation) return;
    sock.on("error", (e) => this.logger.error(`UDP socket error: ${errorText(e)}`));
    sock.on("message", (data, rinfo) => this.onDatagram(sock, data, { address: rinfo.address, port: rinfo.port }));
    this.advertised = await this.advertisedAddress(sock.address().port);
  }

  protected async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    this.reliability.clear();
    this.requestSources.clear();
    this.natAddress = undefined;
    const sock = this.socket;
    this.socket = undefined;
    if (!sock) return;
    await new Promise<void>((resolve) => {
      try {
        sock.close(() => resolve());
      } catch {
        resolve(); // not bound / already closed
      }
    });
  }

  protected async transmit(data: Buffer, info: SipMessageInfo): Promise<void> {
    if (data.length > MAX_DATAGRAM) {
      throw new Error(`UDPTransport: message of ${data.length} bytes does not fit a UDP datagram (SIP over TCP is needed)`);
    }
    let dest: SipPeer | undefined;
    if (info.kind === "response") {
      // RFC 3581: to the source of the request; else as the Via says.
      dest = this.requestSources.get(`${info.branch}|${info.cseqMethod}`)?.peer ?? this.responseTargetFromVia(data.toString("latin1"));
      if (!dest) throw new Error("UDPTransport: no address to send the response to (unusable Via)");
    } else {
      const targets = await this.requestTargets(info);
      dest = { address: targets[0].address, port: targets[0].port };
    }
    this.reliability.outgoing(info, data, dest, Date.now());
    this.schedule();
    await this.sendTo(data, dest);
  }

  protected contactHostPort(info: SipMessageInfo): string {
    // Not for REGISTER: a changed Contact would be a second binding next to the first one
    // (same path back, so every call would fork twice). Registrars handle NAT with
    // received/rport; the public address goes into dialogs, for peers that do not.
    if (this.natAddress && this.udpOptions.contactFromReceived !== false && info.method !== "REGISTER") {
      return hostPort(this.natAddress.host, this.natAddress.port);
    }
    return super.contactHostPort(info);
  }

  protected onResponseVia(via: ViaValue): void {
    const received = headerParam(via.params, "received");
    const rport = headerParam(via.params, "rport");
    const adv = this.advertised;
    if (!adv || this.baseOptions.advertisedAddress) return;
    const host = received || adv.host;
    const port = rport ? Number(rport) : adv.port;
    if (!(port > 0 && port < 65536)) return;
    if (host === adv.host && port === adv.port) return;
    if (this.natAddress?.host !== host || this.natAddress?.port !== port) {
      this.natAddress = { host, port };
      this.logger.log(`UDPTransport: server sees us at ${hostPort(host, port)}; using it in Contact`);
    }
  }

  private sendTo(data: Buffer, dest: SipPeer): Promise<void> {
    const sock = this.socket;
    if (!sock) return Promise.reject(new Error("UDPTransport: socket closed"));
    return new Promise((resolve, reject) => {
      sock.send(data as unknown as Uint8Array, dest.port, dest.address, (err) => {
        if (err) reject(new Error(`UDP send to ${hostPort(dest.address, dest.port)} failed: ${errorText(err)}`, { cause: err }));
        else resolve();
      });
    });
  }

  private sendAll(list: Transmit<SipPeer>[]): void {
    for (const t of list) this.sendTo(t.data, t.dest).catch((e: Error) => this.logger.warn(e.message));
  }

  private onDatagram(sock: Socket, data: Buffer, src: SipPeer): void {
    if (sock !== this.socket) return;
    const msg = frameDatagram(data);
    if (!msg) return; // keep-alive or malformed
    const text = msg.toString("utf8");
    const info = parseSipMessage(text);
    if (!info) {
      this.logger.warn(`UDPTransport: dropping non-SIP datagram from ${hostPort(src.address, src.port)}`);
      return;
    }
    const now = Date.now();
    const verdict = this.reliability.incoming(info, src, now);
    this.sendAll(verdict.send);
    this.schedule();
    if (!verdict.deliver) {
      this.logger.log(`UDPTransport: absorbed ${verdict.absorbed} (${info.method ?? info.status} ${info.cseqNum} ${info.cseqMethod})`);
      return;
    }
    if (info.kind === "request" && info.method !== "ACK") {
      this.requestSources.set(`${info.branch}|${info.method}`, { peer: src, at: now });
      // Bounded memory: forget sources older than a transaction can live (64*T1 + slack).
      if (this.requestSources.size > 64) {
        const horizon = now - 64 * this.reliability.timers.T1 - 60_000;
        for (const [k, v] of this.requestSources) if (v.at < horizon) this.requestSources.delete(k);
      }
    }
    this.deliver(text, info, src);
  }

  /** Arm one timer for the earliest retransmission or expiry. */
  private schedule(): void {
    const at = this.reliability.nextDeadline();
    if (at === undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Infinity;
      return;
    }
    if (this.timer && at >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      if (!this.socket) return;
      this.sendAll(this.reliability.poll(Date.now()));
      this.schedule();
    }, Math.max(0, at - Date.now()));
    // Pending bookkeeping must not keep the process alive by itself.
    this.timer.unref();
  }

  /** Via/Contact address: configured, the bound address, or the route's source address. */
  private async advertisedAddress(boundPort: number): Promise<{ host: string; port: number }> {
    const configured = this.baseOptions.advertisedAddress;
    if (configured) {
      const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(configured);
      if (!m) throw new Error(`UDPTransport: invalid advertisedAddress "${configured}"`);
      return { host: m[1].replace(/^\[|\]$/g, ""), port: m[2] ? Number(m[2]) : boundPort };
    }
    const bound = this.baseOptions.bindAddress;
    if (bound !== "0.0.0.0" && bound !== "::") return { host: bound, port: boundPort };
    const target = this.proxyAddresses?.[0];
    if (target) {
      // A connected UDP socket reveals which local address the kernel routes from; no packet is sent.
      const probe = createSocket(this.socketFamily() === 6 ? "udp6" : "udp4");
      try {
        const local = await new Promise<string>((resolve, reject) => {
          probe.once("error", reject);
          probe.connect(target.port, target.address, () => resolve(probe.address().address));
        });
        return { host: local, port: boundPort };
      } catch {
        /* fall through */
      } finally {
        probe.close();
      }
    }
    return { host: this.interfaceAddress(), port: boundPort };
  }
}
