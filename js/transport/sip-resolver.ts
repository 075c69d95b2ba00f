/**
 * RFC 3263 server location for a fixed transport: from a SIP URI to an ordered list of
 * addresses. NAPTR is skipped because the transport is already chosen by the caller
 * (RFC 3263 §4.1 allows that when the client supports a single transport):
 * - host is an IP literal: that address, the URI's port or the default (5060, 5061 for TLS);
 * - a port is given: A/AAAA of the host (§4.2);
 * - otherwise SRV `_sip._udp`, `_sip._tcp` or `_sips._tcp` of the host, ordered by priority and
 *   by RFC 2782 weighted choice, each target resolved to A/AAAA; no SRV records: A/AAAA of
 *   the host with the default port.
 *
 * The DNS client is injectable ({@link SipResolver}), so tests pass a plain object.
 */
import { promises as dnsPromises } from "node:dns";
import { isIP } from "node:net";
import { parseSipTarget } from "./sip-message";

/** The SRV record shape of `node:dns`. */
export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/**
 * What the transports need from DNS. `node:dns`'s `promises` namespace and its `Resolver`
 * both fit; so does a test double.
 */
export interface SipResolver {
  resolveSrv(name: string): Promise<SrvRecord[]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
}

/** One place to send to. */
export interface SipAddress {
  address: string;
  port: number;
  family: 4 | 6;
  /** The name certificate checks use for TLS: the URI host (RFC 5922 §4). */
  hostname: string;
}

export type SipTransportName = "udp" | "tcp" | "tls";

/**
 * Default resolver: `node:dns` for SRV; for A/AAAA the system resolver (`dns.lookup`, which
 * honours /etc/hosts, so `localhost` works) when the DNS query fails.
 */
export const systemSipResolver: SipResolver = {
  resolveSrv: (name) => dnsPromises.resolveSrv(name),
  resolve4: async (name) => {
    try {
      return await dnsPromises.resolve4(name);
    } catch {
      return (await dnsPromises.lookup(name, { family: 4, all: true })).map((a) => a.address);
    }
  },
  resolve6: async (name) => {
    try {
      return await dnsPromises.resolve6(name);
    } catch {
      return (await dnsPromises.lookup(name, { family: 6, all: true })).map((a) => a.address);
    }
  },
};

export function defaultPort(transport: SipTransportName): number {
  return transport === "tls" ? 5061 : 5060;
}

function srvName(host: string, transport: SipTransportName): string {
  return transport === "tls" ? `_sips._tcp.${host}` : `_sip._${transport}.${host}`;
}

/** RFC 2782 order: ascending priority; within one priority, weighted random choice. */
export function orderSrv(records: SrvRecord[], random: () => number = Math.random): SrvRecord[] {
  const byPrio = new Map<number, SrvRecord[]>();
  for (const r of records) {
    // "." as target means the service is decidedly not available (RFC 2782).
    if (r.name === "." || r.name === "") continue;
    const list = byPrio.get(r.priority) ?? [];
    list.push(r);
    byPrio.set(r.priority, list);
  }
  const out: SrvRecord[] = [];
  for (const prio of [...byPrio.keys()].sort((a, b) => a - b)) {
    // Zero-weight records first, as RFC 2782 suggests, so they get a small chance.
    const pool = (byPrio.get(prio) ?? []).sort((a, b) => a.weight - b.weight);
    while (pool.length) {
      const total = pool.reduce((s, r) => s + r.weight, 0);
      let pick = 0;
      if (total > 0) {
        const x = random() * total;
        let acc = 0;
        pick = pool.findIndex((r) => (acc += r.weight) > x);
        if (pick < 0) pick = pool.length - 1;
      }
      out.push(pool.splice(pick, 1)[0]);
    }
  }
  return out;
}

async function addressesOf(resolver: SipResolver, host: string, families: "any" | 4 | 6): Promise<{ address: string; family: 4 | 6 }[]> {
  const out: { address: string; family: 4 | 6 }[] = [];
  const errors: unknown[] = [];
  if (families !== 6) {
    try {
      for (const a of await resolver.resolve4(host)) out.push({ address: a, family: 4 });
    } catch (e) {
      errors.push(e);
    }
  }
  if (families !== 4) {
    try {
      for (const a of await resolver.resolve6(host)) out.push({ address: a, family: 6 });
    } catch (e) {
      errors.push(e);
    }
  }
  if (!out.length && errors.length) throw errors[0];
  return out;
}

export interface ResolveOptions {
  resolver?: SipResolver;
  /** Only IPv4 or IPv6 results (the socket's family). Default: both, IPv4 first. */
  family?: 4 | 6;
  /** Randomness for SRV weights (tests pass a fixed one). */
  random?: () => number;
}

/**
 * Resolve a SIP URI (or `host[:port]`) for one transport. Rejects with a message naming the
 * URI when nothing resolves.
 *
 * @example
 * ```ts
 * const addrs = await resolveSipUri("sip:example.com", "udp"); // SRV _sip._udp.example.com, then A/AAAA
 * ```
 */
export async function resolveSipUri(uri: string, transport: SipTransportName, options: ResolveOptions = {}): Promise<SipAddress[]> {
  const resolver = options.resolver ?? systemSipResolver;
  const families = options.family ?? "any";
  const target = parseSipTarget(uri);
  const host = target.maddr ?? target.host;
  const hostname = target.host;
  const fam = isIP(host);
  if (fam === 4 || fam === 6) {
    if (options.family && fam !== options.family) throw new Error(`${uri}: IPv${fam} address on an IPv${options.family} socket`);
    return [{ address: host, port: target.port ?? defaultPort(transport), family: fam, hostname }];
  }
  const fail = (why: unknown) =>
    new Error(`cannot resolve ${uri} for SIP over ${transport.toUpperCase()}: ${why instanceof Error ? why.message : String(why)}`, { cause: why });
  if (target.port !== undefined) {
    try {
      const addrs = await addressesOf(resolver, host, families);
      if (!addrs.length) throw new Error(`no A/AAAA records for ${host}`);
      return addrs.map((a) => ({ ...a, port: target.port as number, hostname }));
    } catch (e) {
      throw fail(e);
    }
  }
  let srv: SrvRecord[] = [];
  let raw: SrvRecord[] = [];
  try {
    raw = await resolver.resolveSrv(srvName(host, transport));
  } catch {
    raw = []; // no SRV: fall back to A/AAAA (RFC 3263 §4.2)
  }
  srv = orderSrv(raw, options.random);
  if (raw.length && !srv.length) throw fail(new Error(`${srvName(host, transport)} says the service is not available (target ".")`));
  const out: SipAddress[] = [];
  let lastError: unknown;
  for (const r of srv) {
    try {
      for (const a of await addressesOf(resolver, r.name, families)) out.push({ ...a, port: r.port, hostname });
    } catch (e) {
      lastError = e;
    }
  }
  if (out.length) return out;
  if (srv.length) throw fail(lastError ?? new Error("SRV targets have no addresses"));
  try {
    const addrs = await addressesOf(resolver, host, families);
    if (!addrs.length) throw new Error(`no SRV or A/AAAA records for ${host}`);
    return addrs.map((a) => ({ ...a, port: defaultPort(transport), hostname }));
  } catch (e) {
    throw fail(e);
  }
}
