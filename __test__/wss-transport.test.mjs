// WsTransport over wss://: TLS options (CA, rejectUnauthorized) and headers
// pass through to `ws`. A local TLS WebSocket server on 127.0.0.1 with a
// throwaway self-signed certificate stands in for an SBC.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { UserAgent } from 'sip.js';
import { WsTransport } from '../dist/sip.js';

function certificate() {
  const dir = mkdtempSync(join(tmpdir(), 'sipwire-tls-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  const pem = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  rmSync(dir, { recursive: true, force: true });
  return pem;
}

async function wssServer(pem) {
  const https = createServer(pem);
  const wss = new WebSocketServer({ server: https, handleProtocols: (p) => (p.has('sip') ? 'sip' : false) });
  const seen = [];
  wss.on('connection', (_ws, req) => seen.push(req.headers));
  await new Promise((r) => https.listen(0, '127.0.0.1', r));
  return { url: `wss://127.0.0.1:${https.address().port}`, seen, close: () => new Promise((r) => (wss.close(), https.close(r))) };
}

const ua = (server, wsOptions) =>
  new UserAgent({
    uri: UserAgent.makeURI('sip:tls@sipwire.invalid'),
    transportConstructor: WsTransport,
    transportOptions: { server, connectionTimeout: 3, wsOptions },
    logBuiltinEnabled: false,
    logLevel: 'error',
  });

test('wss: CA and headers pass through; an untrusted certificate is refused', async () => {
  const pem = certificate();
  const srv = await wssServer(pem);
  try {
    const trusted = ua(srv.url, { ca: pem.cert, headers: { 'X-Sipwire-Test': 'yes' } });
    await trusted.start();
    assert.equal(trusted.transport.protocol, 'WSS');
    assert.equal(srv.seen.at(-1)['x-sipwire-test'], 'yes', 'custom header reached the server');
    assert.equal(srv.seen.at(-1)['sec-websocket-protocol'], 'sip');
    await trusted.stop();

    const strict = ua(srv.url, { rejectUnauthorized: true });
    await assert.rejects(strict.start(), /self[- ]signed|certificate/i);
    await strict.stop();

    const lax = ua(srv.url, { rejectUnauthorized: false });
    await lax.start();
    await lax.stop();
  } finally {
    await srv.close();
  }
});
