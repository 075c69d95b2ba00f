#!/usr/bin/env bash
# Install the peer stacks the benchmark compares against into
# bench/peers/node_modules (gitignored), pinned in bench/peers/package.json.
# They stay out of sipwire's own package.json: three heavy stacks that only
# the benchmark needs. run.mjs finds them here, or via $SIPWIRE_BENCH_PEERS.
set -euo pipefail
cd "$(dirname "$0")/peers"
# --no-save keeps package.json exactly as pinned; no lockfile churn in the repo.
npm install --no-audit --no-fund --no-package-lock --no-save
node -e "const fs=require('fs'); for (const p of ['@roamhq/wrtc','werift','node-datachannel']) console.log(p, JSON.parse(fs.readFileSync('node_modules/'+p+'/package.json','utf8')).version)"
