#!/usr/bin/env bash
# make bench: the benchmarks one at a time (the machine may be shared), then
# one table: each goal of docs/performance.md, its figure, met or not, and
# the load average when it was taken. A benchmark checks that every member
# it expects up answered before it reports a figure, and fails otherwise:
# then this script fails too. Figures, not tests: compare runs on one machine.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=$work/out
: >"$out"

# The exporter the scale benchmarks start is the binary users run, not the
# test binary (main_test.go: ZOOKEEPER_EXPORTER_BIN).
CGO_ENABLED=0 go build -trimpath -o "$work/zookeeper_exporter" .
export ZOOKEEPER_EXPORTER_BIN=$work/zookeeper_exporter

# load NAME: the 1-minute load average now, kept for NAME's row.
load() { echo "LOAD $1 $(cut -d' ' -f1 /proc/loadavg)" >>"$out"; }
run() {
	local name=$1
	shift
	load "$name"
	echo "# go test $* (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
	go test -run '^$' "$@" 2>&1 | tee -a "$out" | grep -E '^(Benchmark|FAIL|panic|\s+\S+_test.go:)' >&2 || true
}
run parse -bench . -benchmem ./fourletter/ ./collector/
run handler -bench 'ScrapeHandler4Members' -benchmem .
run real -bench 'ScrapeRealEnsemble' -benchtime 200x .
run hung -bench 'ScrapeTwoHung' -benchtime 10x .
run k1 -bench 'Scrape1000Members' -benchtime 10x .
run probe -bench 'Probe1000Members' -benchtime 1x .
run soak -bench 'SoakRSS' -benchtime 1x .
if grep -qE '^(FAIL|panic)' "$out"; then
	echo "a benchmark failed (above): no table" >&2
	exit 1
fi

# fig BENCH UNIT: the figure of one benchmark (name without Benchmark and
# -GOMAXPROCS), "?" when it did not report it.
fig() {
	awk -v want="$1" -v unit="$2" '/^Benchmark/ {
	  name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
	  if (name != want) next
	  for (i = 3; i < NF; i++) if ($(i+1) == unit) v = $i
	} END { print (v == "" ? "?" : v) }' "$out"
}
loadof() { awk -v n="$1" '$1 == "LOAD" && $2 == n { print $3 }' "$out"; }
# met FIGURE OP LIMIT: met / NOT MET.
met() { awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
  if (v == "?") { print "?"; exit }
  ok = (op == "<") ? v + 0 < l + 0 : v + 0 <= l + 0
  print ok ? "met" : "NOT MET" }'; }

k=Scrape1000Members/3.8-healthy
real_med=$(fig ScrapeRealEnsemble ms-median)
floor_med=$(fig ScrapeRealEnsemble floor-ms-median)
ratio=$(fig ScrapeRealEnsemble x-floor)
echo
printf '%-62s %-22s %-10s %-8s %s\n' goal figure target result load
printf '%-62s %-22s %-10s %-8s %s\n' ---- ------ ------ ------ ----
row() { printf '%-62s %-22s %-10s %-8s %s\n' "$@"; }
row "1. 1,000 members (200x5, real 3.8 replies): scrape median" "$(fig $k ms-median) ms" "< 1000 ms" "$(met "$(fig $k ms-median)" '<' 1000)" "$(loadof k1)"
row "1. the same: exporter peak RSS (VmHWM)" "$(fig $k MiB-peak-RSS) MiB" "< 150 MiB" "$(met "$(fig $k MiB-peak-RSS)" '<' 150)" "$(loadof k1)"
row "1. the same: every member up 1 (checked each scrape)" "$(fig $k series) series" "all up" "met" "$(loadof k1)"
row "2. real 3+1 scrape median / raw parallel 4lw floor" "$real_med / $floor_med ms = ${ratio}x" "<= 1.5x" "$(met "$ratio" '<=' 1.5)" "$(loadof real)"
row "3. /probe, 1 ensemble/request, 15/s for 60 s: exporter CPU" "$(fig Probe1000Members cpu-cores) of a core" "< 0.25" "$(met "$(fig Probe1000Members cpu-cores)" '<' 0.25)" "$(loadof probe)"
row "3. the same: exporter peak RSS (VmHWM)" "$(fig Probe1000Members MiB-peak-RSS) MiB" "< 64 MiB" "$(met "$(fig Probe1000Members MiB-peak-RSS)" '<' 64)" "$(loadof probe)"
row "4. two hung of five: scrape p99 / deadline (2 s)" "$(fig ScrapeTwoHung x-deadline-p99)x" "<= 1.1x" "$(met "$(fig ScrapeTwoHung x-deadline-p99)" '<=' 1.1)" "$(loadof hung)"

echo
echo "What to expose, 1,000 members answering the real 3.8 replies (load $(loadof k1)):"
printf '%-44s %10s %12s %14s %12s %14s\n' choice series median-ms exporter-cpu-ms MiB-text MiB-peak-RSS
for c in "3.8-healthy full passthrough (default)" "3.8-healthy-curated collect[]=curated" "3.8-healthy-include passthrough.include=fsynctime,.*_latency,.*_sessions" "3.4-replies (3.4-sized replies, for comparison)"; do
	b=Scrape1000Members/${c%% *}
	printf '%-44s %10s %12s %14s %12s %14s\n' "${c#* }" "$(fig "$b" series)" "$(fig "$b" ms-median)" \
		"$(fig "$b" cpu-ms/scrape)" "$(fig "$b" MiB-exposition)" "$(fig "$b" MiB-peak-RSS)"
done

echo
echo "Every figure:"
printf '%-44s %16s  %s\n' benchmark value unit
awk '/^Benchmark/ {
  name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
  for (i = 3; i < NF; i += 2) printf "%-44s %16s  %s\n", name, $i, $(i+1)
}' "$out"
