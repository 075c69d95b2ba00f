// Video test helpers: clips made by ffmpeg, files read by ffprobe.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** Make a 320x240 testsrc clip of `seconds` at 30 fps, a key frame every second:
 * VP8 in IVF (`vp8`) or H.264 constrained baseline, Annex B (`h264`). */
export function makeClip(dir, codec, seconds = 3) {
  const out = join(dir, codec === 'vp8' ? 'clip.ivf' : 'clip.h264');
  const enc =
    codec === 'vp8'
      ? ['-c:v', 'libvpx', '-b:v', '300k', '-f', 'ivf']
      : ['-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-profile:v', 'baseline', '-bsf:v', 'h264_mp4toannexb', '-f', 'h264'];
  const args = ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=30', '-t', String(seconds), '-g', '30', ...enc, out];
  const r = spawnSync('ffmpeg', args, { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, `ffmpeg ${args.join(' ')} failed (apt-get install ffmpeg): ${r.stderr || r.error?.message}`);
  return out;
}

/** Codec, size, decoded frame count and decoder complaints of a video file. */
export function probe(path) {
  const r = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'json', path], {
    encoding: 'utf8',
    timeout: 60000,
  });
  assert.equal(r.status, 0, `ffprobe failed (apt-get install ffmpeg): ${r.stderr || r.error?.message}`);
  const s = JSON.parse(r.stdout).streams?.[0];
  assert.ok(s, `no video stream in ${path}: ${r.stdout}`);
  return { codec: s.codec_name, width: s.width, height: s.height, frames: Number(s.nb_read_frames), errors: r.stderr.trim() };
}

/** Run nft (nftables) in this network namespace; returns stdout. */
export function nft(args) {
  const r = spawnSync('nft', args, { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 0, `nft ${args.join(' ')} failed: ${r.stderr || r.error?.message} (apt-get install nftables)`);
  return r.stdout;
}
