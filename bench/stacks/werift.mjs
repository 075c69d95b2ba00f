// werift (pure TypeScript) adapter: RTP passthrough. One shared 20 ms timer
// sends a pre-formatted PCMU RTP packet (send time in the payload) on every
// connected end; werift SRTP-protects it in JS. Received packets are counted
// and their one-way delay recorded. No codec work on either side.
import { requirePeer, startClock, until, RtpSender, onRtpPayload } from './common.mjs';

const { RTCPeerConnection, RTCRtpCodecParameters } = requirePeer('werift');

export function create() {
  const live = new Set(); // ends whose media is flowing
  const stopClock = startClock(20, () => {
    for (const e of live) e.transceiver.sender.sendRtp(e.rtp.next()).catch?.(() => {});
  });

  function end() {
    const pc = new RTCPeerConnection({
      codecs: { audio: [new RTCRtpCodecParameters({ mimeType: 'audio/PCMU', clockRate: 8000, channels: 1, payloadType: 0 })] },
      // werift skips loopback interfaces; the bench network has only lo.
      iceAdditionalHostAddresses: ['127.0.0.1'],
      iceUseIpv6: false,
    });
    const e = { pc, rtp: new RtpSender((Math.random() * 2 ** 32) >>> 0), counter: { recv: 0 } };
    e.transceiver = pc.addTransceiver('audio', { direction: 'sendrecv' });
    e.transceiver.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((rtp) => onRtpPayload(e.counter, rtp.payload)));
    return e;
  }

  const gathered = (pc) => until(() => pc.iceGatheringState === 'complete', 5000, 'werift gathering');
  const connected = (pc, ms) =>
    until(() => {
      if (pc.connectionState === 'failed') throw new Error('connection failed');
      return pc.connectionState === 'connected';
    }, ms, 'werift connected');

  return {
    name: 'werift',
    delay: 'payload',
    async openCall(i, timeoutMs) {
      const A = end();
      const B = end();
      const call = { A, B };
      try {
        await A.pc.setLocalDescription(await A.pc.createOffer());
        await gathered(A.pc);
        await B.pc.setRemoteDescription(A.pc.localDescription);
        await B.pc.setLocalDescription(await B.pc.createAnswer());
        await gathered(B.pc);
        await A.pc.setRemoteDescription(B.pc.localDescription);
        await Promise.all([connected(A.pc, timeoutMs), connected(B.pc, timeoutMs)]);
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
        e.pc.close().catch?.(() => {});
      }
    },
    stop() {
      stopClock();
    },
  };
}
