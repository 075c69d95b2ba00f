/**
 * RFC 3261 §17 reliability for SIP over UDP, as a small state machine with time passed in
 * (no timers, no sockets) so it is unit-tested without waiting.
 *
 * SIP.js 0.21 runs its transaction layer as if every transport were reliable: timers A, E and G
 * are FIXMEs and timers D, I, J and K are 0 (lib/core/timers.js), so its transactions vanish as
 * soon as they complete. Over UDP this module supplies what is missing, between SIP.js and the
 * socket:
 * - client INVITE (timer A): resend at T1, 2*T1, 4*T1... until any response or 64*T1 (timer B);
 * - client non-INVITE (timer E): resend at T1 doubling up to T2 until a final response, at T2
 *   once a provisional arrived, until 64*T1 (timer F);
 * - server INVITE non-2xx final (timer G): resend at T1 doubling up to T2 until the ACK, until
 *   64*T1 (timer H). 2xx responses are retransmitted by SIP.js' own dialog layer until the ACK
 *   (session-dialog.js `start2xxRetransmissionTimer`, RFC 6026), so they are not doubled here;
 * - retransmitted requests are absorbed: the last response is sent again (non-INVITE: for
 *   64*T1, timer J; INVITE: while provisional or non-2xx), never handed to SIP.js twice;
 * - duplicate responses are absorbed; a duplicate non-2xx final response to an INVITE gets the
 *   ACK again (timer D's job). Duplicate 2xx responses to an INVITE go to SIP.js, whose
 *   transaction (Accepted state, timer M) re-sends the ACK for them.
 */
import type { SipMessageInfo } from "./sip-message";

/** RFC 3261 timer base values in milliseconds. */
export interface SipTimerValues {
  /** RTT estimate. Default 500. */
  T1: number;
  /** Longest retransmit interval for non-INVITE requests and INVITE responses. Default 4000. */
  T2: number;
  /** Longest time a message stays in the network. Default 5000. */
  T4: number;
}

export const DEFAULT_SIP_TIMERS: SipTimerValues = { T1: 500, T2: 4000, T4: 5000 };

/** Something to put on the wire. */
export interface Transmit<D> {
  data: Buffer;
  dest: D;
}

/** What to do with a received message. */
export interface IncomingVerdict<D> {
  /** Hand the message to SIP.js. */
  deliver: boolean;
  /** Send these now (a response again for a retransmitted request, an ACK again...). */
  send: Transmit<D>[];
  /** Why a message was absorbed, for logs and tests. */
  absorbed?: "retransmitted-request" | "duplicate-response" | "duplicate-ack";
}

interface Retransmission<D> {
  data: Buffer;
  dest: D;
  /** Current interval and next due time (ms). */
  interval: number;
  next: number;
  /** No retransmission at or after this time. */
  stopAt: number;
  /** Interval cap: Infinity for timer A, T2 otherwise. */
  cap: number;
  count: number;
}

interface ClientTx<D> {
  invite: boolean;
  retx?: Retransmission<D>;
  /** Responses already seen: status|to-tag|rseq. */
  seen: Set<string>;
  /** ACK sent for a non-2xx final response (same branch). */
  ack?: Transmit<D>;
  expires: number;
}

interface ServerTx<D> {
  invite: boolean;
  src: D;
  last?: Transmit<D> & { status: number };
  retx?: Retransmission<D>;
  acked: boolean;
  expires: number;
}

/** Counters, for tests and debugging. */
export interface ReliabilityStats {
  retransmittedRequests: number;
  retransmittedResponses: number;
  absorbedRequests: number;
  absorbedResponses: number;
  resentResponses: number;
  resentAcks: number;
}

function txKey(info: SipMessageInfo, method: string): string {
  // RFC 3261 §17.2.3: branch + sent-by + method identify a transaction; RFC 2543 peers without
  // the magic cookie fall back to Call-ID and CSeq.
  if (info.branch.startsWith("z9hG4bK")) return `${info.branch}|${info.sentBy}|${method}`;
  return `2543|${info.callId}|${info.cseqNum}|${info.sentBy}|${method}`;
}

/**
 * The reliability layer for one UDP socket. `D` is the address type (opaque here).
 *
 * @example
 * ```ts
 * const rel = new SipReliability<Addr>();
 * rel.outgoing(info, bytes, dest, Date.now());          // everything SIP.js sends
 * const v = rel.incoming(info, src, Date.now());         // everything the socket receives
 * for (const t of v.send) socket.send(t.data, t.dest);
 * if (v.deliver) transport.onMessage?.(text);
 * for (const t of rel.poll(Date.now())) socket.send(t.data, t.dest); // at rel.nextDeadline()
 * ```
 */
export class SipReliability<D> {
  readonly timers: SipTimerValues;
  readonly stats: ReliabilityStats = {
    retransmittedRequests: 0,
    retransmittedResponses: 0,
    absorbedRequests: 0,
    absorbedResponses: 0,
    resentResponses: 0,
    resentAcks: 0,
  };
  private readonly clients = new Map<string, ClientTx<D>>();
  private readonly servers = new Map<string, ServerTx<D>>();
  /** ACKs for 2xx responses (own branch each), to absorb their retransmissions. */
  private readonly acks = new Map<string, number>();

  constructor(timers: Partial<SipTimerValues> = {}) {
    this.timers = { ...DEFAULT_SIP_TIMERS, ...timers };
    for (const k of ["T1", "T2", "T4"] as const) {
      const v = this.timers[k];
      if (!(typeof v === "number" && v > 0 && Number.isFinite(v))) throw new Error(`SIP timer ${k} must be a positive number of ms, got ${v}`);
    }
  }

  /** Transactions held (for leak checks). */
  get size(): number {
    return this.clients.size + this.servers.size + this.acks.size;
  }

  /** Record a message SIP.js sent; starts timers A/E/G as the message calls for. */
  outgoing(info: SipMessageInfo, data: Buffer, dest: D, now: number): void {
    this.sweep(now);
    const { T1, T2 } = this.timers;
    if (info.kind === "request") {
      const method = info.method ?? "";
      if (method === "ACK") {
        const inviteTx = this.clients.get(txKey(info, "INVITE"));
        // Same branch as the INVITE: the ACK of a non-2xx final (RFC 3261 §17.1.1.3).
        if (inviteTx) inviteTx.ack = { data, dest };
        return;
      }
      const invite = method === "INVITE";
      const key = txKey(info, method);
      const existing = this.clients.get(key);
      if (existing) return; // the TU passed the same request again: our timer already runs
      this.clients.set(key, {
        invite,
        seen: new Set(),
        retx: { data, dest, interval: T1, next: now + T1, stopAt: now + 64 * T1, cap: invite ? Infinity : T2, count: 0 },
        expires: now + 64 * T1 + this.timers.T4,
      });
      return;
    }
    // A response: find the server transaction of the request it answers.
    const tx = this.servers.get(txKey(info, info.cseqMethod));
    if (!tx) return;
    const status = info.status ?? 0;
    tx.last = { data, dest, status };
    // Keep absorbing retransmissions for 64*T1 after the latest response (timers H and J).
    tx.expires = Math.max(tx.expires, now + 64 * T1);
    if (status < 200) return;
    if (tx.invite && status >= 300 && !tx.acked && !tx.retx) {
      tx.retx = { data, dest, interval: T1, next: now + T1, stopAt: now + 64 * T1, cap: T2, count: 0 };
    }
  }

  /** Classify a received message; see {@link IncomingVerdict}. */
  incoming(info: SipMessageInfo, src: D, now: number): IncomingVerdict<D> {
    this.sweep(now);
    const { T1, T2 } = this.timers;
    if (info.kind === "request") {
      const method = info.method ?? "";
      if (method === "ACK") {
        const inviteTx = this.servers.get(txKey(info, "INVITE"));
        if (inviteTx && inviteTx.last && inviteTx.last.status >= 300) {
          // ACK of our non-2xx final: stops timer G (RFC 3261 §17.2.1, Confirmed).
          inviteTx.retx = undefined;
          if (inviteTx.acked) return this.absorbRequest("duplicate-ack");
          inviteTx.acked = true;
          return { deliver: true, send: [] };
        }
        const key = txKey(info, "ACK");
        if (this.acks.has(key)) return this.absorbRequest("duplicate-ack");
        this.acks.set(key, now + 64 * T1);
        return { deliver: true, send: [] };
      }
      const key = txKey(info, method);
      const tx = this.servers.get(key);
      if (tx) {
        // A retransmission (RFC 3261 §17.2): answer with the last response, if any, except a
        // 2xx to INVITE whose retransmission belongs to the dialog layer (RFC 6026 §7.1).
        const send: Transmit<D>[] = [];
        if (tx.last && !(tx.invite && tx.last.status >= 200 && tx.last.status < 300)) {
          send.push({ data: tx.last.data, dest: tx.last.dest });
          this.stats.resentResponses++;
        }
        return this.absorbRequest("retransmitted-request", send);
      }
      this.servers.set(key, { invite: method === "INVITE", src, acked: false, expires: now + 64 * T1 + this.timers.T4 });
      return { deliver: true, send: [] };
    }

    const tx = this.clients.get(txKey(info, info.cseqMethod));
    if (!tx) return { deliver: true, send: [] }; // not ours or long gone: SIP.js decides
    const status = info.status ?? 0;
    const id = `${status}|${info.toTag}|${info.rseq}`;
    const duplicate = tx.seen.has(id);
    tx.seen.add(id);
    if (tx.retx) {
      if (tx.invite || status >= 200) tx.retx = undefined;
      // Non-INVITE Proceeding: keep resending; when timer E next fires it is reset to T2
      // (RFC 3261 §17.1.2.2).
      else tx.retx.cap = tx.retx.interval = T2;
    }
    tx.expires = Math.max(tx.expires, now + 64 * T1);
    if (!duplicate) return { deliver: true, send: [] };
    if (tx.invite && status >= 200 && status < 300) return { deliver: true, send: [] }; // SIP.js re-ACKs
    const send: Transmit<D>[] = [];
    if (tx.invite && status >= 300 && tx.ack) {
      send.push(tx.ack);
      this.stats.resentAcks++;
    }
    this.stats.absorbedResponses++;
    return { deliver: false, send, absorbed: "duplicate-response" };
  }

  /** Retransmissions due at `now`; call at {@link nextDeadline}. */
  poll(now: number): Transmit<D>[] {
    const out: Transmit<D>[] = [];
    const step = (r: Retransmission<D> | undefined): Retransmission<D> | undefined => {
      if (!r) return undefined;
      if (now >= r.stopAt) return undefined;
      if (r.next > now) return r;
      out.push({ data: r.data, dest: r.dest });
      r.count++;
      r.interval = Math.min(r.interval * 2, r.cap);
      r.next = now + r.interval;
      return r.next >= r.stopAt ? undefined : r;
    };
    for (const tx of this.clients.values()) {
      const before = out.length;
      tx.retx = step(tx.retx);
      this.stats.retransmittedRequests += out.length - before;
    }
    for (const tx of this.servers.values()) {
      const before = out.length;
      tx.retx = step(tx.retx);
      this.stats.retransmittedResponses += out.length - before;
    }
    this.sweep(now);
    return out;
  }

  /** When {@link poll} next has work (a retransmission or state to forget), or undefined. */
  nextDeadline(): number | undefined {
    let t = Infinity;
    for (const tx of this.clients.values()) t = Math.min(t, tx.retx ? tx.retx.next : tx.expires);
    for (const tx of this.servers.values()) t = Math.min(t, tx.retx ? tx.retx.next : tx.expires);
    for (const exp of this.acks.values()) t = Math.min(t, exp);
    return t === Infinity ? undefined : t;
  }

  /** Forget everything (socket closed). */
  clear(): void {
    this.clients.clear();
    this.servers.clear();
    this.acks.clear();
  }

  private absorbRequest(why: "retransmitted-request" | "duplicate-ack", send: Transmit<D>[] = []): IncomingVerdict<D> {
    this.stats.absorbedRequests++;
    return { deliver: false, send, absorbed: why };
  }

  private sweep(now: number): void {
    for (const [k, tx] of this.clients) if (!tx.retx && tx.expires <= now) this.clients.delete(k);
    for (const [k, tx] of this.servers) if (!tx.retx && tx.expires <= now) this.servers.delete(k);
    for (const [k, exp] of this.acks) if (exp <= now) this.acks.delete(k);
  }
}
