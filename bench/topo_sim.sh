#!/usr/bin/env bash
# The topology simulator at 1,000 and 10,000 nodes (docs/topology.md): runs
# build/bench/topo_sim for each size, then writes one markdown table with a
# column per size and a PNG (gnuplot) with the greedy hop-count distribution
# against log2 N and the ring's health and routing delivery over the run
# (bootstrap, single events, on-demand, 10 % churn per minute, partition).
#
#   bench/topo_sim.sh [BUILD_DIR] [OUT_DIR]     (defaults: build, build/topo_sim)
#   env: SIZES="1000 10000"  SEED=1  CHURN_MIN=10
#        FAIL=0.02 (probability that one link setup fails; retried after backoff)
#
# Not part of CI (10,000 nodes take minutes). Needs gnuplot (gnuplot-nox) for
# the plot; without it the table is still written. Exit 1 when a size's
# verdict is FAIL (a converged overlay that does not deliver every probe, a
# flood that misses or duplicates, a cap exceeded, no convergence).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
case $build in /*) ;; *) build="$here/../$build" ;; esac
out=${2:-$build/topo_sim}
SIZES=${SIZES:-"1000 10000"}
SEED=${SEED:-1}
CHURN_MIN=${CHURN_MIN:-10}
FAIL=${FAIL:-0.02}
mkdir -p "$out"
ninja -C "$build" bench/topo_sim >/dev/null

status=0
for n in $SIZES; do
	echo "== $n nodes" >&2
	start=$(date +%s)
	if ! "$build/bench/topo_sim" -n "$n" -s "$SEED" -c "$CHURN_MIN" -f "$FAIL" -o "$out" \
		>"$out/log_$n.txt"; then
		status=1
	fi
	echo "   $(($(date +%s) - start)) s of wall time; log: $out/log_$n.txt" >&2
	printf 'wall time of the run\t%s s\n' "$(($(date +%s) - start))" >>"$out/result_$n.tsv"
done

# One table: metric | N1 | N2 ...
{
	printf '| metric |'
	for n in $SIZES; do printf ' %s nodes |' "$n"; done
	printf '\n|---|'
	for _ in $SIZES; do printf -- '---|'; done
	printf '\n'
	first=$(set -- $SIZES; echo "$1")
	cut -f1 "$out/result_$first.tsv" | while IFS= read -r metric; do
		printf '| %s |' "$metric"
		for n in $SIZES; do
			v=$(awk -F'\t' -v m="$metric" '$1 == m { print $2 }' "$out/result_$n.tsv")
			printf ' %s |' "$v"
		done
		printf '\n'
	done
} >"$out/topo_sim.md"
cat "$out/topo_sim.md"

if command -v gnuplot >/dev/null; then
	hops="" tl="" logs=""
	xmax=$(for n in $SIZES; do awk -v n="$n" 'BEGIN { printf "%d\n", log(n) / log(2) + 2 }'; done | sort -n | tail -1)
	for n in $SIZES; do
		hops+="'$out/hops_$n.dat' using 1:2 with linespoints title 'N = $n', "
		logs+="set arrow from $(awk -v n="$n" 'BEGIN { printf "%.2f", log(n) / log(2) }'),graph 0 to $(awk -v n="$n" 'BEGIN { printf "%.2f", log(n) / log(2) }'),graph 1 nohead dashtype 2; "
		tl+="'$out/timeline_$n.dat' using 1:4 axes x1y1 with lines title 'delivery % (N = $n)', '$out/timeline_$n.dat' using 1:(\$3 / \$2) axes x1y2 with lines title 'missing successor links per node (N = $n)', "
	done
	gnuplot <<GP
set terminal pngcairo size 1200,900 font ',10'
set output '$out/topo_sim.png'
set multiplot layout 2,1 title 'ipopd topology simulator (docs/topology.md), seed $SEED'
set title 'Greedy routing between random pairs, converged overlay (dashed: log2 N)'
set xlabel 'overlay hops'
set ylabel '% of probes'
set grid
set xrange [0:$xmax]
$logs
plot ${hops%, }
unset arrow
set xrange [*:*]
set title 'Over the run: bootstrap, single joins/leaves/crashes, on-demand, 10 % churn per minute, 2-min partition'
set xlabel 'simulated time (s)'
set ylabel 'delivery of 200 random probes (%)'
set y2label 'missing successor links per node'
set yrange [0:105]
set y2range [0:*]
set y2tics
set key bottom left
plot ${tl%, }
unset multiplot
GP
	echo "plot: $out/topo_sim.png" >&2
else
	echo "gnuplot not installed (apt-get install gnuplot-nox): no plot" >&2
fi
echo "table: $out/topo_sim.md" >&2
exit $status
