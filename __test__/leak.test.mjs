// 200 connections created, connected in pairs and closed in a loop: open UDP
// sockets return to zero and RSS returns near its starting value. Runs in a
// child process so other tests' memory does not blur the figure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('200 connections (after a warm-up round): sockets, fds and RSS return to baseline', () => {
  const child = fileURLToPath(new URL('./fixtures/churn.mjs', import.meta.url));
  const r = spawnSync(process.execPath, ['--expose-gc', child], { encoding: 'utf8', timeout: 120000 });
  assert.equal(r.status, 0, `churn child failed: ${r.stderr}`);
  const m = JSON.parse(r.stdout.trim().split('\n').at(-1));
  console.log(`churn: ${JSON.stringify(m)}`);
  assert.equal(m.connections, 200);
  assert.equal(m.openSocketsAfter, 0, 'every UDP socket closed');
  assert.equal(m.livePeersAfter, 0, 'every native peer freed');
  assert.equal(m.fdsAfter, m.fdsBefore, 'file descriptors back to baseline');
  assert.ok(m.rssGrowthMB < 8, `RSS grew ${m.rssGrowthMB} MB over 200 connections after warm-up`);
});
