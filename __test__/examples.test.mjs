// The examples are part of the product: `npm run demo` (IVR bot + caller over
// the in-memory SIP link), the IVR menu demo and the plain RTCPeerConnection
// demo must succeed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

for (const [name, file] of [
  ['SIP demo (IVR bot + caller, in-memory SIP)', '../examples/demo.mjs'],
  ['peer-connection demo', '../examples/peer-connection.mjs'],
  ['IVR menu demo (menu, barge-in, transfer to an agent; in-memory SIP)', '../examples/ivr-menu/demo.mjs'],
]) {
  test(name, () => {
    const r = spawnSync(process.execPath, [fileURLToPath(new URL(file, import.meta.url))], { encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /demo OK/);
  });
}
