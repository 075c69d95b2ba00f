#!/usr/bin/env bash
# Full fuzz run (`npm run fuzz`): every target of tests/fuzz for up to
# SIPWIRE_FUZZ_SECS seconds or SIPWIRE_FUZZ_INPUTS inputs each, whichever
# comes first, two targets at a time. Defaults: >= 10^6 inputs in all within
# 10 minutes on a 2-core machine (build time not included). Prints one line
# per target (inputs, rate, panics, hangs, slowest input) and the totals;
# panicking/hanging/slowest inputs are saved in target/fuzz-crashes/.
# Exit status is non-zero when any input panicked or hung.
#   SIPWIRE_FUZZ_SEED=n       reproduce a run
#   SIPWIRE_FUZZ_HANG_MS=ms   per-input time bound (default 2000)
#   SIPWIRE_FUZZ_REPLAY=path  replay saved inputs (with a target filter as $1)
set -euo pipefail
cd "$(dirname "$0")/.."

# Binary targets reach the input cap in seconds; the SDP ones (hundreds of
# inputs a second, each up to 64 KB) run into the time cap. Two at a time in
# name order, that is ~7 minutes of fuzzing for ~2 million inputs.
export SIPWIRE_FUZZ_SECS="${SIPWIRE_FUZZ_SECS:-400}"
export SIPWIRE_FUZZ_INPUTS="${SIPWIRE_FUZZ_INPUTS:-300000}"
threads="${SIPWIRE_FUZZ_THREADS:-2}"
# Build for the host triple explicitly: `npm run build` (napi --platform)
# does, so the release-built dependencies are reused rather than rebuilt.
triple="$(rustc -vV | sed -n 's/^host: //p')"

cargo test --release --target "$triple" --no-default-features --test fuzz --no-run 2>&1 | tail -n 2
mkdir -p target
start=$(date +%s.%N)
set +e
cargo test --release --target "$triple" --no-default-features --test fuzz -- --nocapture --test-threads="$threads" "$@" 2>&1 |
  tee target/fuzz-report.txt
status=${PIPESTATUS[0]}
set -e
end=$(date +%s.%N)
awk -v wall="$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" '
  /^fuzz [a-z_]+ +inputs=/ {
    for (i = 1; i <= NF; i++) {
      split($i, kv, "=");
      if (kv[1] == "inputs") n += kv[2];
      if (kv[1] == "panics") p += kv[2];
      if (kv[1] == "hangs") h += kv[2];
    }
    t++
  }
  END { printf "fuzz total: targets=%d inputs=%d wall=%.1fs rate=%.0f/s panics=%d hangs=%d\n", t, n, wall, n / wall, p, h }
' target/fuzz-report.txt
exit "$status"
