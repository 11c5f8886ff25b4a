#!/usr/bin/env bash
# make bench: every benchmark, then one table of the figures. Figures, not
# pass/fail: compare runs on the same machine (docs/performance.md).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
run() { echo "# go test $*" >&2; go test -run '^$' "$@" 2>&1 | tee -a "$out" | grep -E '^(Benchmark|FAIL|panic)' >&2 || true; }
run -bench . -benchmem ./fourletter/ ./collector/
run -bench 'ScrapeHandler4Members' -benchmem .
run -bench 'ScrapeRealEnsemble' -benchtime 200x .
run -bench 'ScrapeTwoHung' -benchtime 10x .
run -bench 'Scrape1000Members' -benchtime 10x .
run -bench 'SoakRSS' -benchtime 1x .
if grep -qE '^(FAIL|panic)' "$out"; then echo "a benchmark failed" >&2; exit 1; fi
echo
printf '%-44s %16s  %s\n' benchmark value unit
printf '%-44s %16s  %s\n' --------- ----- ----
awk '/^Benchmark/ {
  name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
  for (i = 3; i < NF; i += 2) printf "%-44s %16s  %s\n", name, $i, $(i+1)
}' "$out"
