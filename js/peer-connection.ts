/**
 * `RTCPeerConnection` for Node: W3C names and events over sipwire's Rust core,
 * plus the audio API a bot needs (play, record, PCM in/out, DTMF, hold).
 *
 * @example
 * ```ts
 * import { RTCPeerConnection } from 'sipwire';
 * const pc = new RTCPeerConnection({ bindAddresses: ['127.0.0.1'] });
 * await pc.setLocalDescription(await pc.createOffer());
 * await pc.waitForGatheringComplete(2000);      // SIP needs complete SDP
 * sendOverSip(pc.localDescription!.sdp);
 * ```
 * @packageDocumentation
 */
import native = require('./native');
import { awaitNative, callNative, SipwireError } from './errors';
import { TypedEventTarget } from './typed-event-target';

/** `RTCIceServer`. TURN is accepted but relay candidates are not gathered yet. */
export interface RTCIceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/** Codec names accepted in {@link RTCConfiguration.codecs}. */
export type CodecName = 'opus' | 'g722' | 'pcmu' | 'pcma' | 'g729';

/** Constructor options. */
export interface RTCConfiguration {
  /** STUN (and TURN, not used yet) servers. @defaultValue `[]` (no STUN: host candidates only) */
  iceServers?: RTCIceServer[];
  /** `"all"` or `"relay"`. @defaultValue `"all"` */
  iceTransportPolicy?: 'all' | 'relay';
  /** Inclusive UDP port range for media sockets. @defaultValue any free port */
  portRange?: { min: number; max: number };
  /** IP addresses to bind; each yields a host candidate. @defaultValue every non-loopback IPv4 address (loopback if none) */
  bindAddresses?: string[];
  /**
   * Codecs allowed, most preferred first: offers list them in this order;
   * answers take the offer's first one that is allowed. G.722 runs at 16 kHz
   * on an 8000 Hz RTP clock; G.729 is Annex A, declared `annexb=no`.
   * @defaultValue `['opus', 'g722', 'pcmu', 'pcma', 'g729']` (G.729 last: the
   * dearest in CPU and the poorest in sound, it is there so a trunk offering
   * only G.729 is answered rather than refused)
   */
  codecs?: CodecName[];
  /** Milliseconds gathering may take before it is declared complete; `0` = unbounded. @defaultValue 5000 */
  iceGatheringTimeout?: number;
  /**
   * Milliseconds without inbound RTP, while connected and receiving, before an
   * `rtptimeout` event (a vanished peer); `0` = never. @defaultValue 10000
   */
  rtpTimeout?: number;
  /** Opus encoder complexity, 0-10; 10 (libopus default) measured cheapest for 20 ms voice frames here. @defaultValue 10 */
  opusComplexity?: number;
  /**
   * Measure one-way RTP delay in Rust: offers and answers carry the
   * `abs-send-time` header extension (an answer only if the offer did), every
   * RTP packet sent is stamped with the wall-clock send time, and each one
   * received adds a sample (receive time minus send time, so both ends need
   * one clock: same host or NTP-synced). Results are on the `inbound-rtp`
   * stats entry: `oneWayDelayP50`, `oneWayDelayP99` (seconds, `null` with no
   * samples), `oneWayDelaySamples` and `oneWayDelayHistogram` (see
   * {@link OneWayDelayStats}). @defaultValue false
   */
  measureOneWayDelay?: boolean;
  /**
   * The media profile of this connection's offers: `'webrtc'` (ICE +
   * DTLS-SRTP, `UDP/TLS/RTP/SAVPF`, what browsers and WebRTC gateways speak),
   * `'rtp'` (plain `RTP/AVP` over UDP, no ICE: trunks, PBXs, phones, SIPp) or
   * `'sdes'` (`RTP/SAVP` with `a=crypto` keys, RFC 4568). Answers always take
   * the offer's profile. @defaultValue `'webrtc'`
   */
  mediaProfile?: MediaProfile;
  /**
   * Whether unencrypted media (`RTP/AVP`) is acceptable. `false` refuses
   * plain-RTP offers with `ERR_UNSUPPORTED_PROFILE` (SIP: 488) and forbids
   * `mediaProfile: 'rtp'`. The default is `true` because a plain-RTP offer
   * comes from a peer that has no encryption to offer, so refusing it only
   * fails the call, and sipwire never offers plain RTP unless
   * `mediaProfile: 'rtp'` asks for it. @defaultValue true
   */
  allowUnencryptedMedia?: boolean;
  /**
   * Detect DTMF tones in the received audio (in Rust, ITU-T Q.24 tolerances)
   * and report them as `dtmf` events with `method: 'inband'`; a key press
   * that also arrives by RFC 4733 is reported once. @defaultValue true
   */
  inbandDtmf?: boolean;
  /**
   * Receive, record and send video without transcoding (sipwire extension).
   * Absent (the default): a video section in an offer is answered with port 0
   * and audio goes on alone. Present: a video section bundled with the audio
   * is answered (our offers carry one) with the listed codecs, RTX when
   * offered, and `nack`, `nack pli`, `ccm fir` feedback. In the plain
   * profiles (`RTP/AVP`, SDES `RTP/SAVP`) video has a port of its own (RTCP
   * at port + 1 unless `a=rtcp-mux`), its own `a=crypto` keys under SDES, and
   * feedback only as offered; see
   * {@link RTCPeerConnection.startVideoRecording} and
   * {@link RTCPeerConnection.playVideo}.
   */
  video?: VideoConfiguration;
}

/** Video codec names accepted in {@link VideoConfiguration.codecs}. */
export type VideoCodecName = 'vp8' | 'h264';

/** {@link RTCConfiguration.video}. */
export interface VideoConfiguration {
  /** Codecs accepted, most preferred first (H.264 in packetization-mode 1). @defaultValue `['vp8', 'h264']` */
  codecs?: VideoCodecName[];
  /**
   * Our video direction: `'sendrecv'` or `'sendonly'` to send a clip with
   * {@link RTCPeerConnection.playVideo}. @defaultValue `'recvonly'`
   */
  direction?: 'recvonly' | 'sendrecv' | 'sendonly' | 'inactive';
}

/** Which optional detectors run on the received audio (see {@link RTCPeerConnection.setListening}). */
export interface ListeningOptions {
  /** In-band DTMF detection (`dtmf` events with `method: 'inband'`). */
  inbandDtmf?: boolean;
  /** `speechstart` / `speechend` events from the voice activity detector. */
  speech?: boolean;
  /** `beep` events: a steady 400-2000 Hz tone of 120 ms or more (voicemail). */
  beep?: boolean;
}

/** Options of {@link RTCPeerConnection.waitForTone}. */
export interface WaitForToneOptions {
  /** Reject with `ERR_TIMEOUT` after this long. @defaultValue 10000 */
  timeoutMs?: number;
  /** How long the tone must last. @defaultValue 200 */
  minDurationMs?: number;
}

/** Verdict of answering-machine detection. */
export type AnsweringMachineResult = 'human' | 'machine' | 'unknown';

/** Options of {@link RTCPeerConnection.detectAnsweringMachine}. */
export interface AnsweringMachineOptions {
  /** Give up (`'unknown'`) after this long. @defaultValue 5000 */
  timeoutMs?: number;
}

/** The media profiles of {@link RTCConfiguration.mediaProfile}. */
export type MediaProfile = 'webrtc' | 'rtp' | 'sdes';

/**
 * Extra `inbound-rtp` stats fields present when
 * {@link RTCConfiguration.measureOneWayDelay} is on (sipwire extension).
 */
export interface OneWayDelayStats {
  /** Median one-way delay in seconds (middle of its histogram bin); `null` with no samples. */
  oneWayDelayP50: number | null;
  /** 99th percentile one-way delay in seconds; `null` with no samples. */
  oneWayDelayP99: number | null;
  /** Packets that yielded a sample (those outside -1 s..10 s are dropped). */
  oneWayDelaySamples: number;
  /**
   * Sample counts by bin, keyed by the bin's lower edge in ms (`"0.35"`); only
   * non-empty bins. Bins are 0.05 ms wide below 5 ms, 0.5 ms to 50 ms, 5 ms to
   * 500 ms, then one bin for 500 ms and above; negative delays count in `"0"`.
   * Counts are cumulative: difference two snapshots for a window.
   */
  oneWayDelayHistogram: Record<string, number>;
}

/** `RTCSessionDescriptionInit`. */
export interface RTCSessionDescriptionInit {
  type: 'offer' | 'answer' | 'pranswer' | 'rollback';
  sdp?: string;
}

/** `RTCIceCandidateInit`. */
export interface RTCIceCandidateInit {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

// The W3C state unions, as the native binding declares them (generated from
// the Rust enums in src/napi/events.rs).
export type RTCSignalingState = import('../index').RTCSignalingState;
export type RTCIceGatheringState = import('../index').RTCIceGatheringState;
export type RTCIceConnectionState = import('../index').RTCIceConnectionState;
export type RTCPeerConnectionState = import('../index').RTCPeerConnectionState;
/** Media direction, from our side. */
export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** Options of {@link RTCPeerConnection.sendDtmf}, as RTCDTMFSender.insertDTMF. */
export interface DtmfOptions {
  /** Tone length in ms, 40-6000. @defaultValue 100 */
  duration?: number;
  /** Gap between tones in ms, at least 30. @defaultValue 70 */
  interToneGap?: number;
}

/** Options of {@link RTCPeerConnection.startRecording}. */
export interface RecordingOptions {
  /** @defaultValue 16000 for 's16', 8000 for 'pcmu' and 'pcma' */
  sampleRate?: 8000 | 16000 | 48000;
  /** Sample encoding of the WAV file, or `'opus'` for an Ogg/Opus file (RFC 7845). @defaultValue 's16' */
  format?: 's16' | 'pcmu' | 'pcma' | 'opus';
  /**
   * What to record: `'rx'` what the far end sends (mono); `'tx'` what this side sends (mono);
   * `'stereo'` both, far end left and this side right, time-aligned on the 20 ms media clock
   * (a lost packet or a silent, held or not yet started side is written as silence, so the
   * channels never drift apart); `'mixed'` both summed into one channel.
   * @defaultValue 'rx'
   */
  channels?: RecordingChannels;
}

/** Which side(s) of a call a recording holds: see {@link RecordingOptions.channels}. */
export type RecordingChannels = 'rx' | 'tx' | 'stereo' | 'mixed';

/**
 * A bridge between two connections' audio, made by {@link RTCPeerConnection.bridge}. It lives in
 * the native media pipelines: each side hears the other, transcoded when codecs differ, and RFC
 * 4733 digits one side receives are sent on the other (as RFC 4733, or as in-band tones when that
 * side did not negotiate telephone-event). It ends by {@link AudioBridge.unbridge}, by either
 * connection closing, or by either joining another bridge.
 */
export class AudioBridge {
  readonly #leave: () => void;
  /** Native id of the bridge. */
  readonly id: number;
  constructor(id: number, leave: () => void) {
    this.id = id;
    this.#leave = leave;
  }
  /** Disconnect the two sides; each falls back to its own sources (play, PCM, silence). Idempotent. */
  unbridge(): void {
    this.#leave();
  }
}

/** What to play: a WAV file path, or mono 16-bit PCM. */
export type PlaySource = string | { samples: Int16Array; sampleRate: 8000 | 16000 | 48000 };

/** Options for {@link RTCPeerConnection.play}. */
export interface PlayOptions {
  /**
   * Repeat until {@link RTCPeerConnection.stopPlayback} or close() (hold
   * music, a test tone): JS stays idle, and later plays wait behind it.
   * @defaultValue false
   */
  loop?: boolean;
}

/** Result of {@link RTCPeerConnection.play}. */
export interface PlayResult {
  /** True when {@link RTCPeerConnection.stopPlayback} or close() ended it early. */
  stopped: boolean;
}

/** A batch of decoded audio. */
export interface AudioFrame {
  samples: Int16Array;
  sampleRate: number;
}

/** Event carrying a local candidate; `candidate === null` marks end-of-candidates. */
export class RTCPeerConnectionIceEvent extends Event {
  readonly candidate: RTCIceCandidateInit | null;
  constructor(candidate: RTCIceCandidateInit | null) {
    super('icecandidate');
    this.candidate = candidate;
  }
}

/** A DTMF digit received by RFC 4733 or detected in the audio (reported once per key press). */
export class DtmfEvent extends Event {
  readonly digit: string;
  /** How it arrived: RFC 4733 events, or tones in the audio. */
  readonly method: 'rfc4733' | 'inband';
  constructor(digit: string, method: 'rfc4733' | 'inband' = 'rfc4733') {
    super('dtmf');
    this.digit = digit;
    this.method = method;
  }
}

/** The far end stopped speaking (`speechend`); see {@link ListeningOptions.speech}. */
export class SpeechEndEvent extends Event {
  /** Length of the utterance in ms (the VAD's 300 ms hangover excluded). */
  readonly durationMs: number;
  constructor(durationMs: number) {
    super('speechend');
    this.durationMs = durationMs;
  }
}

/** A voicemail-style beep was heard; see {@link ListeningOptions.beep}. */
export class BeepEvent extends Event {
  /** Its measured frequency. */
  readonly hz: number;
  constructor(hz: number) {
    super('beep');
    this.hz = hz;
  }
}

/** W3C `RTCDTMFToneChangeEvent`: a tone started sending; `tone === ''` when every queued tone was sent. */
export class RTCDTMFToneChangeEvent extends Event {
  readonly tone: string;
  constructor(tone: string) {
    super('tonechange');
    this.tone = tone;
  }
}

/**
 * Not an error, but worth a log line: e.g. a remote `.local` (mDNS) or TCP candidate that was skipped.
 * Codes: `candidate-skipped`, `candidate-limit` (remote candidates beyond the limit were dropped),
 * `extmap-ignored` (an unusable `a=extmap` was ignored, as browsers do), `ice-server-unresolved`,
 * `recording-failed`, `recording-overrun`, `video-bitrate` (a clip given to `playVideo` averages
 * more than the far end's `b=TIAS`/`b=AS` allows; it is sent all the same); and, just before the connection becomes `failed`,
 * `dtls-fingerprint-mismatch` (the far end's certificate does not match its `a=fingerprint`) or
 * `remote-closed` (the far end hung up: DTLS `close_notify`, a fatal DTLS alert during the
 * handshake, or RTCP BYE and then silence).
 */
export class WarningEvent extends Event {
  readonly message: string;
  /** Stable code for warnings an application may act on (e.g. `recording-failed`, `recording-overrun`); empty when none applies. */
  readonly code: string;
  constructor(message: string, code = '') {
    super('warning');
    this.message = message;
    this.code = code;
  }
}

/** Decoded audio, delivered only while someone listens (see {@link RTCPeerConnection.subscribeAudio}). */
export class AudioEvent extends Event {
  readonly frame: AudioFrame;
  constructor(frame: AudioFrame) {
    super('audio');
    this.frame = frame;
  }
}

type Handler<E extends Event = Event> = ((ev: E) => void) | null;

/** Every event an {@link RTCPeerConnection} dispatches, by type. */
export interface RTCPeerConnectionEventMap {
  signalingstatechange: Event;
  icegatheringstatechange: Event;
  iceconnectionstatechange: Event;
  connectionstatechange: Event;
  icecandidate: RTCPeerConnectionIceEvent;
  dtmf: DtmfEvent;
  tonechange: RTCDTMFToneChangeEvent;
  rtptimeout: Event;
  warning: WarningEvent;
  audio: AudioEvent;
  speechstart: Event;
  speechend: SpeechEndEvent;
  beep: BeepEvent;
}

let nextRequestId = 1;

/** `v` when it is a finite number, else `fallback` (a NaN timeout must not fire at once or never). */
const finiteOr = (v: number | undefined, fallback: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);

/**
 * A WebRTC peer connection with one bidirectional audio stream, whose media
 * (ICE, DTLS-SRTP, RTP, codecs, jitter buffer, DTMF) runs in Rust.
 *
 * Departures from W3C, all for server-side SIP: no tracks or streams (audio is
 * built in), {@link RTCPeerConnection.waitForGatheringComplete} for complete
 * SDP, {@link RTCPeerConnection.setDirection} for hold, and the audio methods.
 */
type NativeEvent = import('../index').NativeEvent;
/** Open connections by native id: one native event channel serves them all. */
const live = new Map<number, (ev: NativeEvent) => void>();
function dispatchNative(ev: NativeEvent): void {
  live.get(ev.pc)?.(ev);
}

export class RTCPeerConnection extends TypedEventTarget<RTCPeerConnectionEventMap> {
  #native: InstanceType<typeof native.NativePeerConnection>;
  #closed = false;
  /** Pending `waitForGatheringComplete` / `play` requests by id; a gathering wait ignores the result. */
  #waiters = new Map<number, (result: PlayResult) => void>();
  /** Tone watches and answering-machine detections: settled by native events, a timeout or close. */
  #listenWaiters = new Map<number, { resolve: (ev: NativeEvent) => void; reject: (e: Error) => void }>();
  /** Live `audio()` iterators per sample rate: the native sink at a rate stays while any uses it. */
  #audioIterators = new Map<number, number>();
  /** Wakes each running audio() iterator, so close() ends them (they wait on events, and close() fires none). */
  readonly #audioWakers = new Set<() => void>();

  onsignalingstatechange: Handler = null;
  onicegatheringstatechange: Handler = null;
  oniceconnectionstatechange: Handler = null;
  onconnectionstatechange: Handler = null;
  onicecandidate: Handler<RTCPeerConnectionIceEvent> = null;
  ondtmf: Handler<DtmfEvent> = null;
  /** A remote candidate was skipped, or similar: see {@link WarningEvent}. */
  onwarning: Handler<WarningEvent> = null;
  /** A DTMF tone started sending (`tone === ''`: the queue is done). */
  ontonechange: Handler<RTCDTMFToneChangeEvent> = null;
  /** No RTP arrived for `rtpTimeout` ms while connected and receiving. */
  onrtptimeout: Handler = null;

  constructor(config: RTCConfiguration = {}) {
    super();
    const iceServers = (config.iceServers ?? []).map((s) => ({
      urls: Array.isArray(s.urls) ? s.urls : [s.urls],
      username: s.username,
      credential: s.credential,
    }));
    this.#native = callNative(
      () =>
        new native.NativePeerConnection(
          {
            iceServers,
            iceTransportPolicy: config.iceTransportPolicy,
            portMin: config.portRange?.min,
            portMax: config.portRange?.max,
            bindAddresses: config.bindAddresses,
            codecs: config.codecs,
            iceGatheringTimeout: config.iceGatheringTimeout,
            rtpTimeout: config.rtpTimeout,
            opusComplexity: config.opusComplexity,
            measureOneWayDelay: config.measureOneWayDelay,
            mediaProfile: config.mediaProfile,
            allowUnencryptedMedia: config.allowUnencryptedMedia,
            video: config.video && { codecs: config.video.codecs, direction: config.video.direction },
          },
          dispatchNative,
        ),
    );
    // Strong, like the native side: an open connection is not collected.
    live.set(this.#native.id, (ev) => this.#onNative(ev));
    if (config.inbandDtmf === false) this.#native.setListening(false);
  }

  /** The `on…` property for a plain event type. */
  #stateHandler(type: string): Handler {
    switch (type) {
      case 'signalingstatechange':
        return this.onsignalingstatechange;
      case 'icegatheringstatechange':
        return this.onicegatheringstatechange;
      case 'iceconnectionstatechange':
        return this.oniceconnectionstatechange;
      case 'connectionstatechange':
        return this.onconnectionstatechange;
      case 'rtptimeout':
        return this.onrtptimeout;
      default:
        return null;
    }
  }

  #onNative(ev: NativeEvent): void {
    switch (ev.type) {
      case 'gatheringwaitdone':
      case 'playended': {
        const resolve = this.#waiters.get(ev.id);
        this.#waiters.delete(ev.id);
        resolve?.({ stopped: ev.type === 'playended' && ev.stopped });
        return;
      }
      case 'icecandidate':
        this.#dispatch(
          new RTCPeerConnectionIceEvent(ev.candidate ? { candidate: ev.candidate, sdpMid: '0', sdpMLineIndex: 0 } : null),
          this.onicecandidate,
        );
        return;
      case 'dtmf':
        this.#dispatch(new DtmfEvent(ev.digit, ev.method), this.ondtmf);
        return;
      case 'speechstart':
        this.dispatchEvent(new Event('speechstart'));
        return;
      case 'speechend':
        this.dispatchEvent(new SpeechEndEvent(ev.ms));
        return;
      case 'beep':
        this.dispatchEvent(new BeepEvent(ev.hz));
        return;
      case 'tonedetected':
      case 'amd': {
        const w = this.#listenWaiters.get(ev.id);
        this.#listenWaiters.delete(ev.id);
        w?.resolve(ev);
        return;
      }
      case 'warning':
        this.#dispatch(new WarningEvent(ev.message, ev.code ?? ''), this.onwarning);
        return;
      case 'tonechange':
        this.#dispatch(new RTCDTMFToneChangeEvent(ev.tone), this.ontonechange);
        return;
      case 'audio':
        this.dispatchEvent(new AudioEvent({ samples: ev.samples, sampleRate: ev.sampleRate }));
        return;
      default: {
        this.#dispatch(new Event(ev.type), this.#stateHandler(ev.type));
        if (ev.type === 'signalingstatechange' && ev.state === 'closed') {
          // Closed from the native side (e.g. a failure): it no longer holds the event loop.
          this.#native.unref();
          this.#settleAll();
        }
      }
    }
  }

  #dispatch<E extends Event>(ev: E, handler: Handler<E>): void {
    try {
      handler?.call(this, ev);
    } finally {
      this.dispatchEvent(ev);
    }
  }

  #settleAll(): void {
    for (const resolve of this.#waiters.values()) resolve({ stopped: true });
    this.#waiters.clear();
    for (const w of this.#listenWaiters.values()) w.reject(new SipwireError('ERR_CLOSED', 'the RTCPeerConnection closed'));
    this.#listenWaiters.clear();
    for (const wake of this.#audioWakers) wake();
  }

  #checkOpen(): void {
    if (this.#closed) throw new SipwireError('ERR_CLOSED', 'the RTCPeerConnection is closed');
  }

  get signalingState(): RTCSignalingState {
    return this.#closed ? 'closed' : this.#native.signalingState;
  }
  get iceGatheringState(): RTCIceGatheringState {
    return this.#native.iceGatheringState;
  }
  get iceConnectionState(): RTCIceConnectionState {
    return this.#closed ? 'closed' : this.#native.iceConnectionState;
  }
  get connectionState(): RTCPeerConnectionState {
    return this.#closed ? 'closed' : this.#native.connectionState;
  }
  /** The local description, including every candidate gathered so far. */
  get localDescription(): RTCSessionDescriptionInit | null {
    return (this.#native.localDescription as RTCSessionDescriptionInit | null) ?? null;
  }
  /** True when RFC 4733 DTMF can be sent now (telephone-event negotiated and the direction sends). */
  get canSendDtmf(): boolean {
    return !this.#closed && this.#native.canSendDtmf;
  }
  get remoteDescription(): RTCSessionDescriptionInit | null {
    return (this.#native.remoteDescription as RTCSessionDescriptionInit | null) ?? null;
  }

  /** W3C createOffer. `iceRestart: true` makes new ICE credentials. */
  async createOffer(options: { iceRestart?: boolean } = {}): Promise<RTCSessionDescriptionInit> {
    this.#checkOpen();
    return (await awaitNative(this.#native.createOffer(options.iceRestart ?? false))) as RTCSessionDescriptionInit;
  }

  /** W3C createAnswer. */
  async createAnswer(): Promise<RTCSessionDescriptionInit> {
    this.#checkOpen();
    return (await awaitNative(this.#native.createAnswer())) as RTCSessionDescriptionInit;
  }

  /** W3C setLocalDescription; without an argument, creates the offer or answer the state calls for. */
  async setLocalDescription(desc?: RTCSessionDescriptionInit): Promise<void> {
    this.#checkOpen();
    await awaitNative(this.#native.setLocalDescription(desc ? { type: desc.type, sdp: desc.sdp ?? '' } : undefined));
  }

  /**
   * W3C setRemoteDescription. Rejects with `ERR_SDP_PARSE`, `ERR_NO_COMMON_CODEC`,
   * `ERR_UNSUPPORTED_PROFILE` or `ERR_INVALID_STATE`; the connection stays usable.
   */
  async setRemoteDescription(desc: RTCSessionDescriptionInit): Promise<void> {
    this.#checkOpen();
    await awaitNative(this.#native.setRemoteDescription({ type: desc.type, sdp: desc.sdp ?? '' }));
  }

  /** W3C addIceCandidate. `.local` (mDNS) candidates are skipped, not fatal. */
  async addIceCandidate(candidate?: RTCIceCandidateInit | null): Promise<void> {
    this.#checkOpen();
    await awaitNative(this.#native.addIceCandidate(candidate?.candidate ?? ''));
  }

  /** W3C restartIce: the next offer carries new ICE credentials. */
  restartIce(): void {
    this.#checkOpen();
    this.#native.restartIce();
  }

  /**
   * W3C getStats: a Map of stats objects keyed by id (`inbound-rtp`,
   * `outbound-rtp`, `transport`, ...). With `measureOneWayDelay`, `inbound-rtp`
   * also has the {@link OneWayDelayStats} fields.
   */
  async getStats(): Promise<Map<string, Record<string, unknown> & { id: string; type: string }>> {
    this.#checkOpen();
    const json = await awaitNative(this.#native.getStats());
    const list = JSON.parse(json) as Array<Record<string, unknown> & { id: string; type: string }>;
    return new Map(list.map((s) => [s.id, s]));
  }

  /**
   * sipwire extension for SIP (which cannot trickle): resolves once ICE
   * gathering is complete or `timeoutMs` passed, whichever is first. A timeout
   * is not an error: `localDescription` then carries what was gathered.
   */
  waitForGatheringComplete(timeoutMs = 5000): Promise<void> {
    this.#checkOpen();
    // Host-only gathering is complete by the time setLocalDescription
    // resolves: no round trip to the I/O thread for that common case.
    if (this.iceGatheringState === 'complete') return Promise.resolve();
    const id = nextRequestId++;
    const p = new Promise<void>((resolve) => this.#waiters.set(id, () => resolve()));
    this.#native.waitGathering(id, Math.max(0, Math.min(timeoutMs, 2 ** 31 - 1)));
    return p;
  }

  /**
   * Wanted local media direction for the next offer or answer: `sendonly` puts
   * the peer on hold, `sendrecv` resumes. Takes effect on renegotiation, with
   * no new ICE or DTLS handshake.
   */
  setDirection(direction: MediaDirection): void {
    this.#checkOpen();
    callNative(() => this.#native.setDirection(direction));
  }

  /** Queue mono PCM to send (played after any {@link play}). Up to 5 s is buffered. */
  writePcm(samples: Int16Array, sampleRate: 8000 | 16000 | 48000): void {
    this.#checkOpen();
    callNative(() => this.#native.writePcm(samples, sampleRate));
  }

  /**
   * Play a WAV file or PCM; resolves when it has been sent (or stopped).
   *
   * @example
   * ```ts
   * await pc.play('prompt.wav');
   * pc.play({ samples: sineWave(1000, 8000, 1000), sampleRate: 8000 }, { loop: true });
   * ```
   */
  play(source: PlaySource, options: PlayOptions = {}): Promise<PlayResult> {
    this.#checkOpen();
    const id = nextRequestId++;
    let fail: (e: unknown) => void = () => {};
    const p = new Promise<PlayResult>((resolve, reject) => {
      this.#waiters.set(id, resolve);
      fail = (e) => {
        this.#waiters.delete(id);
        reject(e);
      };
    });
    try {
      const loop = options.loop ?? false;
      // A file is read and decoded off the JS thread; a bad one rejects this promise.
      if (typeof source === 'string') awaitNative(this.#native.playWav(id, source, loop)).catch(fail);
      else callNative(() => this.#native.playPcm(id, source.samples, source.sampleRate, loop));
    } catch (e) {
      fail(e);
    }
    return p;
  }

  /** Stop all playback; pending {@link play} promises resolve with `stopped: true`. */
  stopPlayback(): void {
    if (!this.#closed) this.#native.stopPlayback();
  }

  /**
   * Start `audio` events carrying decoded PCM at `sampleRate` in batches of
   * `batchMs`. Each rate is its own stream: subscribing at 8000 and 16000
   * delivers every frame at both rates (tell them apart by
   * `frame.sampleRate`); subscribing again at a rate changes its batch size.
   * Without a subscriber, no JS runs per packet.
   */
  subscribeAudio(options: { sampleRate?: 8000 | 16000 | 48000; batchMs?: number } = {}): void {
    this.#checkOpen();
    callNative(() => this.#native.subscribeAudio(options.sampleRate ?? 16000, options.batchMs ?? 100));
  }

  /** Stop `audio` events at `sampleRate`, or at every rate when omitted (this also starves running `audio()` iterators). */
  unsubscribeAudio(sampleRate?: 8000 | 16000 | 48000): void {
    if (sampleRate === undefined) this.#audioIterators.clear();
    else this.#audioIterators.delete(sampleRate);
    if (!this.#closed) this.#native.unsubscribeAudio(sampleRate);
  }

  /**
   * Decoded audio as an async iterator; ends when the connection closes or
   * the loop breaks. Several iterators may run at once, each gets every
   * frame; iterators at one rate share the batch size last asked for.
   */
  async *audio(options: { sampleRate?: 8000 | 16000 | 48000; batchMs?: number } = {}): AsyncGenerator<AudioFrame> {
    const rate = options.sampleRate ?? 16000;
    const queue: AudioFrame[] = [];
    let wake: (() => void) | null = null;
    const onAudio = (e: AudioEvent): void => {
      if (e.frame.sampleRate !== rate) return;
      queue.push(e.frame);
      if (queue.length > 100) queue.shift(); // a slow consumer loses old audio, not memory
      wake?.();
    };
    const onState = () => wake?.();
    this.addEventListener('audio', onAudio);
    this.addEventListener('signalingstatechange', onState);
    this.#audioWakers.add(onState);
    this.subscribeAudio({ ...options, sampleRate: rate });
    this.#audioIterators.set(rate, (this.#audioIterators.get(rate) ?? 0) + 1);
    try {
      while (!this.#closed) {
        if (queue.length === 0) await new Promise<void>((r) => (wake = r));
        wake = null;
        while (queue.length) yield queue.shift()!;
      }
    } finally {
      this.removeEventListener('audio', onAudio);
      this.removeEventListener('signalingstatechange', onState);
      this.#audioWakers.delete(onState);
      const left = (this.#audioIterators.get(rate) ?? 1) - 1;
      if (left > 0) this.#audioIterators.set(rate, left);
      else if (this.#audioIterators.delete(rate) && !this.#closed) this.#native.unsubscribeAudio(rate);
    }
  }

  /**
   * Record the call to a WAV file: 16-bit PCM (`format: 's16'`, the default,
   * at 16 kHz unless `sampleRate` says otherwise) or G.711 `'pcmu'` (mu-law) / `'pcma'`
   * (A-law), the telephony formats, at 8 kHz unless `sampleRate` says otherwise; or an
   * Ogg/Opus file (`'opus'`, 16 kHz by default, encoded on the recording threads).
   * `channels` picks received audio (default), sent audio, both as stereo, or both mixed.
   * Rejects with `ERR_WAV` naming the file when it cannot be created.
   */
  async startRecording(path: string, options: RecordingOptions = {}): Promise<void> {
    this.#checkOpen();
    const format = options.format ?? 's16';
    if (!['s16', 'pcmu', 'pcma', 'opus'].includes(format)) throw new SipwireError('ERR_INVALID_ARG', `format must be 's16', 'pcmu', 'pcma' or 'opus', got ${JSON.stringify(format)}`);
    const channels = options.channels ?? 'rx';
    if (!['rx', 'tx', 'stereo', 'mixed'].includes(channels)) throw new SipwireError('ERR_INVALID_ARG', `channels must be 'rx', 'tx', 'stereo' or 'mixed', got ${JSON.stringify(channels)}`);
    const rate = options.sampleRate ?? (format === 'pcmu' || format === 'pcma' ? 8000 : 16000);
    await awaitNative(this.#native.startRecording(path, rate, format, channels));
  }

  /**
   * Record received video to a file without transcoding: IVF for VP8 (RTP
   * timestamps, 1/90000 time base), an Annex B `.h264` stream for H.264. The
   * file starts at the next key frame, which is asked for at once (PLI, or
   * FIR); lost frames are re-requested (NACK) and, when lost for good, skipped
   * until the next key frame so the file stays decodable. Needs
   * {@link RTCConfiguration.video} and a negotiated video section; rejects with
   * `ERR_WAV` saying why otherwise, or naming the file when it cannot be created.
   *
   * ```ts
   * import { RTCPeerConnection } from 'sipwire';
   * const pc = new RTCPeerConnection({ video: { codecs: ['vp8'] } });
   * // ...after the offer/answer, once connected:
   * await pc.startVideoRecording('/tmp/caller.ivf').catch(() => {});
   * await pc.stopVideoRecording();
   * pc.close();
   * ```
   */
  async startVideoRecording(path: string): Promise<void> {
    this.#checkOpen();
    await awaitNative(this.#native.startVideoRecording(path));
  }

  /**
   * Send a video clip without transcoding: an IVF file of VP8 or an H.264
   * Annex B stream (`.h264`, packetization-mode 1; SPS and PPS are sent with
   * every IDR), in the negotiated codec. Frames go out paced by the file's
   * timestamps (Annex B has none: `fps`, default 30), starting with a key
   * frame, looping with `loop`. A PLI or FIR from the far end sends the latest
   * key frame again (and the frames after it); NACKs are answered from a
   * history of the last 512 packets (over RTX when negotiated). The file is
   * read whole, off the JS thread, and limited to 64 MiB. Needs
   * {@link RTCConfiguration.video} with `direction: 'sendrecv'` or
   * `'sendonly'`. Resolves `{ stopped: false }` when the clip ended,
   * `{ stopped: true }` when {@link stopVideo}, another `playVideo` or
   * `close()` stopped it; rejects with `ERR_INVALID_ARG` for a file it cannot
   * send, `ERR_INVALID_STATE` when video is not negotiated for sending or the
   * clip's codec is not the negotiated one.
   *
   * ```ts
   * import { RTCPeerConnection } from 'sipwire';
   * const pc = new RTCPeerConnection({ video: { codecs: ['vp8'], direction: 'sendrecv' } });
   * // ...after the offer/answer:
   * void pc.playVideo('/tmp/clip.ivf', { loop: true }).catch(() => {});
   * pc.stopVideo();
   * pc.close();
   * ```
   */
  async playVideo(path: string, options: { loop?: boolean; fps?: number } = {}): Promise<{ stopped: boolean }> {
    this.#checkOpen();
    const stopped = await awaitNative(this.#native.playVideo(path, options.loop ?? false, options.fps ?? 30));
    return { stopped };
  }

  /** Stop the clip {@link playVideo} sends; its promise resolves `{ stopped: true }`. */
  stopVideo(): void {
    if (this.#closed) return;
    this.#native.stopVideo();
  }

  /** Finish the video file started by {@link startVideoRecording}; resolves once it is on disk. */
  async stopVideoRecording(): Promise<void> {
    if (this.#closed) return;
    await awaitNative(this.#native.stopVideoRecording());
  }

  /**
   * Finish the WAV file started by {@link startRecording}; resolves with its duration in ms
   * (0 when nothing was recording or the connection is closed).
   */
  async stopRecording(): Promise<number> {
    if (this.#closed) return 0;
    return await awaitNative(this.#native.stopRecording());
  }

  /**
   * Connect this connection's audio with `other`'s inside Rust, on the media clock: each hears
   * the other (transcoded between Opus, G.711 and any other codec the pipeline has), RFC 4733
   * digits are relayed, and hold on either side is respected (a held side sends and hears
   * nothing). The two may run on different I/O threads. A bridge either was in ends.
   *
   * @example
   * ```ts
   * import { RTCPeerConnection } from 'sipwire';
   * declare const a: RTCPeerConnection, b: RTCPeerConnection;
   * const bridge = a.bridge(b);
   * bridge.unbridge();
   * ```
   */
  /** @internal Seat this connection in a native conference (see `Conference.join`); returns the seat id. */
  joinConference(conf: InstanceType<typeof native.NativeConference>): number {
    this.#checkOpen();
    return callNative(() => conf.join(this.#native));
  }

  /** @internal Take seat `id` out of a native conference. */
  leaveConference(conf: InstanceType<typeof native.NativeConference>, id: number): void {
    if (!this.#closed) conf.leave(this.#native, id);
  }

  bridge(other: RTCPeerConnection): AudioBridge {
    this.#checkOpen();
    other.#checkOpen();
    const id = callNative(() => this.#native.bridge(other.#native));
    return new AudioBridge(id, () => {
      if (!this.#closed) this.#native.unbridge(id);
      if (!other.#closed) other.#native.unbridge(id);
    });
  }

  /**
   * Turn detectors on the received audio on or off (sipwire extension; they
   * run in Rust on the media thread, JS only gets their events): in-band
   * DTMF (on by default), `speechstart`/`speechend` events, `beep` events.
   * Options left out keep their current setting.
   *
   * @example
   * ```ts
   * pc.setListening({ speech: true });
   * pc.addEventListener('speechend', (e) => console.log(`spoke for ${e.durationMs} ms`));
   * ```
   */
  setListening(options: ListeningOptions): void {
    this.#checkOpen();
    this.#native.setListening(options.inbandDtmf, options.speech, options.beep);
  }

  /**
   * Resolve with the measured frequency once a tone within ±2.5 % (at least
   * ±12 Hz) of `hz` has been received for `minDurationMs`; reject with
   * `ERR_TIMEOUT` after `timeoutMs`, `ERR_CLOSED` if the connection closes.
   * Other frequencies, speech, noise and DTMF do not resolve it.
   */
  waitForTone(hz: number, options: WaitForToneOptions = {}): Promise<{ hz: number }> {
    this.#checkOpen();
    if (!Number.isFinite(hz) || hz < 50 || hz > 3900) throw new SipwireError('ERR_INVALID_ARG', `tone frequency must be 50-3900 Hz, got ${hz}`);
    const timeoutMs = finiteOr(options.timeoutMs, 10000);
    const minDurationMs = Math.max(20, Math.min(finiteOr(options.minDurationMs, 200), 600000));
    return this.#listenFor(timeoutMs, `no ${hz} Hz tone within ${timeoutMs} ms`, (id) => this.#native.watchTone(id, hz, minDurationMs)).then(
      (ev) => ({ hz: ev.type === 'tonedetected' ? ev.hz : hz }),
    );
  }

  /**
   * Answering-machine detection on the received audio: `'human'` (a short
   * greeting, then silence), `'machine'` (a long greeting, or a beep) or
   * `'unknown'` (no decision within `timeoutMs`). Start it when the call is
   * answered. Rejects with `ERR_CLOSED` if the connection closes.
   */
  async detectAnsweringMachine(options: AnsweringMachineOptions = {}): Promise<AnsweringMachineResult> {
    this.#checkOpen();
    const timeoutMs = Math.max(100, Math.min(finiteOr(options.timeoutMs, 5000), 600000));
    // Rust decides on its own clock (audio frames); the JS timer only covers
    // a far end that sends no audio at all.
    const ev = await this.#listenFor(timeoutMs + 1000, null, (id) => this.#native.detectAnsweringMachine(id, timeoutMs));
    return ev.type === 'amd' ? ev.verdict : 'unknown';
  }

  /** Start a native tone watch or detection and settle with its event, its timeout (reject, or `unknown` when `timeoutMessage` is null) or close. */
  #listenFor(timeoutMs: number, timeoutMessage: string | null, start: (id: number) => void): Promise<NativeEvent> {
    const id = nextRequestId++;
    return new Promise<NativeEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listenWaiters.delete(id);
        if (!this.#closed) this.#native.cancelListen(id);
        if (timeoutMessage === null) resolve({ pc: this.#native.id, type: 'amd', id, verdict: 'unknown', ms: timeoutMs });
        else reject(new SipwireError('ERR_TIMEOUT', timeoutMessage));
      }, Math.max(0, Math.min(timeoutMs, 2 ** 31 - 1)));
      this.#listenWaiters.set(id, {
        resolve: (ev) => (clearTimeout(timer), resolve(ev)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      try {
        start(id);
      } catch (e) {
        this.#listenWaiters.delete(id);
        clearTimeout(timer);
        reject(e);
      }
    });
  }

  /**
   * Send RFC 4733 DTMF (`0-9 A-D * #`, `,` = 2 s pause). Replaces digits still
   * queued. Resolves once queued; `tonechange` events follow each tone and a
   * final one with `tone === ''` when all were sent. Rejects with `ERR_INVALID_STATE` when telephone-event was not
   * negotiated or the direction cannot send, `ERR_INVALID_ARG` for bad tones.
   */
  async sendDtmf(tones: string, options: DtmfOptions = {}): Promise<void> {
    this.#checkOpen();
    await awaitNative(this.#native.sendDtmf(tones, options.duration ?? 100, options.interToneGap ?? 70));
  }

  /**
   * Let Node exit while this connection is open, like `net.Socket#unref()`:
   * an open connection otherwise keeps the process alive. Events still
   * arrive while something else (a server, a timer, a ref'd connection)
   * keeps Node running. Returns `this`.
   *
   * @example
   * const pc = new RTCPeerConnection();
   * pc.unref(); // a monitoring probe must not hold the process open
   */
  unref(): this {
    if (!this.#closed) this.#native.unref();
    return this;
  }

  /** Undo {@link RTCPeerConnection.unref}: this open connection keeps Node running again (the default). Returns `this`. */
  ref(): this {
    if (!this.#closed) this.#native.ref();
    return this;
  }

  /** W3C close. Idempotent: frees sockets and lets Node exit. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
    live.delete(this.#native.id);
    this.#settleAll();
  }
}
