// Video recorder bot: answers every call with video enabled (no transcoding),
// records the caller's camera to a file (IVF for VP8, Annex B .h264 for H.264)
// and their voice to a WAV, until they hang up or 60 s pass. With a `clip`
// (an IVF of VP8, or an Annex B .h264 stream), the caller sees it, looped,
// while they are recorded; make one with e.g.
//   ffmpeg -i in.mp4 -c:v libvpx -b:v 500k -g 60 clip.ivf
//
// As a library: startVideoRecorder(ua, { dir, clip }) on any SIP.js UserAgent.
// Standalone against a SIP server over WebSocket (call it from a browser with a camera):
//   node examples/video-recorder/index.mjs ws://127.0.0.1:8080 sip:recorder@example.com [dir] [clip]
// then play a recording with `ffplay caller-1.ivf`, or inspect it with `ffprobe`.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answerCall } from '../../dist/sip.js';

/** Handle incoming calls on `ua`; `onResult` gets one report per finished call. */
export function startVideoRecorder(ua, { dir = mkdtempSync(join(tmpdir(), 'sipwire-video-')), codecs = ['vp8', 'h264'], clip = null, onResult = () => {}, log = () => {} } = {}) {
  let n = 0;
  // A clip is sent in its own codec, so only that one is answered.
  const videoOptions = clip ? { codecs: [clip.endsWith('.ivf') ? 'vp8' : 'h264'], direction: 'sendrecv' } : { codecs };
  ua.delegate = {
    ...ua.delegate,
    onInvite: async (invitation) => {
      const id = ++n;
      let call;
      try {
        call = await answerCall(invitation, { video: videoOptions });
      } catch (e) {
        log(`recorder: call ${id} refused: ${e.message}`);
        return;
      }
      try {
        await call.record(join(dir, `caller-${id}.wav`));
        // The caller sends the first codec of our answer's video section.
        const answer = call.peerConnection.localDescription.sdp;
        const first = answer.match(/^m=video [1-9]\d* \S+ (\d+)/m)?.[1];
        const hasVideo = first !== undefined;
        const h264 = hasVideo && new RegExp(`^a=rtpmap:${first} H264/`, 'm').test(answer);
        const video = join(dir, `caller-${id}.${h264 ? 'h264' : 'ivf'}`);
        // A caller that only receives (our clip) has no video to record.
        const recorded = hasVideo && (await call.recordVideo(video).then(() => true, (e) => (log(`recorder: call ${id}: no video recorded: ${e.message}`), false)));
        if (hasVideo && clip) call.playVideo(clip, { loop: true }).catch((e) => log(`recorder: call ${id} clip: ${e.message}`));
        let timer;
        await Promise.race([call.ended, new Promise((r) => (timer = setTimeout(r, 60000)))]);
        clearTimeout(timer); // a pending 60 s timer would keep the process alive
        const inbound = [...(await call.stats().catch(() => new Map())).values()].find((s) => s.type === 'inbound-rtp' && s.kind === 'video');
        await call.stopVideoRecording();
        await call.stopRecording();
        await call.hangup();
        onResult({ id, video: recorded ? video : null, frames: inbound?.framesReceived ?? 0, width: inbound?.frameWidth, height: inbound?.frameHeight });
      } catch (e) {
        log(`recorder: call ${id} failed: ${e.message}`);
        await call.hangup().catch(() => {});
      }
    },
  };
  return dir;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [server, uri, dir, clip] = process.argv.slice(2);
  if (!server || !uri) {
    console.error('usage: node examples/video-recorder/index.mjs <ws://server> <sip:user@domain> [dir] [clip.ivf|clip.h264]');
    process.exit(2);
  }
  const { UserAgent, Registerer } = await import('sip.js');
  const { WsTransport, sessionDescriptionHandlerFactory } = await import('../../dist/sip.js');
  const ua = new UserAgent({
    uri: UserAgent.makeURI(uri),
    transportConstructor: WsTransport,
    transportOptions: { server },
    sessionDescriptionHandlerFactory: sessionDescriptionHandlerFactory(),
  });
  const out = startVideoRecorder(ua, {
    dir,
    clip,
    onResult: (r) => console.log(`call ${r.id}: ${r.video ?? 'no video'} (${r.frames} frames, ${r.width}x${r.height})`),
    log: console.log,
  });
  await ua.start();
  await new Registerer(ua).register();
  console.log(`video recorder registered as ${uri}, writing to ${out}; Ctrl-C to stop`);
}
