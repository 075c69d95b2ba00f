// Builds the native addon and the TypeScript facade after `npm install` in a
// clone of the repository, so `npm install && npm run demo` works on a fresh
// machine. It never builds in a package installed from the registry or a
// tarball: those ship `dist/` and take the binary from the per-platform
// package (`sipwire-<platform>`), and they hold no Rust sources to build.
// Set SIPWIRE_SKIP_BUILD=1 to skip in a clone too (CI builds explicitly).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const has = (p) => existsSync(new URL(`../${p}`, import.meta.url));

if (process.env.SIPWIRE_SKIP_BUILD === '1') process.exit(0);
// A clone has the Rust sources (and usually .git); a published tarball has neither.
if (!(has('Cargo.toml') && has('src/lib.rs'))) process.exit(0);
// Already built (a second `npm install` in the clone): nothing to do.
const built = readdirSync(root).some((f) => /^sipwire\..+\.node$/.test(f)) && has('dist/index.js') && has('dist/sip.mjs');
if (built) process.exit(0);

const r = spawnSync('npm', ['run', 'build'], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
