// Issue #13, sending video: one sipwire peer sends a clip made by ffmpeg (testsrc,
// VP8 in IVF and H.264 Annex B) with playVideo; the other records it, and ffprobe
// reads the recording: the codec, the clip's size and every frame. Misuse rejects
// with a reason and never hangs: no video negotiated for sending, a clip in another
// codec than the negotiated one, a missing or malformed file.
// Runs only inside a network namespace with nothing but `lo` (scripts/test.sh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RTCPeerConnection, nativeResources } from '../dist/index.js';
import { LOOPBACK, connectedPair, waitFor, waitState } from './helpers.mjs';
import { makeClip, probe } from './support/video.mjs';

let dir;
const clips = {};

const videoOf = async (pc, type) => [...(await pc.getStats()).values()].find((s) => s.type === type && s.kind === 'video');

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sipwire-video-send-'));
  clips.vp8 = makeClip(dir, 'vp8');
  clips.h264 = makeClip(dir, 'h264');
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

for (const [codec, ffname] of [
  ['vp8', 'vp8'],
  ['h264', 'h264'],
]) {
  test(`${codec}: a clip sent with playVideo is recorded whole by another sipwire peer`, async () => {
    const base = nativeResources();
    const [a, b] = await connectedPair({ video: { codecs: [codec], direction: 'sendonly' } }, { video: {} });
    const rec = join(dir, `rec-${codec}`);
    try {
      const offer = a.localDescription.sdp;
      assert.match(offer, /^a=sendonly/m, offer);
      assert.match(offer, /^a=ssrc-group:FID \d+ \d+/m, 'our video SSRC and its RTX SSRC are announced');
      assert.match(b.localDescription.sdp, /^a=recvonly/m);
      await b.startVideoRecording(rec);
      const t0 = Date.now();
      const result = await a.playVideo(clips[codec]);
      const took = Date.now() - t0;
      assert.deepEqual(result, { stopped: false }, 'the clip played to its end');
      // Paced by the file: 90 frames at 30 fps take 3 s, not a burst.
      assert.ok(took >= 2900 && took < 4500, `a 3 s clip took ${took} ms`);
      const out = await videoOf(a, 'outbound-rtp');
      for (let i = 0; i < 40 && (await videoOf(b, 'inbound-rtp'))?.framesReceived < out.framesSent; i++) await new Promise((r) => setTimeout(r, 25));
      await b.stopVideoRecording();
      const inb = await videoOf(b, 'inbound-rtp');
      console.log(`${codec}: sent ${JSON.stringify(out)}; received ${inb.framesReceived} frames ${inb.frameWidth}x${inb.frameHeight}`);
      assert.ok(out.framesSent >= 90, `framesSent ${out.framesSent}`);
      assert.deepEqual([out.frameWidth, out.frameHeight], [320, 240], 'frameWidth/frameHeight from the clip');
      assert.ok(out.packetsSent >= out.framesSent && out.bytesSent > 10000);
      assert.equal(out.ssrc, inb.ssrc);
      assert.equal(inb.framesReceived, out.framesSent, 'every frame arrived');
      // The recording asked for a key frame (PLI) once the stream came: answered by
      // sending the clip's latest key frame again, beyond its own 3 (one a second).
      assert.ok(out.pliCount >= 1 && inb.pliCount >= 1, 'a PLI went and arrived');
      assert.ok(out.keyFramesSent >= 4, `keyFramesSent ${out.keyFramesSent}`);
      const got = probe(rec);
      assert.equal(got.codec, ffname);
      assert.deepEqual([got.width, got.height], [320, 240]);
      // From the first key frame the recording saw (it asked with a PLI, which the
      // sender answers by sending its latest key frame again).
      assert.ok(got.frames >= 89, `recording has ${got.frames} frames`);
      assert.equal(got.errors, '', 'ffprobe decoded the recording cleanly');
    } finally {
      a.close();
      b.close();
    }
    for (let i = 0; i < 80 && nativeResources().livePeers > base.livePeers; i++) await new Promise((r) => setTimeout(r, 25));
    assert.deepEqual(nativeResources(), base, 'sockets and peers freed');
  });
}

test('playVideo misuse rejects with the reason; stopVideo and close settle a looping clip', async () => {
  const notVideo = join(dir, 'not-video.bin');
  writeFileSync(notVideo, 'hello');
  // No video at all.
  const plain = new RTCPeerConnection({ ...LOOPBACK });
  await assert.rejects(plain.playVideo(clips.vp8), { code: 'ERR_INVALID_STATE', message: /no video negotiated for sending/ });
  plain.close();
  const [a, b] = await connectedPair({ video: { codecs: ['vp8'], direction: 'sendrecv' } }, { video: { direction: 'recvonly' } });
  try {
    await assert.rejects(a.playVideo(join(dir, 'missing.ivf')), { code: 'ERR_INVALID_ARG', message: /missing\.ivf/ });
    await assert.rejects(a.playVideo(notVideo), { code: 'ERR_INVALID_ARG', message: /expected IVF \(VP8\) or H\.264 Annex B/ });
    await assert.rejects(a.playVideo(clips.h264, { fps: 0 }), { code: 'ERR_INVALID_ARG', message: /fps/ });
    await assert.rejects(a.playVideo(clips.h264), { code: 'ERR_INVALID_STATE', message: /the clip is H264 but the call negotiated VP8/ });
    // The receive-only side cannot send.
    await assert.rejects(b.playVideo(clips.vp8), { code: 'ERR_INVALID_STATE', message: /no video negotiated for sending/ });
    // A looping clip ends only when stopped: by another clip, stopVideo or close.
    const first = a.playVideo(clips.vp8, { loop: true });
    const second = a.playVideo(clips.vp8, { loop: true });
    assert.deepEqual(await first, { stopped: true }, 'replaced');
    a.stopVideo();
    assert.deepEqual(await second, { stopped: true }, 'stopVideo');
    const third = a.playVideo(clips.vp8, { loop: true });
    await new Promise((r) => setTimeout(r, 100));
    a.close();
    assert.deepEqual(await third, { stopped: true }, 'close');
    await assert.rejects(a.playVideo(clips.vp8), { code: 'ERR_CLOSED' });
  } finally {
    a.close();
    b.close();
  }
});

test("the far end's b=AS is reported as maxBitrate, a clip above it warns (video-bitrate) but plays, and one started before the connection is up starts with its key frame", async () => {
  const a = new RTCPeerConnection({ ...LOOPBACK, video: { codecs: ['vp8'], direction: 'sendonly' } });
  const b = new RTCPeerConnection({ ...LOOPBACK, video: {} });
  try {
    const up = Promise.all([waitState(a, 'connected'), waitState(b, 'connected')]);
    await a.setLocalDescription(await a.createOffer());
    await a.waitForGatheringComplete(2000);
    await b.setRemoteDescription(a.localDescription);
    await b.setLocalDescription(await b.createAnswer());
    await b.waitForGatheringComplete(2000);
    // The receiver asks for at most 64 kbit/s of video (RFC 4566 b=AS, kbit/s).
    const answer = b.localDescription.sdp.replace(/(m=video [^\r\n]*\r\n(?:c=[^\r\n]*\r\n)?)/, '$1b=AS:64\r\n');
    assert.match(answer, /m=video[^]*b=AS:64/, answer);
    const warned = waitFor(a, 'warning', (e) => e.code === 'video-bitrate', 5000);
    await a.setRemoteDescription({ type: 'answer', sdp: answer });
    // Started before the connection is up: the key frame waits for it, it is not lost.
    const played = a.playVideo(clips.vp8);
    await up;
    const w = await warned;
    assert.match(w.message, /at most 64 kbit\/s/);
    let inb;
    for (let i = 0; i < 40 && !(inb?.framesReceived >= 5); i++) {
      await new Promise((r) => setTimeout(r, 25));
      inb = await videoOf(b, 'inbound-rtp');
    }
    const out = await videoOf(a, 'outbound-rtp');
    assert.equal(out.maxBitrate, 64000);
    assert.ok(out.framesSent > 0, 'the clip plays all the same');
    assert.ok(inb?.framesReceived >= 5 && inb.keyFramesReceived >= 1, `received ${JSON.stringify(inb)}`);
    assert.equal(inb.framesDropped, 0, 'the first frame, a key frame, arrived: nothing was undecodable');
    a.stopVideo();
    assert.deepEqual(await played, { stopped: true });
  } finally {
    a.close();
    b.close();
  }
});

test('examples/video-recorder with a clip: a SIP.js caller (in-memory SIP) receives the looped clip while it is recorded', async () => {
  const { UserAgent, Inviter, SessionState } = await import('sip.js');
  const { InMemorySipLink, sessionDescriptionHandlerFactory } = await import('../dist/sip.js');
  const { startVideoRecorder } = await import('../examples/video-recorder/index.mjs');
  const link = new InMemorySipLink();
  const sdh = sessionDescriptionHandlerFactory({ peerConnectionConfiguration: { ...LOOPBACK }, iceGatheringTimeout: 1000 });
  const ua = (user) =>
    new UserAgent({ uri: UserAgent.makeURI(`sip:${user}@test.invalid`), transportConstructor: link.transportFor(user), sessionDescriptionHandlerFactory: sdh, logBuiltinEnabled: false });
  const recorder = ua('recorder');
  const caller = ua('caller');
  const results = [];
  const logs = [];
  startVideoRecorder(recorder, { dir, clip: clips.vp8, onResult: (r) => results.push(r), log: (l) => logs.push(l) });
  await recorder.start();
  await caller.start();
  const inviter = new Inviter(caller, UserAgent.makeURI('sip:recorder@test.invalid'), {
    sessionDescriptionHandlerOptions: { video: { codecs: ['vp8'], direction: 'recvonly' } },
  });
  const established = new Promise((resolve, reject) =>
    inviter.stateChange.addListener((s) => (s === SessionState.Established ? resolve() : s === SessionState.Terminated && reject(new Error('call ended')))),
  );
  try {
    await inviter.invite();
    await established;
    const pc = inviter.sessionDescriptionHandler.peerConnection;
    let v;
    for (let i = 0; i < 100; i++) {
      v = await videoOf(pc, 'inbound-rtp');
      if (v?.framesReceived >= 30) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(v?.framesReceived >= 30, `the caller received ${v?.framesReceived} frames; ${logs.join('; ')}`);
    assert.deepEqual([v.frameWidth, v.frameHeight], [320, 240], "the clip's size");
    await inviter.bye();
    for (let i = 0; i < 100 && results.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(results.length, 1, `the recorder finished the call; ${logs.join('; ')}`);
  } finally {
    await caller.stop();
    await recorder.stop();
  }
});
