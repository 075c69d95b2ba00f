/**
 * Audio helpers: tone generation and detection, WAV files. Detection and WAV
 * parsing run in Rust.
 * @packageDocumentation
 */
import native = require('./native');
import { callNative } from './errors';
import type { CodecName } from './peer-connection';

/**
 * Dominant frequency of mono PCM in Hz, or `null` for silence.
 * @example `detectTone(frame.samples, frame.sampleRate) // ≈ 1000`
 */
export function detectTone(samples: Int16Array, sampleRate: number): number | null {
  return callNative(() => native.detectTone(samples, sampleRate)) ?? null;
}

/** Read a WAV file as mono 16-bit PCM. */
export function readWav(path: string): { samples: Int16Array; sampleRate: number } {
  return callNative(() => native.readWav(path));
}

/** Write mono 16-bit PCM as a WAV file. */
export function writeWav(path: string, samples: Int16Array, sampleRate: number): void {
  callNative(() => native.writeWav(path, samples, sampleRate));
}

/** Native sockets and connections currently open (for leak checks). */
export function nativeResources(): { openSockets: number; livePeers: number; liveLinks: number } {
  return native.nativeResources();
}

/** A sine tone as mono PCM. */
export function sineWave(freqHz: number, sampleRate: number, durationMs: number, amplitude = 8000): Int16Array {
  const n = Math.round((sampleRate * durationMs) / 1000);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freqHz * i) / sampleRate));
  return out;
}

/**
 * Check an SDP offer as `setRemoteDescription` would, without a connection.
 * Returns `null` when acceptable, else the stable code and message; SIP code
 * uses it to answer 488 before `accept()`. Plain `RTP/AVP` offers are
 * acceptable unless `options.allowUnencryptedMedia` is `false`; SDES offers
 * need one usable `a=crypto` line.
 */
export function validateOffer(
  sdp: string,
  codecs?: CodecName[],
  options: { allowUnencryptedMedia?: boolean } = {},
): { code: string; message: string } | null {
  return callNative(() => native.validateOffer(sdp, codecs, options.allowUnencryptedMedia)) ?? null;
}
