#!/usr/bin/env bash
# Checks a linux-x64-musl sipwire binary without a musl Node (none is published
# on npm, and this Debian machine has none): the file must be a dynamically
# linked x86-64 ELF whose only libc is musl (no GLIBC_ symbol versions), and
# musl's own dynamic linker must load it with every symbol resolved (musl binds
# all symbols at load time; the N-API functions Node would export come from a
# stub library here). Usage: scripts/check-musl-binary.sh path/to/sipwire.linux-x64-musl.node
set -euo pipefail
node_file=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

readelf -d "$node_file" | grep NEEDED
if readelf -d "$node_file" | grep NEEDED | grep -v 'libc.musl-x86_64.so.1\|libc.so'; then
  echo "FAIL: needs libraries other than musl libc" >&2; exit 1
fi
if objdump -T "$node_file" | grep -q GLIBC_; then
  echo "FAIL: references glibc symbol versions" >&2; exit 1
fi

# Stubs for the N-API symbols the addon imports from the Node executable.
nm -D --undefined-only "$node_file" | awk '{print $2}' | grep -E '^(napi_|node_api_)' |
  sed 's/.*/void &(void) {}/' > "$work/stubs.c"
echo "$(wc -l < "$work/stubs.c") N-API symbols stubbed"
musl-gcc -shared -fPIC -o "$work/libnapistub.so" "$work/stubs.c"
cat > "$work/load.c" <<'C'
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  if (!dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL)) { printf("stub: %s\n", dlerror()); return 1; }
  void *h = dlopen(argv[2], RTLD_NOW);
  if (!h) { printf("dlopen: %s\n", dlerror()); return 1; }
  if (!dlsym(h, "napi_register_module_v1")) { printf("no napi_register_module_v1\n"); return 1; }
  printf("musl loaded %s: all symbols resolved, napi_register_module_v1 present\n", argv[2]);
  return 0;
}
C
musl-gcc -o "$work/load" "$work/load.c"
readelf -l "$work/load" | grep -o 'ld-musl[^]]*'
"$work/load" "$work/libnapistub.so" "$node_file"
