// Issue #13 over the plain profiles: video over RTP/AVP and SDES-SRTP (RTP/SAVP), where
// there is no BUNDLE: the video section has its own port (RTCP at port + 1 unless
// rtcp-mux), its own latch and, under SDES, its own keys.
// a) Two sipwire peers, mediaProfile 'rtp' and 'sdes': one plays an IVF VP8 clip made by
//    ffmpeg (testsrc), the other records it; ffprobe reads the file. A tone goes along on
//    the audio; the video sockets count in nativeResources().openSockets and close with
//    the call; an audio-only plain call binds none.
// b) A real softphone, baresip (Debian baresip-core with its vp8 and fakevideo modules),
//    calls the bot with plain RTP audio + video and the bot calls baresip: the bot records
//    baresip's fakevideo VP8 (asking for a key frame with a PLI: baresip writes
//    `a=rtcp-fb:* nack pli` even over RTP/AVP) and hears its tone; ffprobe reads the recording.
// c) ffmpeg as a plain peer: its RTP muxer sends PCMU + VP8 with no rtcp-fb (the bot sends
//    no feedback and its recording starts at ffmpeg's next key frame); and ffmpeg receives
//    the bot's clip from an SDP file (under SDES with the key of our video section only),
//    copies it to an IVF, and ffprobe reads it.
// Runs only inside a network namespace with nothing but `lo` (scripts/test.sh).
import { test, describe, before, after } from 'node:test';
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserAgent, Inviter, SessionState } from 'sip.js';
import { RTCPeerConnection, nativeResources, sineWave } from '../dist/index.js';
import { Call, answerCall } from '../dist/sip.js';
import { LOOPBACK, connectedPair, negotiate, waitState } from './helpers.mjs';
import { makeClip, probe } from './support/video.mjs';
import { startBaresip } from './support/baresip.mjs';
import { heardTone, near, onceState, startUdpBot, withTimeout } from './support/sip.mjs';

let dir;
let clip;
let h264Clip;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sipwire-video-plain-'));
  clip = makeClip(dir, 'vp8');
  h264Clip = makeClip(dir, 'h264');
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const videoOf = async (pc, type) => [...(await pc.getStats()).values()].find((s) => s.type === type && s.kind === 'video');
const tone = (freq, ms = 30000) => ({ samples: sineWave(freq, 16000, ms), sampleRate: 16000 });

/** The m= section of `media` in `sdp`. */
function section(sdp, media) {
  const m = sdp.match(new RegExp(`^m=${media} [^]*?(?=^m=|(?![^]))`, 'm'));
  assert.ok(m, `no m=${media} section in\n${sdp}`);
  return m[0];
}
const portOf = (sec) => Number(sec.match(/^m=\w+ (\d+)/)[1]);
const keysOf = (sec) => [...sec.matchAll(/^a=crypto:\S+ \S+ inline:([^\s|]+)/gm)].map((m) => m[1]);

/** Wait (bounded) until openSockets is `n`; returns what it is. */
async function socketsSettle(n) {
  for (let i = 0; i < 80 && nativeResources().openSockets !== n; i++) await new Promise((r) => setTimeout(r, 25));
  return nativeResources().openSockets;
}

for (const [profile, proto, codec] of [
  ['rtp', 'RTP/AVP', 'vp8'],
  ['sdes', 'RTP/SAVP', 'vp8'],
  ['rtp', 'RTP/AVP', 'h264'],
]) {
  test(`${profile}: a ${codec} clip played over ${proto} is recorded whole by another sipwire peer; video has its own port, keys and sockets`, async () => {
    const base = nativeResources();
    const [a, b] = await connectedPair(
      { mediaProfile: profile, codecs: ['pcmu'], video: { codecs: [codec], direction: 'sendonly' } },
      { video: {} },
    );
    const rec = join(dir, `rec-${profile}-${codec}`);
    const pts = codec === 'vp8' ? '96 97' : '102 103';
    try {
      const offer = a.localDescription.sdp;
      const answer = b.localDescription.sdp;
      const [oa, ov, aa, av] = [section(offer, 'audio'), section(offer, 'video'), section(answer, 'audio'), section(answer, 'video')];
      assert.match(ov, new RegExp(`^m=video \\d+ ${proto} ${pts}\\r?$`, 'm'), offer);
      assert.match(av, new RegExp(`^m=video \\d+ ${proto} ${pts}\\r?$`, 'm'), answer);
      if (codec === 'h264') assert.match(av, /^a=fmtp:102 .*packetization-mode=1/m, av);
      assert.ok(portOf(ov) !== portOf(oa) && portOf(av) !== portOf(aa), 'video on a port of its own, each side');
      assert.doesNotMatch(offer + answer, /BUNDLE/);
      assert.match(ov, /^a=sendonly/m);
      assert.match(av, /^a=recvonly/m);
      if (profile === 'sdes') {
        assert.equal(keysOf(aa).length, 1);
        assert.equal(keysOf(av).length, 1);
        assert.notEqual(keysOf(aa)[0], keysOf(av)[0], 'the video section has keys of its own');
        assert.ok(keysOf(ov).every((k) => !keysOf(oa).includes(k)), 'offered video keys are not the audio ones');
      } else {
        assert.doesNotMatch(offer + answer, /a=crypto/);
      }
      // Both took rtcp-mux: an audio and a video socket per side, nothing more.
      assert.equal(await socketsSettle(base.openSockets + 4), base.openSockets + 4, 'audio + video socket per side');

      a.play(tone(1200));
      const heard = await heardTone(b, 600, 16000);
      assert.ok(near(heard, 1200), `the audio still flows: b heard ${heard} Hz`);

      await b.startVideoRecording(rec);
      const result = await a.playVideo(codec === 'vp8' ? clip : h264Clip);
      assert.deepEqual(result, { stopped: false }, 'the clip played to its end');
      const out = await videoOf(a, 'outbound-rtp');
      for (let i = 0; i < 40 && (await videoOf(b, 'inbound-rtp'))?.framesReceived < out.framesSent; i++) await new Promise((r) => setTimeout(r, 25));
      await b.stopVideoRecording();
      const inb = await videoOf(b, 'inbound-rtp');
      console.log(`${profile} ${codec}: sent ${out.framesSent} frames (${out.keyFramesSent} key, ${out.pliCount} PLI); received ${inb.framesReceived} ${inb.frameWidth}x${inb.frameHeight}`);
      assert.ok(out.framesSent >= 90, `framesSent ${out.framesSent}`);
      assert.equal(inb.framesReceived, out.framesSent, 'every frame arrived');
      assert.equal(out.ssrc, inb.ssrc);
      assert.ok(out.pliCount >= 1 && inb.pliCount >= 1, 'the recording PLI went over the video wire and arrived');
      assert.deepEqual([inb.frameWidth, inb.frameHeight], [320, 240]);
      const got = probe(rec);
      console.log(`${profile} ${codec}: ffprobe ${JSON.stringify(got)}`);
      assert.equal(got.codec, codec);
      assert.deepEqual([got.width, got.height], [320, 240]);
      assert.ok(got.frames >= 89, `recording has ${got.frames} frames`);
      assert.equal(got.errors, '', 'ffprobe decoded the recording cleanly');
    } finally {
      a.close();
      b.close();
    }
    for (let i = 0; i < 80 && nativeResources().livePeers > base.livePeers; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(await socketsSettle(base.openSockets), base.openSockets, 'video sockets closed with the call');
    assert.deepEqual(nativeResources(), base, 'sockets and peers freed');
  });
}

test('rtp without rtcp-mux: video RTCP at its port + 1; an audio-only plain call binds no video socket; a rejected video section frees them', async () => {
  const base = nativeResources().openSockets;
  // Audio only: an RTP and an RTCP socket, as before.
  const plain = new RTCPeerConnection({ ...LOOPBACK, mediaProfile: 'rtp' });
  try {
    await plain.setLocalDescription(await plain.createOffer());
    assert.doesNotMatch(plain.localDescription.sdp, /m=video/);
    assert.equal(await socketsSettle(base + 2), base + 2, 'no video socket without video');
  } finally {
    plain.close();
  }
  assert.equal(await socketsSettle(base), base);
  // With video, offered: audio RTP + RTCP, video RTP + RTCP.
  const a = new RTCPeerConnection({ ...LOOPBACK, mediaProfile: 'rtp', video: { codecs: ['vp8'] } });
  const b = new RTCPeerConnection({ ...LOOPBACK, video: { codecs: ['vp8'], direction: 'sendonly' } });
  const c = new RTCPeerConnection({ ...LOOPBACK });
  try {
    await a.setLocalDescription(await a.createOffer());
    const ov = section(a.localDescription.sdp, 'video');
    assert.match(ov, new RegExp(`^a=rtcp:${portOf(ov) + 1}\\r?$`, 'm'), 'video RTCP at its port + 1');
    assert.equal(await socketsSettle(base + 6), base + 6, 'a: audio RTP + RTCP, video RTP + RTCP; b and c: one each');
    // A far end without rtcp-mux: every socket stays, video RTCP on its own.
    const noMux = a.localDescription.sdp.replace(/a=rtcp-mux\r\n/g, '');
    await b.setRemoteDescription({ type: 'offer', sdp: noMux });
    await b.setLocalDescription(await b.createAnswer());
    const bv = section(b.localDescription.sdp, 'video');
    assert.match(bv, new RegExp(`^a=rtcp:${portOf(bv) + 1}\\r?$`, 'm'), b.localDescription.sdp);
    assert.doesNotMatch(bv, /rtcp-mux/);
    assert.equal(await socketsSettle(base + 9), base + 9, 'b: audio RTCP, video RTP + RTCP more');
    // An audio-only answerer (no `video`) rejects the video: a frees both video sockets.
    await c.setRemoteDescription(a.localDescription);
    await c.setLocalDescription(await c.createAnswer());
    assert.match(c.localDescription.sdp, /^m=video 0 /m);
    assert.equal(await socketsSettle(base + 9), base + 9, 'c binds nothing more (rtcp-mux, no video)');
    await a.setRemoteDescription(c.localDescription);
    assert.equal(await socketsSettle(base + 6), base + 6, 'a closed its audio RTCP (rtcp-mux) and both video sockets');
  } finally {
    a.close();
    b.close();
    c.close();
  }
  assert.equal(await socketsSettle(base), base);
});

test('a connection set to offer plain RTP with video that answers a WebRTC offer closes its RTCP and video sockets at once', async () => {
  const base = nativeResources().openSockets;
  const w = new RTCPeerConnection({ ...LOOPBACK, video: {} });
  const p = new RTCPeerConnection({ ...LOOPBACK, mediaProfile: 'rtp', video: { codecs: ['vp8'] } });
  try {
    assert.equal(await socketsSettle(base + 5), base + 5, 'w: one socket; p: audio RTP + RTCP, video RTP + RTCP, bound for its offer');
    const up = Promise.all([waitState(w, 'connected'), waitState(p, 'connected')]);
    await negotiate(w, p);
    await up;
    assert.match(p.localDescription.sdp, /UDP\/TLS\/RTP\/SAVPF/, 'the answer takes the offer\'s profile');
    assert.equal(await socketsSettle(base + 2), base + 2, 'one socket each: the plain ones are closed');
  } finally {
    w.close();
    p.close();
  }
  assert.equal(await socketsSettle(base), base);
});

// ---- a real peer: baresip ----

const BARESIP_HZ = 700;

const baresipVideo = {
  toneHz: BARESIP_HZ,
  codecs: 'PCMU/8000/1',
  modules: ['vp8.so', 'fakevideo.so'],
  accountParams: ['video_codecs=vp8'],
  config: ['video_source fakevideo,nil', 'video_display fakevideo,nil', 'video_size 320x240', 'video_fps 15', 'video_bitrate 300000'],
};

const withBaresip = async (pc, body) => {
  const bs = await startBaresip(baresipVideo);
  const bot = await startUdpBot(pc);
  try {
    await body({ bs, bot });
  } catch (e) {
    e.message += `\n--- baresip output (tail) ---\n${bs.output().slice(-3000)}`;
    throw e;
  } finally {
    await bot.stop();
    await bs.stop();
  }
};

/** Record `ms` of the call's received video, then check the file with ffprobe. */
async function recordsBaresip(call, file, ms, mark) {
  const pc = call.peerConnection;
  await call.recordVideo(file);
  // Recording starts at a key frame: over RTP/AVP without rtcp-fb nothing may ask for
  // one, so the file begins at baresip's next own key frame.
  let inb;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 200));
    inb = await videoOf(pc, 'inbound-rtp');
  }
  await call.stopVideoRecording();
  console.log(`${mark}: inbound video ${JSON.stringify(inb)}`);
  assert.ok(inb?.framesReceived > 0, `${mark}: video frames arrived from baresip: ${JSON.stringify(inb)}`);
  // The recording asked for a key frame (nack pli negotiated) and baresip sent one.
  assert.ok(inb.pliCount >= 1 && inb.keyFramesReceived >= 1, `${mark}: PLI ${inb.pliCount}, key frames ${inb.keyFramesReceived}`);
  const got = probe(file);
  console.log(`${mark}: ffprobe ${JSON.stringify(got)}`);
  assert.equal(got.codec, 'vp8');
  assert.deepEqual([got.width, got.height], [320, 240], `${mark}: baresip's video_size`);
  assert.ok(got.frames >= 10, `${mark}: the recording has ${got.frames} frames`);
  return { inb, got };
}

describe('baresip: plain RTP audio + video', { timeout: 180_000 }, () => {
  test('baresip calls the bot (RTP/AVP audio + VP8): the bot answers video on its own port, records baresip\'s fakevideo and hears its tone', () =>
    withBaresip({ codecs: ['pcmu'], video: { codecs: ['vp8'], direction: 'recvonly' } }, async ({ bs, bot }) => {
      await bs.command('dial', bot.uri);
      const inv = await bot.nextInvite();
      const offer = inv.request.body;
      console.log(`baresip's offer:\n${offer}`);
      const call = await answerCall(inv, { video: { codecs: ['vp8'], direction: 'recvonly' } });
      await onceState(inv, SessionState.Established);
      try {
        const ours = call.peerConnection.localDescription.sdp;
        const v = section(ours, 'video');
        assert.match(v, /^m=video \d+ RTP\/AVP \d+/m, ours);
        assert.notEqual(portOf(v), portOf(section(ours, 'audio')));
        assert.match(v, /^a=recvonly/m);
        // baresip offers `a=rtcp-fb:* nack pli` (RFC 4585's wildcard): answered per payload type.
        assert.match(offer, /^a=rtcp-fb:\* nack pli/m);
        assert.match(v, /^a=rtcp-fb:\d+ nack pli/m, v);
        const heard = await heardTone(call, 600, 16000);
        assert.ok(near(heard, BARESIP_HZ), `the bot heard ${heard} Hz from baresip`);
        await recordsBaresip(call, join(dir, 'baresip-calls.ivf'), 4000, 'baresip calls the bot');
      } finally {
        const closed = bs.events.length;
        await call.hangup();
        await bs.waitEvent('CALL_CLOSED', 5000, closed);
      }
    }));

  test('the bot calls baresip (mediaProfile rtp with video): baresip answers the video section, the bot records it and hears the tone', () =>
    withBaresip({ mediaProfile: 'rtp', codecs: ['pcmu'], video: { codecs: ['vp8'], direction: 'recvonly' } }, async ({ bs, bot }) => {
      const inviter = new Inviter(bot.ua, UserAgent.makeURI(bs.uri));
      const call = new Call(inviter);
      const from = bs.events.length;
      await inviter.invite();
      await bs.waitEvent('CALL_INCOMING', 5000, from);
      await bs.command('accept');
      await onceState(inviter, SessionState.Established);
      try {
        const theirs = call.peerConnection.remoteDescription.sdp;
        console.log(`baresip's answer:\n${theirs}`);
        assert.match(section(theirs, 'video'), /^m=video [1-9]\d* RTP\/AVP/m, 'baresip took the video');
        const heard = await heardTone(call, 600, 16000);
        assert.ok(near(heard, BARESIP_HZ), `the bot heard ${heard} Hz from baresip`);
        await recordsBaresip(call, join(dir, 'bot-calls.ivf'), 4000, 'the bot calls baresip');
      } finally {
        const closed = bs.events.length;
        await call.hangup();
        await withTimeout(bs.waitEvent('CALL_CLOSED', 5000, closed), 6000, 'baresip saw the BYE');
      }
    }));
});

// ---- a real peer without feedback: ffmpeg's RTP muxer ----

test('ffmpeg sends PCMU and VP8 over RTP/AVP with no rtcp-fb: the bot sends no NACK or PLI, its recording starts at ffmpeg\'s next key frame, and the tone is heard', async () => {
  const base = nativeResources();
  const bot = new RTCPeerConnection({ ...LOOPBACK, video: { codecs: ['vp8'] } });
  let ff;
  try {
    // What ffmpeg would describe (`-sdp_file`), as an offer: nothing but rtpmaps.
    const offer = [
      'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=ffmpeg', 'c=IN IP4 127.0.0.1', 't=0 0',
      'm=audio 9 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', 'a=sendonly',
      'm=video 9 RTP/AVP 96', 'a=rtpmap:96 VP8/90000', 'a=sendonly', '',
    ].join('\r\n');
    await bot.setRemoteDescription({ type: 'offer', sdp: offer });
    await bot.setLocalDescription(await bot.createAnswer());
    const ours = bot.localDescription.sdp;
    const [a, v] = [section(ours, 'audio'), section(ours, 'video')];
    assert.match(v, /^m=video \d+ RTP\/AVP 96\r?$/m, ours);
    assert.match(v, /^a=recvonly/m);
    assert.doesNotMatch(v, /rtcp-fb|rtx/, 'no feedback, no RTX: none was offered');
    const args = [
      '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=30',
      '-re', '-f', 'lavfi', '-i', 'sine=frequency=700:sample_rate=8000:samples_per_frame=160',
      '-map', '0:v', '-t', '5', '-c:v', 'libvpx', '-g', '30', '-b:v', '300k', '-deadline', 'realtime', '-payload_type', '96', '-f', 'rtp', `rtp://127.0.0.1:${portOf(v)}`,
      '-map', '1:a', '-t', '5', '-c:a', 'pcm_mulaw', '-payload_type', '0', '-f', 'rtp', `rtp://127.0.0.1:${portOf(a)}`,
    ];
    let err = '';
    ff = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    ff.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    const exited = new Promise((resolve) => ff.once('exit', resolve));
    const heard = await heardTone(bot, 600, 16000);
    assert.ok(near(heard, 700), `the bot heard ${heard} Hz from ffmpeg`);
    // Start recording mid-GOP: nothing can ask ffmpeg for a key frame, so the file
    // begins at its next one (every 30 frames).
    let inb = await videoOf(bot, 'inbound-rtp');
    for (let i = 0; i < 100 && !(inb?.framesReceived > 5); i++) {
      await new Promise((r) => setTimeout(r, 20));
      inb = await videoOf(bot, 'inbound-rtp');
    }
    assert.ok(inb?.framesReceived > 5, `video from ffmpeg: ${JSON.stringify(inb)}`);
    const rec = join(dir, 'ffmpeg.ivf');
    await bot.startVideoRecording(rec);
    assert.equal(await withTimeout(exited, 15000, 'ffmpeg ends after 5 s'), 0, err);
    await bot.stopVideoRecording();
    inb = await videoOf(bot, 'inbound-rtp');
    console.log(`ffmpeg: inbound video ${JSON.stringify(inb)}`);
    assert.deepEqual([inb.nackCount, inb.pliCount, inb.firCount], [0, 0, 0], 'no feedback sent');
    assert.ok(inb.keyFramesReceived >= 4, `key frames ${inb.keyFramesReceived}`);
    assert.ok(inb.framesReceived >= 140, `frames ${inb.framesReceived}`);
    const got = probe(rec);
    console.log(`ffmpeg: ffprobe ${JSON.stringify(got)}`);
    assert.equal(got.codec, 'vp8');
    assert.deepEqual([got.width, got.height], [320, 240]);
    assert.equal(got.errors, '', 'decodable from its first frame: it starts at a key frame');
    assert.ok(got.frames >= 60 && got.frames < inb.framesReceived, `${got.frames} of ${inb.framesReceived} frames, from a key frame on`);
    assert.equal((inb.framesReceived - got.frames) % 30, 0, 'the file starts at one of ffmpeg\'s key frames (-g 30)');
  } finally {
    if (ff && ff.exitCode === null) ff.kill('SIGKILL');
    bot.close();
  }
  for (let i = 0; i < 80 && nativeResources().livePeers > base.livePeers; i++) await new Promise((r) => setTimeout(r, 25));
  assert.deepEqual(nativeResources(), base, 'sockets and peers freed');
});

/** True when UDP 127.0.0.1:port can be bound (nobody holds it) right now. */
const udpFree = (port) =>
  new Promise((resolve) => {
    const sock = createSocket('udp4');
    sock.once('error', () => (sock.close(), resolve(false)));
    sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(true)));
  });

/** An even port p with p and p + 1 free (ffmpeg's RTP demuxer takes both). */
async function freeRtpPort() {
  for (let i = 0; i < 50; i++) {
    const p = 20000 + 2 * Math.floor(Math.random() * 20000);
    if ((await udpFree(p)) && (await udpFree(p + 1))) return p;
  }
  throw new Error('no free even UDP port pair on 127.0.0.1');
}

for (const [profile, proto] of [
  ['rtp', 'RTP/AVP'],
  ['sdes', 'RTP/SAVP'],
]) {
  test(`${profile}: ffmpeg receives the bot's clip over ${proto} (its own SDP file${profile === 'sdes' ? ', our video key' : ''}) and copies it to an IVF that ffprobe reads`, async () => {
    const base = nativeResources();
    const bot = new RTCPeerConnection({ ...LOOPBACK, mediaProfile: profile, codecs: ['pcmu'], video: { codecs: ['vp8'], direction: 'sendonly' } });
    // The audio goes to a plain UDP socket of ours: packets arriving there show it flows.
    const audioSink = createSocket('udp4');
    let audioPackets = 0;
    audioSink.on('message', () => audioPackets++);
    await new Promise((r) => audioSink.bind(0, '127.0.0.1', r));
    let ff;
    try {
      await bot.setLocalDescription(await bot.createOffer());
      const offer = bot.localDescription.sdp;
      const [oa, ov] = [section(offer, 'audio'), section(offer, 'video')];
      const suiteLine = (sec) => sec.match(/^a=crypto:(\d+) AES_CM_128_HMAC_SHA1_80 inline:(\S+)\r?$/m);
      const vport = await freeRtpPort();
      // ffmpeg decrypts what we send with our key: the video section's own.
      const ourVideoKey = profile === 'sdes' ? suiteLine(ov) : null;
      if (profile === 'sdes') {
        assert.ok(ourVideoKey, ov);
        assert.notEqual(ourVideoKey[2], suiteLine(oa)[2], 'video has a key of its own');
      }
      const sdpFile = join(dir, `ffmpeg-${profile}.sdp`);
      writeFileSync(sdpFile, [
        'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=sipwire', 'c=IN IP4 127.0.0.1', 't=0 0',
        `m=video ${vport} ${proto} 96`, 'a=rtpmap:96 VP8/90000',
        ...(ourVideoKey ? [`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${ourVideoKey[2]}`] : []),
        '',
      ].join('\r\n'));
      const out = join(dir, `ffmpeg-${profile}.ivf`);
      let err = '';
      ff = spawn('ffmpeg', ['-v', 'error', '-protocol_whitelist', 'file,udp,rtp', '-i', sdpFile, '-map', '0:v:0', '-c', 'copy', '-frames:v', '60', '-f', 'ivf', '-y', out], { stdio: ['ignore', 'ignore', 'pipe'] });
      ff.stderr.setEncoding('utf8').on('data', (d) => (err += d));
      const exited = new Promise((resolve) => ff.once('exit', resolve));
      // ffmpeg is ready once it holds its RTP port (bounded wait).
      for (let i = 0; i < 100 && (await udpFree(vport)); i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(await udpFree(vport), false, `ffmpeg listens on ${vport}: ${err}`);
      // The answer ffmpeg would give: audio to our sink, video to ffmpeg, keys for the
      // offered tag (ffmpeg sends nothing, so its own keys are never used).
      const theirKey = () => randomBytes(30).toString('base64');
      const crypto = (sec) => (profile === 'sdes' ? [`a=crypto:${suiteLine(sec)[1]} AES_CM_128_HMAC_SHA1_80 inline:${theirKey()}`] : []);
      const answer = [
        'v=0', 'o=- 2 2 IN IP4 127.0.0.1', 's=ffmpeg', 'c=IN IP4 127.0.0.1', 't=0 0',
        `m=audio ${audioSink.address().port} ${proto} 0`, 'a=rtpmap:0 PCMU/8000', 'a=recvonly', ...crypto(oa),
        `m=video ${vport} ${proto} 96`, 'a=rtpmap:96 VP8/90000', 'a=recvonly', ...crypto(ov),
        '',
      ].join('\r\n');
      await bot.setRemoteDescription({ type: 'answer', sdp: answer });
      await waitState(bot, 'connected');
      const played = bot.playVideo(clip, { loop: true });
      bot.play(tone(1200));
      assert.equal(await withTimeout(exited, 30000, 'ffmpeg wrote 60 frames'), 0, `ffmpeg: ${err}`);
      bot.stopVideo();
      assert.deepEqual(await played, { stopped: true });
      const sent = await videoOf(bot, 'outbound-rtp');
      console.log(`${profile} to ffmpeg: sent ${sent.framesSent} frames, ${sent.packetsSent} packets; audio packets at the sink ${audioPackets}`);
      assert.ok(audioPackets > 10, `the audio flows to its own address: ${audioPackets} packets`);
      const got = probe(out);
      console.log(`${profile} to ffmpeg: ffprobe ${JSON.stringify(got)}`);
      assert.equal(got.codec, 'vp8');
      assert.deepEqual([got.width, got.height], [320, 240]);
      assert.equal(got.frames, 60, 'the 60 frames ffmpeg copied decode');
      assert.equal(got.errors, '', 'ffprobe decoded them cleanly (the clip starts with its key frame)');
    } finally {
      if (ff && ff.exitCode === null) ff.kill('SIGKILL');
      bot.close();
      audioSink.close();
    }
    for (let i = 0; i < 80 && nativeResources().livePeers > base.livePeers; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(await socketsSettle(base.openSockets), base.openSockets);
    assert.deepEqual(nativeResources(), base, 'sockets and peers freed');
  });
}
