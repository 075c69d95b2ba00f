#!/usr/bin/env bash
# Paired A/B of sipwire's CPU: two checkouts run the same benchmark child at
# the same time, in one private network namespace, so both see the same
# machine (shared caches, neighbours, frequency). On a shared 2-core VM one
# run's CPU per call-second drifts 10-30 % between runs, which buries a 5 %
# change; the ratio of two concurrent runs stays within about ±4 % (A against
# itself: 0.985-1.077 over four rounds). The start order alternates per round.
#
#   bash bench/paired.sh DIR_A DIR_B            # B/A per round, then the median
#   ROUNDS=10 N=100 STACK=sipwire-bot-pcmu bash bench/paired.sh ../base .
#
# Each DIR is a built checkout (its .node and dist/); the peers of
# `npm run bench:setup` are not needed for sipwire stacks.
set -euo pipefail
A=$(cd "$1" && pwd)
B=$(cd "$2" && pwd)
ROUNDS=${ROUNDS:-8}
N=${N:-100}
D=${D:-8}
STACK=${STACK:-sipwire-bot-pcmu}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

run_pair() { # first second
  local cmd="ip link set lo up
    (cd '$1' && node bench/child.mjs --stack $STACK --n $N --d $D 2>/dev/null | grep '^RESULT' > '$OUT/first') &
    (cd '$2' && node bench/child.mjs --stack $STACK --n $N --d $D 2>/dev/null | grep '^RESULT' > '$OUT/second') &
    wait"
  if [ "$(id -u)" = 0 ]; then unshare -n bash -c "$cmd"; else unshare -rn bash -c "$cmd"; fi
}

cpu() { node -e 'const s=require("fs").readFileSync(process.argv[1],"utf8").replace(/^RESULT /,"");console.log(JSON.parse(s).cpuMsPerCallSec)' "$1"; }

ratios=()
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then
    run_pair "$A" "$B"; a=$(cpu "$OUT/first"); b=$(cpu "$OUT/second")
  else
    run_pair "$B" "$A"; b=$(cpu "$OUT/first"); a=$(cpu "$OUT/second")
  fi
  ratio=$(node -e "console.log(($b / $a).toFixed(4))")
  ratios+=("$ratio")
  echo "round $r: A $a  B $b  B/A $ratio"
done
node -e 'const r=process.argv.slice(1).map(Number).sort((x,y)=>x-y);const m=r.length%2?r[(r.length-1)/2]:(r[r.length/2-1]+r[r.length/2])/2;console.log(`median B/A ${m.toFixed(4)} over ${r.length} rounds (min ${r[0]}, max ${r[r.length-1]})`)' "${ratios[@]}"
