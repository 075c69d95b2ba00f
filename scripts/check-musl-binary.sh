#!/usr/bin/env bash
# Check a linux-x64-musl build of the addon without a musl Node (none is
# published on the npm registry):
#  1. it needs nothing but musl's libc.so (no glibc symbol versions);
#  2. it loads under musl's dynamic loader, which binds every symbol at
#     dlopen (musl has no lazy binding). A musl-linked harness stands in for
#     Node: it exports stubs for the N-API/libuv functions Node would provide
#     and the unwinder that Alpine's libgcc_s provides (LLVM libunwind from
#     Rust's musl sysroot);
#  3. napi_register_module_v1 is exported.
# Usage: scripts/check-musl-binary.sh path/to/sipwire.linux-x64-musl.node
set -euo pipefail
node_file=$(realpath "$1")
command -v musl-gcc >/dev/null || { echo "musl-gcc missing (apt-get install musl-tools)"; exit 1; }
needed=$(readelf -d "$node_file" | awk '/NEEDED/ {print $NF}')
echo "NEEDED: $needed"
[ "$needed" = "[libc.so]" ] || { echo "needs more than musl's libc.so"; exit 1; }
if objdump -T "$node_file" | grep -q 'GLIBC_'; then echo "references glibc symbol versions"; exit 1; fi
unwind=$(ls "$(rustc --print sysroot)"/lib/rustlib/x86_64-unknown-linux-musl/lib/self-contained/libunwind.a)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --undefined-only "$node_file" | awk '{print $2}' | grep -E '^(napi_|node_|uv_)' |
  sed 's/.*/void &(void) {}/' > "$tmp/stubs.c"
cat > "$tmp/load.c" <<'C'
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
  if (!dlsym(h, "napi_register_module_v1")) { fprintf(stderr, "no napi_register_module_v1\n"); return 1; }
  printf("loaded under musl's loader; napi_register_module_v1 exported\n");
  return 0;
}
C
musl-gcc -rdynamic -o "$tmp/load" "$tmp/load.c" "$tmp/stubs.c" -Wl,--whole-archive "$unwind" -Wl,--no-whole-archive
echo "harness: $(readelf -l "$tmp/load" | grep -o 'ld-musl[^]]*')"
echo "stubbed N-API/libuv functions: $(wc -l < "$tmp/stubs.c")"
"$tmp/load" "$node_file"
