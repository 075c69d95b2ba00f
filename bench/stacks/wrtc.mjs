// @roamhq/wrtc (libwebrtc) adapter: the full audio path. JS feeds 10 ms PCM
// frames (16 kHz) into an RTCAudioSource from one shared timer; libwebrtc
// encodes, packetises (20 ms), jitter-buffers and decodes; an RTCAudioSink
// hands 10 ms frames back to JS. Codec chosen by munging the offer that the
// answerer sees (wrtc 0.10 has no setCodecPreferences): 'pcmu' keeps PT 0 only,
// 'opus' keeps libwebrtc's default (Opus first).
import { requirePeer, startClock, until } from './common.mjs';

const wrtc = requirePeer('@roamhq/wrtc');
const { RTCPeerConnection, MediaStream } = wrtc;
const { RTCAudioSource, RTCAudioSink } = wrtc.nonstandard;

/** Keep only payload type `pt` in the audio m-section (and its a= lines). */
function onlyCodec(sdp, pt) {
  const lines = sdp.split('\r\n');
  const drop = new Set();
  const out = lines.map((l) => {
    const m = /^m=audio (\d+) (\S+) (.*)$/.exec(l);
    if (!m) return l;
    for (const p of m[3].split(' ')) if (p !== String(pt)) drop.add(p);
    return `m=audio ${m[1]} ${m[2]} ${pt}`;
  });
  return out.filter((l) => !(/^a=(rtpmap|fmtp|rtcp-fb):(\d+)/.test(l) && drop.has(/:(\d+)/.exec(l)[1]))).join('\r\n');
}

async function completeDescription(pc, ms) {
  await until(() => pc.iceGatheringState === 'complete', ms, 'ICE gathering');
  return { type: pc.localDescription.type, sdp: pc.localDescription.sdp };
}

function waitConnected(pc, ms) {
  return until(() => {
    if (pc.connectionState === 'failed') throw new Error('connection failed');
    return pc.connectionState === 'connected';
  }, ms, `wrtc connected (${pc.connectionState})`);
}

export function create(codec) {
  const sources = new Set();
  const pcm = new Int16Array(16000); // 1 s, 400 Hz tone; 10 ms slices are phase-continuous
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 400 * i) / 16000));
  let idx = 0;
  const stopClock = startClock(10, () => {
    const off = (idx++ % 100) * 160;
    const samples = pcm.slice(off, off + 160);
    const frame = { samples, sampleRate: 16000, bitsPerSample: 16, channelCount: 1, numberOfFrames: 160 };
    for (const s of sources) s.onData(frame);
  });
  let sinkFrames = 0;

  function end(call, name) {
    const pc = new RTCPeerConnection({ iceServers: [] });
    const source = new RTCAudioSource();
    const track = source.createTrack();
    pc.addTrack(track, new MediaStream([track]));
    pc.ontrack = (ev) => {
      const sink = new RTCAudioSink(ev.track);
      sink.ondata = () => sinkFrames++;
      call.sinks.push(sink);
    };
    call[name] = { pc, source, track };
    return pc;
  }

  return {
    name: `wrtc-${codec}`,
    delay: null, // audio goes through the codec and jitter buffer: no place for a send timestamp
    async openCall(i, timeoutMs) {
      const call = { sinks: [] };
      const a = end(call, 'A');
      const b = end(call, 'B');
      try {
        await a.setLocalDescription(await a.createOffer());
        const offer = await completeDescription(a, 5000);
        if (codec === 'pcmu') offer.sdp = onlyCodec(offer.sdp, 0);
        await b.setRemoteDescription(offer);
        await b.setLocalDescription(await b.createAnswer());
        await a.setRemoteDescription(await completeDescription(b, 5000));
        await Promise.all([waitConnected(a, timeoutMs), waitConnected(b, timeoutMs)]);
      } catch (e) {
        this.closeCall(call);
        throw e;
      }
      // Media starts once connected, as a real app would start its source.
      sources.add(call.A.source);
      sources.add(call.B.source);
      return call;
    },
    async counters(calls) {
      const out = { sent: 0, recv: 0, lost: 0, jitter: [] };
      await Promise.all(
        calls.flatMap((c) => [c.A.pc, c.B.pc]).map(async (pc) => {
          (await pc.getStats()).forEach((s) => {
            if (s.type === 'outbound-rtp' && s.kind === 'audio') out.sent += s.packetsSent;
            else if (s.type === 'inbound-rtp' && s.kind === 'audio') {
              out.recv += s.packetsReceived;
              out.lost += s.packetsLost ?? 0;
              if (typeof s.jitter === 'number') out.jitter.push(s.jitter * 1000);
            }
          });
        }),
      );
      return out;
    },
    extra: () => ({ sinkFrames }),
    closeCall(c) {
      for (const s of c.sinks) s.stop();
      for (const e of [c.A, c.B]) {
        if (!e) continue;
        sources.delete(e.source);
        e.track.stop();
        e.pc.close();
      }
    },
    stop() {
      stopClock();
    },
  };
}
