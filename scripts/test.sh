#!/usr/bin/env bash
# The whole test suite: Rust core units, then the Node integration tests.
# ICE-opening tests run in a private network namespace with only `lo` up, so
# no packet can leave 127.0.0.1 (re-executes itself under `unshare -n`).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${SIPWIRE_IN_NETNS:-}" ]; then
  if unshare -n true 2>/dev/null; then
    exec env SIPWIRE_IN_NETNS=1 unshare -n bash -c 'ip link set lo up && exec bash scripts/test.sh'
  fi
  echo "warning: cannot create a network namespace (need root); running on the host, bound to 127.0.0.1 only" >&2
fi

[ -f dist/index.js ] && [ -f dist/sip.mjs ] && ls sipwire.*.node >/dev/null 2>&1 || npm run build

echo "== cargo test (core, no Node) =="
cargo test --no-default-features 2>&1 | tail -n 40

echo "== node --test (integration) =="
# A suite that skips because a peer (Kamailio, Chromium, Firefox, baresip, SIPp,
# ffmpeg...) is missing has proven nothing: skipped tests fail the run.
out=$(mktemp)
trap 'rm -f "$out"' EXIT
set +e
node --test --test-concurrency=1 --test-timeout=180000 __test__/ 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] || exit "$status"
skipped=$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' "$out" | tail -n 1)
if [ "${skipped:-0}" != 0 ]; then
  echo "error: $skipped test(s) skipped; the reasons are above (# SKIP). Install what they name (see .ci/run)." >&2
  exit 1
fi
