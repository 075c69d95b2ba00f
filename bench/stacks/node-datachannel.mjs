// node-datachannel 0.33 (libdatachannel) adapter: RTP passthrough through its
// own PeerConnection / Audio / Track API (the polyfill's addTrack throws "Not
// implemented"). Each end declares a PCMU sendrecv track with its SSRC; one
// shared 20 ms timer sends pre-formatted RTP (send time in the payload);
// libdatachannel SRTP-protects it in C++. Received packets are counted in JS.
import { requirePeer, startClock, until, RtpSender, onRtpBytes } from './common.mjs';

const ndc = requirePeer('node-datachannel');

export function create() {
  const live = new Set();
  const stopClock = startClock(20, () => {
    for (const e of live) e.track.sendMessageBinary(e.rtp.next());
  });

  function end(name) {
    const pc = new ndc.PeerConnection(name, { iceServers: [], bindAddress: '127.0.0.1' });
    const e = { pc, rtp: new RtpSender((Math.random() * 2 ** 32) >>> 0), counter: { recv: 0 }, state: 'new', gathering: 'new' };
    pc.onStateChange((s) => (e.state = s));
    pc.onGatheringStateChange((s) => (e.gathering = s));
    const audio = new ndc.Audio('0', 'SendRecv');
    audio.addAudioCodec(0, 'PCMU/8000');
    audio.addSSRC(e.rtp.ssrc, 'bench', 'bench-stream', 'bench-track');
    e.track = pc.addTrack(audio);
    e.track.onMessage((buf) => onRtpBytes(e.counter, buf));
    return e;
  }

  const description = async (e) => {
    await until(() => e.gathering === 'complete', 5000, 'node-datachannel gathering');
    return e.pc.localDescription();
  };
  const connected = (e, ms) =>
    until(() => {
      if (e.state === 'failed') throw new Error('connection failed');
      return e.state === 'connected';
    }, ms, 'node-datachannel connected');

  return {
    name: 'node-datachannel',
    delay: 'payload',
    async openCall(i, timeoutMs) {
      const A = end(`a${i}`);
      const B = end(`b${i}`);
      const call = { A, B };
      try {
        A.pc.setLocalDescription();
        const offer = await description(A);
        B.pc.setRemoteDescription(offer.sdp, offer.type); // auto-negotiation answers
        const answer = await description(B);
        A.pc.setRemoteDescription(answer.sdp, answer.type);
        await Promise.all([connected(A, timeoutMs), connected(B, timeoutMs)]);
        await until(() => A.track.isOpen() && B.track.isOpen(), timeoutMs, 'tracks open');
      } catch (err) {
        this.closeCall(call);
        throw err;
      }
      live.add(A);
      live.add(B);
      return call;
    },
    async counters(calls) {
      let sent = 0;
      let recv = 0;
      for (const c of calls) for (const e of [c.A, c.B]) (sent += e.rtp.sent), (recv += e.counter.recv);
      return { sent, recv };
    },
    closeCall(c) {
      for (const e of [c.A, c.B]) {
        live.delete(e);
        try {
          e.track.close();
          e.pc.close();
        } catch {}
      }
    },
    stop() {
      stopClock();
      ndc.cleanup?.();
    },
  };
}
