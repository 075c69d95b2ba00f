/**
 * Just enough SIP message parsing for a transport: the start line, the handful of headers that
 * identify a transaction (top Via branch, CSeq, Call-ID, To tag, RSeq), and in-place rewriting
 * of the top Via and of Contact URIs. SIP.js does the full parse; this only reads what RFC 3261
 * §17/§18 need below it. Works on text whose head ends with an empty line; tolerant of compact
 * header names (RFC 3261 §7.3.3) and folded lines.
 */

/** Compact header forms (RFC 3261 §7.3.3 and later RFCs) mapped to their long names. */
const COMPACT: Record<string, string> = {
  v: "via",
  i: "call-id",
  l: "content-length",
  m: "contact",
  f: "from",
  t: "to",
  c: "content-type",
  k: "supported",
  e: "content-encoding",
  s: "subject",
  o: "event",
  r: "refer-to",
  u: "allow-events",
  x: "session-expires",
};

/** Canonical lower-case header name. */
export function canonicalHeaderName(name: string): string {
  const n = name.trim().toLowerCase();
  return COMPACT[n] ?? n;
}

/** What a transport needs to know about one SIP message. */
export interface SipMessageInfo {
  /** Request line or status line. */
  kind: "request" | "response";
  /** Request method (requests only). */
  method?: string;
  /** Request-URI (requests only). */
  requestUri?: string;
  /** Status code (responses only). */
  status?: number;
  /** Top Via's `branch` parameter; "" when absent. */
  branch: string;
  /** Top Via's sent-by ("host[:port]"); "" when absent. */
  sentBy: string;
  /** CSeq number and method ("" / NaN when absent or malformed). */
  cseqNum: number;
  cseqMethod: string;
  callId: string;
  /** The To tag; "" when absent. */
  toTag: string;
  /** RSeq of a reliable provisional response (RFC 3262); "" when absent. */
  rseq: string;
  /** The first Route header's first URI, if any (without angle brackets). */
  route?: string;
}

/** A header line of the head, unfolded. */
interface HeaderLine {
  name: string;
  value: string;
}

/** Offset just past the empty line ending the head, or -1 if the head is incomplete. */
export function headEnd(text: string): number {
  const crlf = text.indexOf("\r\n\r\n");
  if (crlf >= 0) return crlf + 4;
  // Tolerate bare-LF messages (RFC 3261 §7: implementations should accept LF line ends).
  const lf = text.indexOf("\n\n");
  return lf >= 0 ? lf + 2 : -1;
}

function splitHead(head: string): { start: string; headers: HeaderLine[] } {
  const lines = head.split(/\r?\n/);
  // Leading CRLFs before a message are allowed on streams (RFC 3261 §7.5).
  while (lines.length && lines[0] === "") lines.shift();
  const start = lines.shift() ?? "";
  const headers: HeaderLine[] = [];
  for (const line of lines) {
    if (line === "") break;
    if ((line[0] === " " || line[0] === "\t") && headers.length) {
      headers[headers.length - 1].value += " " + line.trim();
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    headers.push({ name: canonicalHeaderName(line.slice(0, colon)), value: line.slice(colon + 1).trim() });
  }
  return { start, headers };
}

/** Split a header value at commas that are outside quotes and angle brackets. */
export function splitHeaderValues(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = "";
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (quoted) {
      if (ch === "\\" && i + 1 < value.length) {
        cur += ch + value[++i];
        continue;
      }
      if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === "<") depth++;
    else if (ch === ">") depth = Math.max(0, depth - 1);
    else if (ch === "," && depth === 0) {
      out.push(cur.trim());
      cur = "";
      continue;
    }
    cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** `;name=value` parameters of a header value (case-insensitive names). */
export function headerParam(value: string, name: string): string | undefined {
  const re = new RegExp(`;\\s*${name}\\s*(?:=\\s*("[^"]*"|[^;,\\s>]*))?`, "i");
  const m = re.exec(value);
  if (!m) return undefined;
  return (m[1] ?? "").replace(/^"|"$/g, "");
}

/** A parsed Via value: `SIP/2.0/UDP host:port;params`. */
export interface ViaValue {
  protocol: string;
  host: string;
  port?: number;
  /** Raw parameter string including leading ';' (may be ""). */
  params: string;
}

export function parseVia(value: string): ViaValue | undefined {
  const m = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z0-9-]+)\s+(\[[^\]]+\]|[^\s;:]+)(?:\s*:\s*(\d+))?\s*(;.*)?$/i.exec(value.trim());
  if (!m) return undefined;
  return { protocol: m[1].toUpperCase(), host: m[2], port: m[3] ? Number(m[3]) : undefined, params: m[4] ?? "" };
}

export function formatVia(v: ViaValue): string {
  // IPv6 references are bracketed in sent-by (RFC 3261 §25.1, RFC 5118 §4.5).
  const host = v.host.includes(":") && !v.host.startsWith("[") ? `[${v.host}]` : v.host;
  return `SIP/2.0/${v.protocol} ${host}${v.port !== undefined ? `:${v.port}` : ""}${v.params}`;
}

/** Parse the head of a SIP message; undefined if the start line is not SIP. */
export function parseSipMessage(text: string): SipMessageInfo | undefined {
  const end = headEnd(text);
  const { start, headers } = splitHead(end >= 0 ? text.slice(0, end) : text);
  let info: SipMessageInfo;
  const status = /^SIP\/2\.0\s+(\d{3})(?:\s|$)/i.exec(start);
  const common = { branch: "", sentBy: "", cseqNum: NaN, cseqMethod: "", callId: "", toTag: "", rseq: "" };
  if (status) {
    info = { kind: "response", status: Number(status[1]), ...common };
  } else {
    const req = /^([A-Za-z][A-Za-z0-9.!%*_+`'~-]*)\s+(\S+)\s+SIP\/2\.0\s*$/i.exec(start);
    if (!req) return undefined;
    info = { kind: "request", method: req[1].toUpperCase(), requestUri: req[2], ...common };
  }
  for (const h of headers) {
    switch (h.name) {
      case "via":
        if (!info.sentBy) {
          const v = parseVia(splitHeaderValues(h.value)[0] ?? "");
          if (v) {
            info.sentBy = `${v.host}${v.port !== undefined ? `:${v.port}` : ""}`;
            info.branch = headerParam(v.params, "branch") ?? "";
          }
        }
        break;
      case "cseq": {
        const m = /^(\d+)\s+(\S+)/.exec(h.value);
        if (m) {
          info.cseqNum = Number(m[1]);
          info.cseqMethod = m[2].toUpperCase();
        }
        break;
      }
      case "call-id":
        info.callId = h.value;
        break;
      case "to": {
        // The tag is a header parameter: after the closing '>' when the URI is bracketed.
        const gt = h.value.lastIndexOf(">");
        info.toTag = headerParam(gt >= 0 ? h.value.slice(gt + 1) : h.value, "tag") ?? "";
        break;
      }
      case "rseq":
        info.rseq = h.value;
        break;
      case "route":
        if (info.route === undefined) {
          const first = splitHeaderValues(h.value)[0] ?? "";
          const m = /<([^>]*)>/.exec(first);
          info.route = m ? m[1] : first.split(";")[0];
        }
        break;
    }
  }
  return info;
}

/**
 * Replace the first Via header value of `text` with `fn(old)`. Returns `text` unchanged when
 * there is no parseable Via. Only the head is touched.
 */
export function rewriteTopVia(text: string, fn: (via: ViaValue) => ViaValue): string {
  const end = headEnd(text);
  if (end < 0) return text;
  const head = text.slice(0, end);
  const re = /(^|\r?\n)(via|v)[ \t]*:[ \t]*([^\r\n]*)/i;
  const m = re.exec(head);
  if (!m) return text;
  const values = splitHeaderValues(m[3]);
  const via = parseVia(values[0] ?? "");
  if (!via) return text;
  values[0] = formatVia(fn(via));
  const start = m.index + m[1].length;
  const line = `${m[2]}: ${values.join(", ")}`;
  return head.slice(0, start) + line + head.slice(m.index + m[0].length) + text.slice(end);
}

/** Set or replace a `;name=value` (or bare `;name` when value is undefined) parameter. */
export function setParam(params: string, name: string, value: string | undefined): string {
  const re = new RegExp(`;\\s*${name}(\\s*=\\s*[^;]*)?(?=;|$)`, "i");
  const p = value === undefined ? `;${name}` : `;${name}=${value}`;
  return re.test(params) ? params.replace(re, p) : params + p;
}

/**
 * Rewrite the host, port and `transport` parameter of every bracketed Contact URI whose host
 * satisfies `ours` (RFC 3261 §8.1.1.8: the Contact must be where this UA can be reached).
 */
export function rewriteContacts(
  text: string,
  ours: (host: string) => boolean,
  hostPort: string,
  transport: string
): string {
  const end = headEnd(text);
  if (end < 0) return text;
  const head = text.slice(0, end);
  const out = head.replace(/(^|\r?\n)(contact|m)([ \t]*:[ \t]*)([^\r\n]*)/gi, (_all, nl: string, name: string, sep: string, value: string) => {
    const rewritten = value.replace(
      /<(sips?):([^@>;]*@)?(\[[^\]]+\]|[^:;>?]+)(:\d+)?([^>]*)>/gi,
      (whole, scheme: string, user: string | undefined, host: string, _port: string | undefined, rest: string) => {
        if (!ours(host)) return whole;
        // URI params run up to '?', headers after it.
        const q = rest.indexOf("?");
        const params = q >= 0 ? rest.slice(0, q) : rest;
        const headers = q >= 0 ? rest.slice(q) : "";
        return `<${scheme}:${user ?? ""}${hostPort}${setParam(params, "transport", transport)}${headers}>`;
      }
    );
    return `${nl}${name}${sep}${rewritten}`;
  });
  return out + text.slice(end);
}

/** Host and optional port of a SIP URI or `host[:port]`; `transport` param lower-cased. */
export interface SipTarget {
  host: string;
  port?: number;
  secure: boolean;
  transport?: string;
  /** The URI's `maddr` parameter, which overrides the host for sending (RFC 3261 §19.1.1). */
  maddr?: string;
}

/** Parse `sip:user@host:port;params`, `sips:...` or a bare `host[:port]`. */
export function parseSipTarget(uri: string): SipTarget {
  let s = uri.trim();
  const ab = /<([^>]*)>/.exec(s);
  if (ab) s = ab[1];
  let secure = false;
  const scheme = /^(sips?):/i.exec(s);
  if (scheme) {
    secure = scheme[1].toLowerCase() === "sips";
    s = s.slice(scheme[0].length);
  }
  const at = s.lastIndexOf("@", s.search(/[;?]|$/));
  if (at >= 0) s = s.slice(at + 1);
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:;?\s]+)(?::(\d+))?(.*)$/.exec(s);
  if (!m || !m[1]) throw new Error(`invalid SIP URI or host "${uri}"`);
  const port = m[2] !== undefined ? Number(m[2]) : undefined;
  if (port !== undefined && !(port > 0 && port < 65536)) throw new Error(`invalid port in "${uri}"`);
  const params = m[3] ?? "";
  const transport = headerParam(params.split("?")[0], "transport")?.toLowerCase();
  const maddr = headerParam(params.split("?")[0], "maddr");
  return { host: m[1].replace(/^\[|\]$/g, ""), port, secure, transport: transport || undefined, maddr: maddr || undefined };
}
