// RTCP on RTP port + 1 (RFC 3550 §11) for plain calls without rtcp-mux: many
// phones and trunks send their reports to port + 1 whatever a=rtcp says. A
// raw UDP far end (an RTP socket and an RTCP socket at its port + 1) offers
// RTP/AVP without rtcp-mux; our answer names port + 1, our reports leave from
// it, the far end's SR and RR sent there show in getStats (remote-outbound-rtp,
// and remote-inbound-rtp with a round-trip time), garbage there leaves the
// call intact, and the socket closes with the call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { RTCPeerConnection, nativeResources } from '../dist/index.js';
import { LOOPBACK, waitState, sendTone } from './helpers.mjs';

const FAR_SSRC = 0x1234abcd;

async function bindPair() {
  // An even RTP port with port + 1 free, as a phone would have.
  for (let i = 0; i < 50; i++) {
    const rtp = dgram.createSocket('udp4');
    await new Promise((r) => rtp.bind(0, '127.0.0.1', r));
    const port = rtp.address().port;
    if (port % 2 === 0 && port < 65534) {
      const rtcp = dgram.createSocket('udp4');
      const ok = await new Promise((r) => {
        rtcp.once('error', () => r(false));
        rtcp.bind(port + 1, '127.0.0.1', () => r(true));
      });
      if (ok) return { rtp, rtcp, port };
      rtcp.close();
    }
    rtp.close();
  }
  throw new Error('no free even port pair on 127.0.0.1');
}

function offer(port) {
  return [
    'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
    `m=audio ${port} RTP/AVP 0 101`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000',
    'a=ptime:20', 'a=sendrecv', '',
  ].join('\r\n');
}

function rtpPacket(seq) {
  const b = Buffer.alloc(12 + 160, 0xff);
  b[0] = 0x80;
  b[1] = 0;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE((seq * 160) >>> 0, 4);
  b.writeUInt32BE(FAR_SSRC, 8);
  return b;
}

/** An SR from FAR_SSRC with one report block about `ourSsrc` (LSR from our SR). */
function senderReport(ourSsrc, lsr) {
  const b = Buffer.alloc(52);
  b[0] = 0x81;
  b[1] = 200;
  b.writeUInt16BE(12, 2);
  b.writeUInt32BE(FAR_SSRC, 4);
  const ms = Date.now();
  b.writeUInt32BE(Math.floor(ms / 1000) + 2208988800, 8);
  b.writeUInt32BE(Math.floor(((ms % 1000) / 1000) * 2 ** 32) >>> 0, 12);
  b.writeUInt32BE(1600, 16);
  b.writeUInt32BE(10, 20);
  b.writeUInt32BE(1720, 24);
  b.writeUInt32BE(ourSsrc, 28);
  b.writeUInt32BE(0, 32);
  b.writeUInt32BE(100, 36);
  b.writeUInt32BE(0, 40);
  b.writeUInt32BE(lsr, 44);
  b.writeUInt32BE(0, 48);
  return b;
}

/** The first datagram on `sock` that `pred` accepts, within `ms`. */
function nextDatagram(sock, pred, ms = 10000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      sock.off('message', on);
      reject(new Error(`no matching datagram within ${ms} ms`));
    }, ms);
    const on = (msg, rinfo) => {
      if (!pred(msg, rinfo)) return;
      clearTimeout(t);
      sock.off('message', on);
      resolve({ msg, rinfo });
    };
    sock.on('message', on);
  });
}

async function statsUntil(pc, pred, ms = 5000) {
  const end = Date.now() + ms;
  for (let i = 0; i < 200 && Date.now() < end; i++) {
    const s = [...(await pc.getStats()).values()];
    if (pred(s)) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
  return null;
}

async function socketsBackTo(base) {
  for (let i = 0; i < 80 && nativeResources().openSockets > base; i++) await new Promise((r) => setTimeout(r, 25));
  return nativeResources().openSockets;
}

test('a plain call without rtcp-mux takes the far end RTCP on RTP port + 1 and closes that socket with the call', async () => {
  const base = nativeResources().openSockets;
  const far = await bindPair();
  const pc = new RTCPeerConnection(LOOPBACK);
  let seq = 0;
  let rtpTimer;
  try {
    await pc.setRemoteDescription({ type: 'offer', sdp: offer(far.port) });
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    const sdp = pc.localDescription.sdp;
    const port = Number(/m=audio (\d+)/.exec(sdp)[1]);
    assert.match(sdp, new RegExp(`a=rtcp:${port + 1}\\r\\n`), sdp);
    assert.doesNotMatch(sdp, /a=rtcp-mux/);
    assert.equal(nativeResources().openSockets, base + 2, 'an RTP and an RTCP socket');
    await waitState(pc, 'connected');

    // Our media and reports: our SR arrives from port + 1 at the far end's port + 1.
    const sr = nextDatagram(far.rtcp, (m) => m.length >= 28 && m[1] === 200, 10000);
    await sendTone(pc, 440, 4000);
    rtpTimer = setInterval(() => far.rtp.send(rtpPacket(seq++), port, '127.0.0.1'), 20);
    const { msg: ours, rinfo } = await sr;
    assert.equal(rinfo.port, port + 1, 'our RTCP leaves from the RTCP socket');
    const ourSsrc = ours.readUInt32BE(4);
    const lsr = ours.readUInt32BE(10);

    // Garbage and RTP on our RTCP port: dropped, the call goes on.
    const junk = dgram.createSocket('udp4');
    for (let i = 0; i < 50; i++) {
      const b = Buffer.alloc(1 + ((i * 37) % 300), i & 0xff);
      if (i % 2 === 0) b[0] = 0x80;
      await new Promise((r) => junk.send(b, port + 1, '127.0.0.1', r));
    }
    junk.close();

    // The far end's SR, with a block about our stream, to our port + 1.
    far.rtcp.send(senderReport(ourSsrc, lsr), port + 1, '127.0.0.1');
    const stats = await statsUntil(pc, (s) =>
      s.some((e) => e.type === 'remote-outbound-rtp' && e.ssrc === FAR_SSRC) &&
      s.some((e) => e.type === 'remote-inbound-rtp' && e.ssrc === ourSsrc && e.roundTripTimeMeasurements > 0));
    assert.ok(stats, 'the SR sent to port + 1 shows as remote-outbound-rtp and remote-inbound-rtp with an RTT');
    const ri = stats.find((e) => e.type === 'remote-inbound-rtp');
    assert.ok(ri.roundTripTime >= 0 && ri.roundTripTime < 5, `RTT ${ri.roundTripTime}`);
    assert.equal(pc.connectionState, 'connected');
    const inbound = stats.find((e) => e.type === 'inbound-rtp');
    assert.ok(inbound && inbound.packetsReceived > 0, 'RTP still flows on the RTP port');
  } finally {
    clearInterval(rtpTimer);
    pc.close();
    far.rtp.close();
    far.rtcp.close();
  }
  assert.equal(await socketsBackTo(base), base, 'both sockets closed with the call');
});

test('a plain call with rtcp-mux, and a WebRTC call, get no RTCP socket', async () => {
  const base = nativeResources().openSockets;
  const far = await bindPair();
  const pc = new RTCPeerConnection(LOOPBACK);
  const a = new RTCPeerConnection(LOOPBACK);
  const b = new RTCPeerConnection(LOOPBACK);
  try {
    await pc.setRemoteDescription({ type: 'offer', sdp: offer(far.port).replace('a=sendrecv', 'a=rtcp-mux\r\na=sendrecv') });
    await pc.setLocalDescription(await pc.createAnswer());
    const port = Number(/m=audio (\d+)/.exec(pc.localDescription.sdp)[1]);
    assert.match(pc.localDescription.sdp, new RegExp(`a=rtcp:${port}\\r\\na=rtcp-mux`));
    const o = await a.createOffer();
    await a.setLocalDescription(o);
    await b.setRemoteDescription(o);
    await b.setLocalDescription(await b.createAnswer());
    assert.equal(nativeResources().openSockets, base + 3, 'one socket per connection');
  } finally {
    pc.close();
    a.close();
    b.close();
    far.rtp.close();
    far.rtcp.close();
  }
  assert.equal(await socketsBackTo(base), base);
});

async function socketsReach(n) {
  for (let i = 0; i < 80 && nativeResources().openSockets !== n; i++) await new Promise((r) => setTimeout(r, 25));
  return nativeResources().openSockets;
}

test('a plain offer names port + 1 with a=rtcp-mux; the RTCP socket closes when the answer takes rtcp-mux, or when the call turns out WebRTC', async () => {
  const base = nativeResources().openSockets;
  const far = await bindPair();
  const pc = new RTCPeerConnection({ ...LOOPBACK, mediaProfile: 'rtp' });
  const web = new RTCPeerConnection(LOOPBACK);
  const rtpConfigured = new RTCPeerConnection({ ...LOOPBACK, mediaProfile: 'rtp' });
  try {
    // Five sockets: three RTP, and RTCP for the two connections set to offer plain.
    assert.equal(await socketsReach(base + 5), base + 5);
    const o = await pc.createOffer();
    await pc.setLocalDescription(o);
    const port = Number(/m=audio (\d+)/.exec(o.sdp)[1]);
    assert.match(o.sdp, new RegExp(`a=rtcp:${port + 1}\\r\\na=rtcp-mux`), o.sdp);
    const answer = offer(far.port).replace('a=sendrecv', 'a=rtcp-mux\r\na=sendrecv');
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    assert.equal(await socketsReach(base + 4), base + 4, 'rtcp-mux answer: the RTCP socket closed');
    // A connection set to offer plain that answers a WebRTC offer keeps one socket.
    const wo = await web.createOffer();
    await web.setLocalDescription(wo);
    await rtpConfigured.setRemoteDescription(wo);
    await rtpConfigured.setLocalDescription(await rtpConfigured.createAnswer());
    assert.match(rtpConfigured.localDescription.sdp, /UDP\/TLS\/RTP\/SAVPF/);
    assert.equal(await socketsReach(base + 3), base + 3, 'the WebRTC call has one socket');
  } finally {
    pc.close();
    web.close();
    rtpConfigured.close();
    far.rtp.close();
    far.rtcp.close();
  }
  assert.equal(await socketsBackTo(base), base);
});
