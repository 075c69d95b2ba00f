/**
 * Loads the generated napi binding (`index.js` / `index.d.ts` at the package
 * root, produced by `napi build`; never edited by hand). That loader looks for
 * `sipwire.<platform>.node` beside it (a clone's build), then for the
 * per-platform package `sipwire-<platform>` (an npm install). When neither
 * loads, its message blames npm; this wrapper says instead which platform was
 * detected, which package was expected and how to build from source.
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';

type Binding = typeof import('../index');

/** napi-rs platform suffix for this process, as the generated loader computes it. */
function platformSuffix(): string {
  const { platform, arch } = process;
  if (platform === 'win32') return `win32-${arch}-msvc`;
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`;
  return `${platform}-${arch}`;
}

function isMusl(): boolean {
  try {
    return readFileSync('/usr/bin/ldd', 'utf8').includes('musl');
  } catch {
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
    return !report?.header?.glibcVersionRuntime;
  }
}

function loadBinding(): Binding {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('../index.js') as Binding;
  } catch (e) {
    const suffix = platformSuffix();
    const pkg = `sipwire-${suffix}`;
    const err = new Error(
      `sipwire: no native binary for this platform (${suffix}, Node ${process.version}). ` +
        `Expected the optional dependency "${pkg}" (installed by \`npm install sipwire\` on ` +
        `platforms with a prebuilt binary: linux-x64-gnu, linux-x64-musl, linux-arm64-gnu, darwin-x64, ` +
        `darwin-arm64, win32-x64-msvc) or a local sipwire.${suffix}.node. If you installed with ` +
        `--omit=optional or --no-optional, reinstall without it. Otherwise build from source: ` +
        `git clone the sipwire repository, install Rust and cmake, run \`npm install\` there ` +
        `(it builds the addon) and \`npm install /path/to/clone\` in your project. ` +
        `Set NAPI_RS_NATIVE_LIBRARY_PATH to load a .node file from elsewhere.`,
      { cause: e },
    );
    (err as NodeJS.ErrnoException).code = 'ERR_SIPWIRE_NO_BINARY';
    throw err;
  }
}

const binding: Binding = loadBinding();
export = binding;
