// Packaging test: what a user gets from `npm install sipwire sip.js`.
//
// From a built tree (`npm run build`) it packs the root package (with the
// optionalDependencies `napi prepublish` adds at release) and this platform's
// binary package (npm/<platform>/, as `napi artifacts` fills it), installs both
// tarballs into a new project with no cargo/rustc on PATH and from the npm
// cache where it can (--prefer-offline), and checks:
// - the install runs no build and the root tarball holds no binary, no sources;
// - ESM import and CJS require of `sipwire` give one shared instance, loaded
//   from the platform package;
// - without sip.js installed: the root entry makes a loopback call with tone
//   detection, and `sipwire/sip` fails naming sip.js;
// - without the platform package: a clear error naming platform and package;
// - with sip.js: `sipwire/sip` places a SIP.js call on the in-memory link;
// - a strict TypeScript consumer (skipLibCheck false) built from README.md's
//   ```ts blocks, extracted here so the README cannot drift from the types,
//   plus a CommonJS consumer, for moduleResolution node16, nodenext, bundler;
// - `npm publish --dry-run` of the staged package is clean.
// Run: npm run test:package (after npm run build).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');

// napi target triple -> npm/<dir> suffix, as `napi create-npm-dirs` names them.
const suffix = (triple) => {
  const [arch, , os, abi] = triple.split('-');
  const a = { x86_64: 'x64', aarch64: 'arm64' }[arch] ?? arch;
  if (os === 'linux') return `linux-${a}-${abi}`;
  if (os === 'darwin') return `darwin-${a}`;
  if (os === 'windows') return `win32-${a}-${abi}`;
  throw new Error(`unknown target ${triple}`);
};
const isMusl = () => !process.report.getReport().header.glibcVersionRuntime;
const here = process.platform === 'linux' ? `linux-${process.arch}-${isMusl() ? 'musl' : 'gnu'}` : `${process.platform}-${process.arch}`;
const platformPkg = `${pkg.name}-${here}`;

// PATH without cargo/rustc (and without ~/.cargo/bin), so nothing can build.
const PATH = process.env.PATH.split(delimiter)
  .filter((d) => !['cargo', 'rustc'].some((b) => existsSync(join(d, b))))
  .join(delimiter);
const env = { ...process.env, PATH, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
delete env.SIPWIRE_SKIP_BUILD; // the installed package must not need it

function run(cmd, args, cwd, { ok = true, extraEnv = {} } = {}) {
  const r = spawnSync(cmd, args, { cwd, env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 300_000 });
  const out = `$ ${cmd} ${args.join(' ')}\n${r.stdout}\n${r.stderr}`;
  if (ok) assert.equal(r.status, 0, out);
  return { ...r, out };
}
const node = (args, cwd, opts) => run(process.execPath, args, cwd, opts);
// Calls open sockets: in a private network namespace with only lo up when we
// can (root), as scripts/test.sh runs the suite; the installs stay outside it
// because npm may need the registry for packuments the cache lacks.
const NETNS = spawnSync('unshare', ['-n', 'true']).status === 0;
const nodeNetns = (args, cwd, opts) =>
  NETNS
    ? run('unshare', ['-n', 'bash', '-c', 'ip link set lo up && exec "$@"', '_', process.execPath, ...args], cwd, opts)
    : node(args, cwd, opts);

const work = mkdtempSync(join(tmpdir(), 'sipwire-package-'));
const project = join(work, 'project');
let rootTgz;
let platformTgz;

test.after(() => rmSync(work, { recursive: true, force: true }));

test('the build is there to pack', () => {
  for (const f of ['dist/index.js', 'dist/index.mjs', 'dist/index.d.mts', 'dist/sip.js', 'dist/sip.mjs', 'dist/sip.d.mts']) {
    assert.ok(existsSync(join(repo, f)), `${f} missing: run \`npm run build\` first`);
  }
  assert.ok(existsSync(join(repo, `${pkg.napi.binaryName}.${here}.node`)), `no ${here} binary: run \`npm run build\` first`);
  assert.ok(pkg.napi.targets.map(suffix).includes(here), `${here} is not a napi target`);
  const r = spawnSync('cargo', ['--version'], { env });
  assert.equal(r.error?.code, 'ENOENT', 'cargo must not be on the test PATH');
});

test('pack the root package and the platform package', () => {
  // Stage the root package as `napi prepublish` leaves it: optionalDependencies
  // on every platform package at this version.
  const stage = join(work, 'stage');
  mkdirSync(stage);
  const listed = JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', '--offline'], repo).stdout)[0].files.map((f) => f.path);
  for (const f of listed) cpSync(join(repo, f), join(stage, f), { recursive: true });
  assert.ok(!listed.some((f) => f.endsWith('.node')), `the root tarball must not carry a binary: ${listed}`);
  assert.ok(!listed.some((f) => /^(src|target|js|__test__)\/|Cargo\.toml/.test(f)), `sources in the root tarball: ${listed}`);
  for (const f of ['LICENSE', 'CHANGELOG.md', 'README.md', 'scripts/postinstall.mjs', 'dist/sip.d.mts', 'index.js']) {
    assert.ok(listed.includes(f), `${f} not in the tarball`);
  }
  const staged = { ...pkg, optionalDependencies: Object.fromEntries(pkg.napi.targets.map((t) => [`${pkg.name}-${suffix(t)}`, pkg.version])) };
  delete staged.devDependencies; // as published: nothing to resolve from them
  writeFileSync(join(stage, 'package.json'), JSON.stringify(staged, null, 2));
  rootTgz = join(work, run('npm', ['pack', '--ignore-scripts', '--pack-destination', work], stage).stdout.trim());

  const plat = join(work, 'platform');
  cpSync(join(repo, 'npm', here), plat, { recursive: true });
  cpSync(join(repo, `${pkg.napi.binaryName}.${here}.node`), join(plat, `${pkg.napi.binaryName}.${here}.node`));
  const platJson = JSON.parse(readFileSync(join(plat, 'package.json'), 'utf8'));
  assert.equal(platJson.name, platformPkg);
  assert.equal(platJson.version, pkg.version, 'npm/<platform>/package.json must carry the root version (napi version)');
  platformTgz = join(work, run('npm', ['pack', '--pack-destination', work], plat).stdout.trim());

  // Offline: the dry run needs no registry; its one expected warning is that
  // nobody is logged in.
  const dry = run('npm', ['publish', '--dry-run', '--ignore-scripts', '--offline'], stage);
  const warnings = dry.stderr.split('\n').filter((l) => /npm (warn|error)/i.test(l) && !/requires you to be logged in/.test(l));
  assert.deepEqual(warnings, [], dry.out);
  assert.match(dry.stderr, /total files:/, dry.out);
});

test('install both tarballs from the npm cache with no Rust on PATH, no build, no sip.js', () => {
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  run('npm', ['install', '--prefer-offline', '--no-package-lock', rootTgz, platformTgz], project);
  const installed = join(project, 'node_modules', 'sipwire');
  assert.ok(!existsSync(join(installed, 'Cargo.toml')) && !existsSync(join(installed, 'src')), 'sources installed');
  assert.deepEqual(readdirSync(installed).filter((f) => f.endsWith('.node')), [], 'a binary in the root package');
  assert.ok(!existsSync(join(installed, 'target')), 'a build ran at install');
  assert.ok(!existsSync(join(project, 'node_modules', 'sip.js')), 'sip.js must not be installed by sipwire');
  assert.ok(existsSync(join(project, 'node_modules', platformPkg, `${pkg.napi.binaryName}.${here}.node`)));
});

test('ESM import and CJS require share one instance, loaded from the platform package', () => {
  writeFileSync(
    join(project, 'both.mjs'),
    `import { createRequire } from 'node:module';
import * as esm from 'sipwire';
const require = createRequire(import.meta.url);
const cjs = require('sipwire');
if (esm.RTCPeerConnection !== cjs.RTCPeerConnection || esm.SipwireError !== cjs.SipwireError) throw new Error('two instances');
for (const n of ['RTCPeerConnection', 'SipwireError', 'detectTone', 'sineWave', 'readWav', 'writeWav', 'validateOffer', 'nativeResources'])
  if (typeof esm[n] !== 'function') throw new Error('missing export ' + n);
const native = Object.keys(require.cache).filter((k) => k.endsWith('.node'));
console.log(JSON.stringify(native));
if (native.length !== 1 || !native[0].includes('/node_modules/${platformPkg}/')) throw new Error('binary not from ${platformPkg}: ' + native);
if ('answerCall' in esm || 'WsTransport' in esm) throw new Error('root entry exposes SIP pieces');
`,
  );
  node(['both.mjs'], project);
  const r = node(['-e', "const s = require('sipwire'); const pc = new s.RTCPeerConnection({ bindAddresses: ['127.0.0.1'] }); pc.close(); console.log(typeof s.detectTone)"], project);
  assert.match(r.stdout, /function/);
});

test('root entry without sip.js: loopback call with tone detection; sipwire/sip names sip.js', () => {
  cpSync(join(repo, '__test__', 'smoke', 'smoke.mjs'), join(project, 'smoke.mjs'));
  const r = nodeNetns(['smoke.mjs', '--root-only'], project);
  assert.match(r.stdout, /smoke OK/, r.out);
  assert.equal((r.stdout.match(/^ok: RTCPeerConnection loopback/gm) ?? []).length, 2, r.out);
  const esm = node(['--input-type=module', '-e', "await import('sipwire/sip')"], project, { ok: false });
  assert.notEqual(esm.status, 0);
  assert.match(esm.stderr, /Cannot find (package|module) 'sip\.js'/, esm.out);
  const cjs = node(['-e', "require('sipwire/sip')"], project, { ok: false });
  assert.match(cjs.stderr, /Cannot find (package|module) 'sip\.js'/, cjs.out);
});

test('no binary for the platform: the error names platform, package and the source build', () => {
  const dir = join(project, 'node_modules', platformPkg);
  renameSync(dir, `${dir}.away`);
  try {
    const r = node(['-e', "require('sipwire')"], project, { ok: false });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /ERR_SIPWIRE_NO_BINARY/, r.out);
    assert.ok(r.stderr.includes(`(${here}, Node ${process.version})`), r.out);
    assert.ok(r.stderr.includes(`"${platformPkg}"`), r.out);
    assert.match(r.stderr, /build from source/, r.out);
    const e = node(['--input-type=module', '-e', "import('sipwire').catch((e) => { console.log(e.code); process.exit(3); })"], project, { ok: false });
    assert.equal(e.status, 3, e.out);
    assert.match(e.stdout, /ERR_SIPWIRE_NO_BINARY/);
  } finally {
    renameSync(`${dir}.away`, dir);
  }
});

test('with sip.js: sipwire/sip places a SIP.js call on the in-memory link (ESM and CJS)', () => {
  const sipjs = pkg.devDependencies['sip.js'];
  run('npm', ['install', '--prefer-offline', '--no-package-lock', `sip.js@${sipjs}`, '@types/node@20', rootTgz, platformTgz], project);
  const r = nodeNetns(['smoke.mjs'], project);
  assert.match(r.stdout, /smoke OK/, r.out);
  assert.equal((r.stdout.match(/^ok: SIP\.js call on the in-memory link/gm) ?? []).length, 2, r.out);
  const cjs = node(['-e', "const s = require('sipwire/sip'); console.log(typeof s.sessionDescriptionHandlerFactory, typeof s.WsTransport, typeof s.InMemorySipLink)"], project);
  assert.equal(cjs.stdout.trim(), 'function function function');
});

/** README.md's ```ts blocks that import sipwire, in order. */
function readmeBlocks() {
  const md = readFileSync(join(repo, 'README.md'), 'utf8');
  const blocks = [...md.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].filter(([, , code]) => /from '(sipwire|sipwire\/sip)'/.test(code));
  for (const [, lang] of blocks) assert.equal(lang, 'ts', 'README code importing sipwire must be a ```ts block (it is type-checked)');
  return blocks.map(([, , code]) => code);
}

// sip.js's own declarations use DOM types (RTCSessionDescriptionInit,
// MediaStream), so a consumer of `sipwire/sip` with skipLibCheck false needs
// lib DOM; a consumer of the root entry needs only ES2022 and @types/node.
const STRICT = { strict: true, skipLibCheck: false, noEmit: true, target: 'ES2022', types: ['node'] };
const CJS_ROOT = `import sipwire = require('sipwire');
const pc: sipwire.RTCPeerConnection = new sipwire.RTCPeerConnection({ bindAddresses: ['127.0.0.1'] });
const code: sipwire.SipwireErrorCode = 'ERR_CLOSED';
const hz: number | null = sipwire.detectTone(sipwire.sineWave(440, 16000, 100), 16000);
export { pc, code, hz };
`;
const CJS_SIP = `import sip = require('sipwire/sip');
const factory = sip.sessionDescriptionHandlerFactory({ iceGatheringTimeout: 1000 });
const link: sip.InMemorySipLink = new sip.InMemorySipLink();
const ws: sip.WsTransportOptions = { server: 'wss://sbc.example.com', wsOptions: { rejectUnauthorized: true, ca: 'pem' } };
export { factory, link, ws };
`;

for (const [resolution, module, ext, cjsExt] of [
  ['node16', 'node16', 'mts', 'cts'],
  ['nodenext', 'nodenext', 'mts', 'cts'],
  ['bundler', 'esnext', 'ts', null],
]) {
  test(`strict TypeScript consumer of the README examples, moduleResolution ${resolution}`, () => {
    const dir = join(project, `ts-${resolution}`);
    mkdirSync(dir, { recursive: true });
    const groups = { root: [], sip: [] };
    readmeBlocks().forEach((code, i) => {
      const f = `readme-${i + 1}.${ext}`;
      writeFileSync(join(dir, f), code);
      groups[/from '(sip\.js|sipwire\/sip)'/.test(code) ? 'sip' : 'root'].push(f);
    });
    assert.ok(groups.root.length >= 1 && groups.sip.length >= 1, 'README has the API block and the SIP.js bot block');
    if (cjsExt) {
      writeFileSync(join(dir, `cjs-root.${cjsExt}`), CJS_ROOT);
      writeFileSync(join(dir, `cjs-sip.${cjsExt}`), CJS_SIP);
      groups.root.push(`cjs-root.${cjsExt}`);
      groups.sip.push(`cjs-sip.${cjsExt}`);
    }
    for (const [name, files] of Object.entries(groups)) {
      const lib = name === 'root' ? ['ES2022'] : ['ES2022', 'DOM'];
      const config = `tsconfig.${name}.json`;
      writeFileSync(
        join(dir, config),
        JSON.stringify({ compilerOptions: { ...STRICT, lib, module, moduleResolution: resolution, typeRoots: ['../node_modules/@types'] }, files }),
      );
      const r = node([tsc, '-p', config, '--listFiles'], dir, { ok: false });
      assert.equal(r.status, 0, r.out);
      // Compiled against the installed package, with no @types/ws; the root
      // entry's types reach neither sip.js nor ws.
      assert.match(r.stdout, new RegExp(`${project}/node_modules/sipwire/dist/(index|sip)\\.d\\.(m?ts)`), r.out);
      assert.doesNotMatch(r.stdout, /@types\/ws/);
      if (name === 'root') assert.doesNotMatch(r.stdout, /node_modules\/(sip\.js|ws)\//, r.out);
    }
  });
}
