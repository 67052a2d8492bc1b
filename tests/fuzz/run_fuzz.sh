#!/usr/bin/env bash
# Runs one libFuzzer target from its seed corpus and dictionary, prints its
# executions and covered edges, and fails when the edges fall below the
# target's floor in tests/fuzz/floors.txt (or when it crashed).
#
#   tests/fuzz/run_fuzz.sh BUILD_DIR TARGET SECONDS      short run (CI)
#   FUZZ_LONG=1 tests/fuzz/run_fuzz.sh BUILD_DIR TARGET  long run: 10 million
#       executions (FUZZ_RUNS) or FUZZ_LONG_SECONDS (default 3600), whichever
#       comes first; the corpus is kept in BUILD_DIR/fuzz-corpus/TARGET
#   tests/fuzz/run_fuzz.sh BUILD_DIR all [SECONDS]       every target, a table
#       (each target's whole output in BUILD_DIR/fuzz-logs/TARGET.log)
#
# Last line of a single run: "fuzz TARGET: N execs, N edges (floor N), N/s, ok|FAILED ..."
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
build=$1
target=$2
seconds=${3:-20}
floors=tests/fuzz/floors.txt

if [ "$target" = all ]; then
	rc=0
	results=$(mktemp)
	mkdir -p "$build/fuzz-logs"
	for f in "$build"/tests/fuzz/fuzz_*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		# the whole output (crash reports) in fuzz-logs/TARGET.log
		"$0" "$build" "${f##*/}" "$seconds" >"$build/fuzz-logs/${f##*/}.log" 2>&1 || rc=1
		grep '^fuzz ' "$build/fuzz-logs/${f##*/}.log" | tee -a "$results"
	done
	printf '\n%-16s %12s %8s %8s %10s %s\n' target execs edges floor exec/s result
	grep '^fuzz ' "$results" | sed -E 's/^fuzz ([^:]+): ([0-9]+) execs, ([0-9]+) edges \(floor ([0-9]+)\), ([0-9]+)\/s, (.*)$/\1 \2 \3 \4 \5 \6/' |
		while read -r n e c fl r res; do printf '%-16s %12s %8s %8s %10s %s\n' "$n" "$e" "$c" "$fl" "$r" "$res"; done
	rm -f "$results"
	exit $rc
fi

bin=$build/tests/fuzz/$target
[ -x "$bin" ] || { echo "fuzz $target: no binary $bin"; exit 1; }
floor=$(awk -v t="$target" '$1 == t { print $2 }' "$floors")
floor=${floor:-0}
args=(-print_final_stats=1)
[ -f "tests/fuzz/$target.dict" ] && args+=("-dict=tests/fuzz/$target.dict")
if [ -n "${FUZZ_LONG:-}" ]; then
	corpus=$build/fuzz-corpus/$target
	mkdir -p "$corpus"
	args+=(-runs="${FUZZ_RUNS:-10000000}" -max_total_time="${FUZZ_LONG_SECONDS:-3600}")
	keep=1
else
	corpus=$(mktemp -d)
	args+=(-max_total_time="$seconds")
	keep=0
fi
[ -d "tests/fuzz/corpus/$target" ] && cp -r "tests/fuzz/corpus/$target/." "$corpus/"
log=$(mktemp)
t0=$(date +%s)
"$bin" "${args[@]}" -artifact_prefix="$corpus/" "$corpus" >"$log" 2>&1
rc=$?
secs=$(($(date +%s) - t0))
tail -n 25 "$log"
execs=$(awk '/^stat::number_of_executed_units:/ { print $2 }' "$log")
# the last "cov:" libFuzzer printed (DONE, or the last pulse before a crash)
edges=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | awk '{ print $2 }')
execs=${execs:-0}
edges=${edges:-0}
rate=$((execs / (secs > 0 ? secs : 1)))
status=ok
if [ "$rc" -ne 0 ]; then
	status="FAILED (crash, rc $rc; input kept in $corpus)"
	keep=1
elif [ "$edges" -lt "$floor" ]; then
	status="FAILED (edges below the floor)"
fi
[ "$keep" = 1 ] || rm -rf "$corpus"
rm -f "$log"
printf 'fuzz %s: %s execs, %s edges (floor %s), %s/s, %s\n' "$target" "$execs" "$edges" "$floor" "$rate" "$status"
[ "$status" = ok ]
