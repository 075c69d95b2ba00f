/**
 * Message framing for SIP over stream transports (TCP, TLS): RFC 3261 §18.3. A stream carries
 * messages back to back; each head ends with an empty line and Content-Length (mandatory on
 * streams) says how many body octets follow. Reads may split a message anywhere, even inside a
 * multi-byte UTF-8 character, or carry several messages; the framer buffers bytes, not text.
 * CRLF keep-alives between messages (RFC 5626 §3.5.1) are reported separately so the transport
 * can answer a double-CRLF ping with a single-CRLF pong.
 */

/** Why a stream cannot be framed any further; the connection must be closed. */
export class SipFramingError extends Error {
  readonly code: "ERR_SIP_HEAD_TOO_LARGE" | "ERR_SIP_BODY_TOO_LARGE" | "ERR_SIP_BAD_CONTENT_LENGTH";
  constructor(code: SipFramingError["code"], message: string) {
    super(message);
    this.name = "SipFramingError";
    this.code = code;
  }
}

export interface StreamFramerOptions {
  /** Largest head (start line + headers) accepted, in bytes. Default 64 KiB. */
  maxHeadBytes?: number;
  /** Largest body accepted, in bytes. Default 1 MiB. */
  maxBodyBytes?: number;
}

/** One unit out of the stream. */
export type FramedItem = { type: "message"; data: Buffer } | { type: "ping" };

const CRLFCRLF = "\r\n\r\n";

// @types/node 20.9 and TS 5.9 disagree on Buffer vs Uint8Array<ArrayBuffer>; keep the casts here.
function concat(list: Buffer[]): Buffer {
  return Buffer.concat(list as unknown as Uint8Array[]);
}

/** Content-Length of a head, or undefined when the header is absent. Throws on a bad value. */
function contentLength(head: string): number | undefined {
  const re = /(?:^|\r?\n)(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)/gi;
  let value: number | undefined;
  for (let m = re.exec(head); m; m = re.exec(head)) {
    const raw = m[1].trim();
    if (!/^\d{1,10}$/.test(raw)) {
      throw new SipFramingError("ERR_SIP_BAD_CONTENT_LENGTH", `invalid Content-Length "${raw}"`);
    }
    const n = Number(raw);
    if (value !== undefined && value !== n) {
      throw new SipFramingError("ERR_SIP_BAD_CONTENT_LENGTH", "conflicting Content-Length headers");
    }
    value = n;
  }
  return value;
}

/**
 * Incremental framer: `push()` each chunk read from the socket and handle the items it
 * returns, in order. After a {@link SipFramingError} the framer is unusable (the stream's
 * framing is lost; RFC 3261 §18.3 says to close the connection).
 */
export class StreamFramer {
  private buf: Buffer = Buffer.alloc(0);
  private readonly maxHead: number;
  private readonly maxBody: number;
  private failed: SipFramingError | undefined;

  constructor(options: StreamFramerOptions = {}) {
    this.maxHead = options.maxHeadBytes ?? 64 * 1024;
    this.maxBody = options.maxBodyBytes ?? 1024 * 1024;
  }

  /** Bytes held waiting for the rest of a message. */
  get buffered(): number {
    return this.buf.length;
  }

  push(chunk: Buffer): FramedItem[] {
    if (this.failed) throw this.failed;
    this.buf = this.buf.length ? concat([this.buf, chunk]) : chunk;
    const out: FramedItem[] = [];
    try {
      for (;;) {
        // Keep-alives: "\r\n\r\n" read in one piece is a ping to answer with "\r\n" (RFC 5626
        // §3.5.1); other CRLFs before a start line (pongs, split pings) are ignored (RFC 3261 §7.5).
        let skip = 0;
        while (skip + 1 < this.buf.length && this.buf[skip] === 0x0d && this.buf[skip + 1] === 0x0a) skip += 2;
        if (skip > 0) {
          if (skip >= 4) out.push({ type: "ping" });
          this.buf = this.buf.subarray(skip);
        }
        if (this.buf.length === 0) break;
        if (this.buf.length === 1 && this.buf[0] === 0x0d) break; // half a CRLF
        const end = this.buf.indexOf(CRLFCRLF);
        if (end < 0) {
          if (this.buf.length > this.maxHead) {
            throw new SipFramingError("ERR_SIP_HEAD_TOO_LARGE", `SIP head exceeds ${this.maxHead} bytes`);
          }
          break;
        }
        if (end + 4 > this.maxHead) {
          throw new SipFramingError("ERR_SIP_HEAD_TOO_LARGE", `SIP head exceeds ${this.maxHead} bytes`);
        }
        const head = this.buf.subarray(0, end + 4).toString("latin1");
        // Content-Length is mandatory on streams; without it there is no safe framing, but an
        // absent header on a body-less message (common in keep-alive-ish OPTIONS) reads as 0.
        const len = contentLength(head) ?? 0;
        if (len > this.maxBody) {
          throw new SipFramingError("ERR_SIP_BODY_TOO_LARGE", `SIP body of ${len} bytes exceeds ${this.maxBody}`);
        }
        const total = end + 4 + len;
        if (this.buf.length < total) break;
        // Copy: the caller may keep the message while we keep reading into later chunks.
        out.push({ type: "message", data: concat([this.buf.subarray(0, total)]) });
        this.buf = this.buf.subarray(total);
      }
    } catch (e) {
      if (e instanceof SipFramingError) {
        this.failed = e;
        this.buf = Buffer.alloc(0);
      }
      throw e;
    }
    if (this.buf.length === 0) this.buf = Buffer.alloc(0);
    return out;
  }
}

/**
 * A datagram holds exactly one message (RFC 3261 §18.3): the body is cut to Content-Length;
 * a body shorter than Content-Length makes the message invalid (undefined is returned).
 * Whitespace-only datagrams are keep-alives and also return undefined.
 */
export function frameDatagram(data: Buffer): Buffer | undefined {
  let start = 0;
  while (start < data.length && (data[start] === 0x0d || data[start] === 0x0a)) start++;
  if (start === data.length) return undefined;
  const end = data.indexOf(CRLFCRLF, start);
  if (end < 0) return undefined;
  const head = data.subarray(start, end + 4).toString("latin1");
  let len: number | undefined;
  try {
    len = contentLength(head);
  } catch {
    return undefined;
  }
  const bodyAvail = data.length - (end + 4);
  if (len === undefined) return data.subarray(start); // datagrams may omit it: the rest is body
  if (bodyAvail < len) return undefined;
  return data.subarray(start, end + 4 + len);
}
