// Soak: RSS after three rounds of hostile offers (allocator retention), then
// thousands of sequential calls (10 at a time, each a connected pair
// exchanging audio) with hostile offers in between (1 MB attribute, 1,000
// candidates, 500 m-lines, garbage; 10,000 candidates to validateOffer),
// bounded to ~55 s. RSS growth per 1000
// calls must stay under a threshold, and sockets, peers and fds return to
// baseline. Runs in a child process so other tests' memory does not blur it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Measured 1.6 MB per 1000 outside V8 between calls 1000 and 4000 of a 55 s run;
// over 7,930 calls RSS was 86.4 MB at 1000 and 82.2 MB at the end (plateau).
const MAX_MB_PER_1000 = 2.5;
// Measured: 40.5 MB with mimalloc's defaults before SDP limits bounded
// hostile offers; now 3.1 MB with the options src/napi/alloc.rs sets (purge
// after 100 ms, collection each second on the shard threads).
const MAX_HOSTILE_RETAINED_MB = 15;

test(`soak: hostile offers retain < ${MAX_HOSTILE_RETAINED_MB} MB RSS; RSS outside the V8 heap grows < ${MAX_MB_PER_1000} MB per 1000 calls over a bounded churn`, () => {
  const child = fileURLToPath(new URL('./fixtures/soak.mjs', import.meta.url));
  const r = spawnSync(process.execPath, ['--expose-gc', child, '6000', '500', '55'], {
    encoding: 'utf8',
    timeout: 110000,
  });
  assert.equal(r.status, 0, `soak child failed: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const m = lines.at(-1);
  console.log(`soak: ${JSON.stringify(m)}`);
  assert.ok(m.done);
  assert.ok(m.calls >= 2000, `only ${m.calls} calls in the time bound`);
  assert.ok(m.hostile >= 15, `only ${m.hostile} hostile offers`);
  assert.equal(m.openSocketsAfter, 0, 'every UDP socket closed');
  assert.equal(m.livePeersAfter, 0, 'every native peer freed');
  // Node may open one lazily (seen: /dev/null); sockets must all be gone.
  assert.deepEqual(m.fdsNew.filter((f) => f.includes('socket:')), [], 'no socket fd left open');
  assert.ok(m.fdsAfter <= m.fdsBefore + 1, `file descriptors back to baseline; new: ${m.fdsNew}`);
  assert.ok(
    m.hostileRetainedMB < MAX_HOSTILE_RETAINED_MB,
    `RSS stayed ${m.hostileRetainedMB} MB above its level before three rounds of hostile offers`,
  );
  // RSS less V8's resident heap: V8 grows its heap in ~16 MB steps on its
  // own heuristics, which a 1-minute window cannot average out.
  assert.ok(
    m.nonV8Per1000CallsMB < MAX_MB_PER_1000,
    `RSS outside the V8 heap grew ${m.nonV8Per1000CallsMB} MB per 1000 calls (RSS ${m.rssBaseMB} -> ${m.rssEndMB} MB, ${m.rssPer1000CallsMB} MB per 1000)`,
  );
});
