/**
 * Conferences: N connections mixed in Rust on the 20 ms media clock. Each
 * participant hears every other one (scaled by its gain, unless muted) and
 * the announcements played to all, never itself; no sample passes through JS.
 * @packageDocumentation
 */
import native = require('./native');
import { callNative, SipwireError } from './errors';
import type { RTCPeerConnection } from './peer-connection';

/** Options of {@link Conference}. */
export interface ConferenceOptions {
  /** The rate everyone is mixed at. @defaultValue 16000 */
  sampleRate?: 8000 | 16000 | 48000;
}

/** Something that can join: a connection, or a `Call` from `sipwire/sip` (its `peerConnection`). */
export type ConferenceMember = RTCPeerConnection | { readonly peerConnection?: RTCPeerConnection };

/** One connection's seat in a {@link Conference}. */
export class Participant {
  readonly #conf: Conference;
  /** Seat id (unique in the process). */
  readonly id: number;
  /** The seated connection. */
  readonly peerConnection: RTCPeerConnection;
  constructor(conf: Conference, id: number, pc: RTCPeerConnection) {
    this.#conf = conf;
    this.id = id;
    this.peerConnection = pc;
  }
  /** Stop (or resume) mixing what this participant says into the others' audio; it still hears them. */
  mute(muted = true): void {
    this.#conf.native.setMuted(this.id, muted);
  }
  /** Scale what this participant says, 0 to 4 (1 = as received). */
  setGain(gain: number): void {
    if (!Number.isFinite(gain) || gain < 0 || gain > 4) throw new SipwireError('ERR_INVALID_ARG', `gain must be between 0 and 4, got ${gain}`);
    this.#conf.native.setGain(this.id, gain);
  }
  /** Level (RMS, 0..1) of the last 20 ms this participant sent; 0 once it left. */
  get level(): number {
    return this.#info()?.level ?? 0;
  }
  /** True while its level was above about -40 dBFS within the last 300 ms. */
  get speaking(): boolean {
    return this.#info()?.speaking ?? false;
  }
  /** True while muted. */
  get muted(): boolean {
    return this.#info()?.muted ?? false;
  }
  /** Still seated: not left, its connection not closed, the conference not closed. */
  get seated(): boolean {
    return this.#info() !== undefined;
  }
  /** Leave the conference: the connection falls back to its own sources (play, PCM, silence). */
  leave(): void {
    this.peerConnection.leaveConference(this.#conf.native, this.id);
  }
  #info() {
    return this.#conf.native.participants().find((p) => p.id === this.id);
  }
}

/**
 * A conference mixer. Connections on any I/O thread can join; a connection that closes leaves by
 * itself, and joining a conference leaves any bridge or other conference the connection was in.
 *
 * @example
 * ```ts
 * import { Conference, RTCPeerConnection, sineWave } from 'sipwire';
 * declare const a: RTCPeerConnection, b: RTCPeerConnection, c: RTCPeerConnection;
 * const room = new Conference();
 * const [pa] = [a, b, c].map((pc) => room.join(pc));
 * pa.mute();
 * room.playToAll(sineWave(440, 16000, 500), 16000);
 * console.log(room.speaking().map((p) => p.id));
 * room.close();
 * ```
 */
export class Conference {
  /** @internal */
  readonly native: InstanceType<typeof native.NativeConference>;
  #seats: Participant[] = [];
  #closed = false;

  constructor(options: ConferenceOptions = {}) {
    const rate = options.sampleRate ?? 16000;
    this.native = callNative(() => new native.NativeConference(rate));
  }

  /** Seat a connection (or a `Call`). It hears the others from its next 20 ms tick. */
  join(member: ConferenceMember): Participant {
    if (this.#closed) throw new SipwireError('ERR_CLOSED', 'the conference is closed');
    const pc = 'joinConference' in member ? member : member.peerConnection;
    if (!pc) throw new SipwireError('ERR_INVALID_STATE', 'the call has no media yet');
    const p = new Participant(this, pc.joinConference(this.native), pc);
    this.#seats = this.#seats.filter((s) => s.seated);
    this.#seats.push(p);
    return p;
  }

  /** Participants still seated. */
  get participants(): Participant[] {
    const ids = new Set(this.native.participants().map((p) => p.id));
    return (this.#seats = this.#seats.filter((s) => ids.has(s.id)));
  }

  /** Participants speaking now (level-based, with a 300 ms hangover). */
  speaking(): Participant[] {
    const ids = new Set(
      this.native
        .participants()
        .filter((p) => p.speaking)
        .map((p) => p.id),
    );
    return this.#seats.filter((s) => ids.has(s.id));
  }

  /** Play mono PCM to everyone (after what is still playing); resampled to the mixing rate. */
  playToAll(samples: Int16Array, sampleRate: 8000 | 16000 | 48000): void {
    if (this.#closed) throw new SipwireError('ERR_CLOSED', 'the conference is closed');
    callNative(() => this.native.announce(samples, sampleRate));
  }

  /** Ms of announcement still to play. */
  get announcementLeftMs(): number {
    return this.native.announcementLeftMs();
  }

  /** Cut the announcement short. */
  stopAnnouncement(): void {
    this.native.stopAnnouncement();
  }

  /** End the conference: every participant leaves on its next tick. Idempotent. */
  close(): void {
    this.#closed = true;
    this.native.close();
  }
}
