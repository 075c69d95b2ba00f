// sipwire adapters. Modes:
//  - bot-pcmu / bot-opus: each end play()s a tone and records what it receives
//    to /dev/null, so encode, RTP, jitter buffer and decode all run in Rust and
//    JS is idle after setup (one looped play() per end).
//  - bot-rtp: bot-pcmu over plain RTP/AVP (mediaProfile 'rtp': no ICE, no
//    DTLS, no SRTP), what a bot talking to a SIP trunk or SIPp runs.
//  - js-pcm: JS writes 20 ms PCM frames with writePcm() from one shared timer
//    and receives 20 ms batches through subscribeAudio(), like wrtc's
//    RTCAudioSource/RTCAudioSink (PCMU, 16 kHz PCM on the JS side).
//  - bot-pcmu-plain / bot-opus-plain: bot-* with every detector off
//    (inbandDtmf: false); bot-pcmu-listen / bot-opus-listen: bot-* with
//    in-band DTMF, the voice activity detector (speech events) and beep
//    detection on every call: the detectors' CPU cost per call.
//  - idle-pcmu: nothing played or recorded: the media clock sends encoded
//    silence and nothing is decoded, i.e. transport cost only, the closest
//    match to the passthrough stacks (werift, node-datachannel).
//  - video-vp8: bot-pcmu plus video: one end sends a 640x480, 30 fps,
//    1 Mbit/s VP8 clip (playVideo, looped), the other records it to
//    /dev/null (startVideoRecording): packetising, SRTP, depacketising and
//    the recording writer, no codec. Counters stay audio-only (loss and send
//    rate compare with bot-pcmu); video figures go in `extra`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_DIR, mergeHist, startClock } from './common.mjs';

const sip = await import(join(REPO_DIR, 'dist', 'index.js'));
const { RTCPeerConnection, sineWave, nativeResources } = sip;

// Tone length; each end loops it in Rust (play(..., { loop: true })). Short,
// because play() keeps its PCM in Rust per call (RSS per call), and a whole
// number of 400 Hz periods so the loop is phase-continuous.
const TONE_MS = 400;

function waitConnected(pc, ms) {
  if (pc.connectionState === 'connected') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`not connected after ${ms} ms (${pc.connectionState})`)), ms);
    const on = () => {
      if (pc.connectionState === 'connected') {
        clearTimeout(t);
        pc.removeEventListener('connectionstatechange', on);
        resolve();
      } else if (pc.connectionState === 'failed' || pc.connectionState === 'closed') {
        clearTimeout(t);
        reject(new Error(`connection ${pc.connectionState}`));
      }
    };
    pc.addEventListener('connectionstatechange', on);
  });
}

/** Constructor options of every sipwire end in the benchmark. */
export function peerConfig(codec, mode = '') {
  const cfg = { bindAddresses: ['127.0.0.1'], codecs: [codec], rtpTimeout: 0, measureOneWayDelay: true };
  return mode.endsWith('-plain') ? { ...cfg, inbandDtmf: false } : cfg;
}

/** A 3 s, 640x480, 30 fps, ~1 Mbit/s VP8 clip made by ffmpeg (key frame every 2 s). */
function makeVideoClip() {
  const out = join(mkdtempSync(join(tmpdir(), 'sipwire-bench-video-')), 'clip.ivf');
  // Noise keeps libvpx from squeezing testsrc far below the target rate.
  const args = ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=640x480:rate=30', '-t', '3', '-vf', 'noise=alls=16:allf=t', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8'];
  args.push('-b:v', '1M', '-minrate', '1M', '-maxrate', '1M', '-bufsize', '1M', '-g', '60', '-f', 'ivf', out);
  const r = spawnSync('ffmpeg', args, { encoding: 'utf8', timeout: 120000 });
  if (r.status !== 0) throw new Error(`ffmpeg failed (apt-get install ffmpeg): ${r.stderr || r.error?.message}`);
  return out;
}

export function create(mode) {
  const codec = mode.startsWith('bot-opus') ? 'opus' : 'pcmu';
  const rate = mode.startsWith('bot-pcmu') || mode === 'bot-rtp' || mode === 'video-vp8' ? 8000 : 16000;
  const video = mode === 'video-vp8';
  const clip = video ? makeVideoClip() : null;
  const tone = sineWave(400, rate, TONE_MS);
  // js-pcm: one 1 s, 400 Hz buffer; 20 ms slices of it are phase-continuous.
  const pcm = sineWave(400, 16000, 1000);
  const jsPeers = new Set();
  let stopClock = null;
  let frameIdx = 0;
  let audioFrames = 0;
  // Video totals of the last counters() call (video-vp8).
  const videoStats = { bytesSent: 0, framesReceived: 0 };

  if (mode === 'js-pcm') {
    // One timer for all calls: this is what a JS media app would do.
    stopClock = startClock(20, () => {
      const off = (frameIdx++ % 50) * 320;
      const frame = pcm.subarray(off, off + 320);
      for (const pc of jsPeers) pc.writePcm(frame, 16000);
    });
  }

  function startMedia(pc, call) {
    if (mode === 'js-pcm') {
      // Two frames of cushion so timer jitter never starves the media clock.
      pc.writePcm(pcm.subarray(0, 640), 16000);
      jsPeers.add(pc);
      pc.subscribeAudio({ sampleRate: 16000, batchMs: 20 });
      pc.addEventListener('audio', (ev) => {
        audioFrames++;
        call.sink ^= ev.frame.samples[0]; // touch the data, as a consumer would
      });
      return;
    }
    if (mode === 'idle-pcmu') return;
    if (mode.endsWith('-listen')) pc.setListening({ inbandDtmf: true, speech: true, beep: true });
    pc.startRecording('/dev/null', { sampleRate: rate }).catch(() => {});
    pc.play({ samples: tone, sampleRate: rate }, { loop: true }).catch(() => {});
    if (video && pc === call.a) pc.playVideo(clip, { loop: true }).catch(() => {});
    if (video && pc === call.b) pc.startVideoRecording('/dev/null').catch(() => {});
  }

  /**
   * Sum sipwire stats over `pcs` (also used by the two-process variant).
   * `delayHist` merges the peers' cumulative one-way delay histograms
   * (abs-send-time, measured in Rust: send tick -> receive).
   */
  async function countPeers(pcs) {
    const out = { sent: 0, recv: 0, lost: 0, jitter: [], delayHist: {} };
    await Promise.all(
      pcs.map(async (pc) => {
        for (const s of (await pc.getStats()).values()) {
          if (s.kind === 'video') {
            if (s.type === 'outbound-rtp') videoStats.bytesSent += s.bytesSent;
            if (s.type === 'inbound-rtp') videoStats.framesReceived += s.framesReceived;
            continue;
          }
          if (s.type === 'outbound-rtp') out.sent += s.packetsSent;
          else if (s.type === 'inbound-rtp') {
            out.recv += s.packetsReceived;
            out.lost += s.packetsLost; // from sequence numbers: immune to snapshot skew
            out.jitter.push(s.jitter * 1000);
            mergeHist(out.delayHist, s.oneWayDelayHistogram);
          }
        }
      }),
    );
    return out;
  }

  return {
    lib: sip,
    waitConnected,
    startMedia,
    countPeers,
    name: `sipwire-${mode}`,
    // JS sees no packets: delay comes from Rust's abs-send-time histograms
    // (counters().delayHist), differenced over the window by child.mjs.
    delay: 'histogram',
    async openCall(i, timeoutMs) {
      const cfg = peerConfig(codec, mode);
      const a = new RTCPeerConnection(
        mode === 'bot-rtp' ? { ...cfg, mediaProfile: 'rtp' } : video ? { ...cfg, video: { codecs: ['vp8'], direction: 'sendonly' } } : cfg,
      );
      const b = new RTCPeerConnection(video ? { ...cfg, video: {} } : cfg);
      const call = { a, b, closed: false, sink: 0 };
      try {
        const up = Promise.all([waitConnected(a, timeoutMs), waitConnected(b, timeoutMs)]);
        up.catch(() => {});
        await a.setLocalDescription(await a.createOffer());
        await a.waitForGatheringComplete(2000);
        await b.setRemoteDescription(a.localDescription);
        await b.setLocalDescription(await b.createAnswer());
        await b.waitForGatheringComplete(2000);
        await a.setRemoteDescription(b.localDescription);
        await up;
      } catch (e) {
        call.closed = true;
        a.close();
        b.close();
        throw e;
      }
      startMedia(a, call);
      startMedia(b, call);
      return call;
    },
    /** Packets sent/received/lost summed over both ends, plus inbound jitter (ms). */
    counters: (calls) => {
      videoStats.bytesSent = 0;
      videoStats.framesReceived = 0;
      return countPeers(calls.flatMap((c) => [c.a, c.b]));
    },
    extra: () => ({ nativeResources: nativeResources(), jsAudioFrames: audioFrames, ...(video ? { video: { ...videoStats } } : {}) }),
    closeCall(c) {
      c.closed = true;
      jsPeers.delete(c.a);
      jsPeers.delete(c.b);
      c.a.close();
      c.b.close();
    },
    stop() {
      stopClock?.();
    },
  };
}
