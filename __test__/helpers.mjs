// Shared harness for the integration tests: real RTCPeerConnections on
// 127.0.0.1, connected with complete (non-trickle) SDP, as SIP does.
import { RTCPeerConnection, detectTone, sineWave } from '../dist/index.js';

export const LOOPBACK = { bindAddresses: ['127.0.0.1'] };

/** Resolve when `target` emits `type` and `pred(event)` holds; reject after `ms`. */
export function waitFor(target, type, pred = () => true, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      target.removeEventListener(type, on);
      reject(new Error(`timed out after ${ms} ms waiting for ${type}`));
    }, ms);
    const on = (ev) => {
      if (!pred(ev)) return;
      clearTimeout(timer);
      target.removeEventListener(type, on);
      resolve(ev);
    };
    target.addEventListener(type, on);
  });
}

/** Resolve once `pc.connectionState === state`. */
export function waitState(pc, state, ms = 10000) {
  if (pc.connectionState === state) return Promise.resolve();
  return waitFor(pc, 'connectionstatechange', () => pc.connectionState === state, ms);
}

/** Offer/answer with complete SDP (gathering awaited, no addIceCandidate). */
export async function negotiate(a, b) {
  await a.setLocalDescription(await a.createOffer());
  await a.waitForGatheringComplete(2000);
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await b.waitForGatheringComplete(2000);
  await a.setRemoteDescription(b.localDescription);
}

/** Two connected peers. */
export async function connectedPair(optsA = {}, optsB = {}) {
  const a = new RTCPeerConnection({ ...LOOPBACK, ...optsA });
  const b = new RTCPeerConnection({ ...LOOPBACK, ...optsB });
  const up = Promise.all([waitState(a, 'connected'), waitState(b, 'connected')]);
  await negotiate(a, b);
  await up;
  return [a, b];
}

/** Collect `ms` of decoded audio from `pc` at `sampleRate`. */
export async function record(pc, ms, sampleRate = 16000) {
  const chunks = [];
  let total = 0;
  const want = (sampleRate * ms) / 1000;
  for await (const frame of pc.audio({ sampleRate, batchMs: 100 })) {
    chunks.push(frame.samples);
    total += frame.samples.length;
    if (total >= want) break;
  }
  const out = new Int16Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Keep `pc` sending a tone of `freq` for `ms`. */
export function sendTone(pc, freq, ms, sampleRate = 16000) {
  return pc.play({ samples: sineWave(freq, sampleRate, ms), sampleRate });
}

/** Dominant frequency of the second half of `samples` (skips the jitter-buffer start). */
export function toneOf(samples, sampleRate = 16000) {
  return detectTone(samples.subarray(Math.floor(samples.length / 2)), sampleRate);
}

export function within(actual, expected, fraction) {
  return actual !== null && Math.abs(actual - expected) <= expected * fraction;
}

/** Change one hex digit of every a=fingerprint value: still well-formed, now wrong. */
export function tamperFingerprint(sdp) {
  return sdp.replace(/^(a=fingerprint:\S+ )([0-9A-Fa-f])/gm, (_, head, d) => head + (d.toLowerCase() === '0' ? '1' : '0'));
}
