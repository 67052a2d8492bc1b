#!/usr/bin/env bash
# The structured overlay with real gateways (issue 11; not in CI): N ipopd
# (default 32) on this machine, one namespace each on one WAN bridge, one
# prosody (TLS) for the group. Two cases, each from a cold start with fresh
# namespaces and identities:
#
#   structured  num_successors 2, num_chords 2, num_on_demand 2, multihop true
#               (what docs/topology.md describes)
#   mesh        num_successors N-1: every member is everyone's successor, i.e.
#               the all-to-all linking of ipopd before #11 — the baseline
#
# For each: up links per node (mean / max), memory per gateway (VmRSS median /
# max), and the time from launching the first gateway until every ordered
# pair of gateways has answered a ping over the overlay (probes: one ping per
# pending pair per round, each waiting at most 1 s). The summary gives the
# structured case's figures as ratios to the mesh's of the same run.
#
#   sudo bench/topo_gw.sh [BUILD_DIR]        (default: build)
#   env: N=32  CASES="structured mesh"  LIMIT=240 (s until every pair pings)
#        OUT=bench/results (topo_gw.md is written there)
#
# Exit 0 when every case converged and pinged, 77 without namespaces, 1 on
# failure. Everything it creates is removed on exit (the tests' harness).
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
case $build in /*) ;; *) build="$here/../$build" ;; esac
export IPOPD="$build/ipopd" IPOPCTL="$build/ipopctl"
N=${N:-32}
CASES=${CASES:-structured mesh}
LIMIT=${LIMIT:-240}
OUT=${OUT:-$here/results}

if [ -z "${TOPO_GW_CASE:-}" ]; then
	# the driver: one child run per case (fresh namespaces), then the summary
	mkdir -p "$OUT"
	res=$(mktemp)
	for c in $CASES; do
		TOPO_GW_CASE=$c TOPO_GW_RES=$res "$0" "$@" || exit $?
	done
	{
		echo "# bench/topo_gw.sh: $N gateways on one machine ($(date -u +%F), $(nproc) CPUs)"
		echo
		echo "uptime at the end: $(uptime)"
		echo
		echo "| case | links up per node mean / max (settled) | right after every pair pinged | VmRSS per gateway median / max (MiB) | start until every pair pings (s) |"
		echo "|---|---|---|---|---|"
		awk -F'\t' '{printf "| %s | %s / %s | %s / %s | %s / %s | %s |\n", $1, $2, $3, $7, $8, $4, $5, $6}' "$res"
		if grep -q '^structured' "$res" && grep -q '^mesh' "$res"; then
			awk -F'\t' '$1=="structured"{s2=$2; s4=$4; s6=$6} $1=="mesh"{m2=$2; m4=$4; m6=$6}
				END {printf "\nstructured / mesh: links per node %.2f, RSS %.2f, time to every pair %.2f\n",
					s2/m2, s4/m4, s6/m6}' "$res"
		fi
	} | tee "$OUT/topo_gw.md"
	rm -f "$res"
	exit 0
fi

. "$here/../tests/netns/lib.sh"
. "$here/../tests/netns/lib_topology.sh"
# shellcheck disable=SC2034 # read by lib.sh
TEST_NAME=topo_gw-$TOPO_GW_CASE
harness_init
need_cmd prosody prosodyctl openssl
[ "$N" -ge 4 ] && [ "$N" -le 200 ] || fail "N must be 4..200, got '$N'"

case $TOPO_GW_CASE in
structured) TOPO='{"num_successors": 2, "num_chords": 2, "num_on_demand": 2, "num_inbound": 16, "multihop": true, "interval_management": 5, "ttl_on_demand": 30}' ;;
mesh) TOPO="{\"num_successors\": $((N - 1)), \"num_chords\": 0, \"num_on_demand\": 0, \"num_inbound\": $((2 * N)), \"multihop\": false, \"interval_management\": 5, \"ttl_on_demand\": 30}" ;;
*) fail "unknown case $TOPO_GW_CASE" ;;
esac
# the default link timers (keepalive 10 s, link timeout 30 s), not the tests' short ones
TOPO_LINK_TIMERS='"keepalive_interval": 10, "link_timeout": 30' topo_group "$N" "$TOPO"
SITES=()
for ((i = 1; i <= N; i++)); do SITES+=("s$i"); done
declare -A PID=()
t0=$(date +%s.%N)
for s in "${SITES[@]}"; do
	start_ipopd "$s" "$T/$s.json"
	PID[$s]=$IPOPD_PID
done
log "$N gateways started in $(echo "$(date +%s.%N) - $t0" | bc) s"

# every ordered pair must answer one ping; only the pending ones are retried
declare -A PENDING=()
for a in "${SITES[@]}"; do
	for b in "${SITES[@]}"; do [ "$a" = "$b" ] || PENDING["$a $b"]=1; done
done
while [ "${#PENDING[@]}" -gt 0 ]; do
	el=$(echo "$(date +%s.%N) - $t0" | bc)
	[ "${el%.*}" -lt "$LIMIT" ] || fail "${#PENDING[@]} pairs still without an answer after $LIMIT s"
	declare -A RPID=()
	for k in "${!PENDING[@]}"; do
		read -r a b <<<"$k"
		nsx "$a" ping -c 1 -W 1 "10.254.0.${SITE_IDX[$b]}" >/dev/null 2>&1 &
		RPID[$k]=$!
	done
	for k in "${!RPID[@]}"; do
		wait "${RPID[$k]}" && unset "PENDING[$k]"
	done
	unset RPID
done
t_all=$(echo "$(date +%s.%N) - $t0" | bc)
log "every ordered pair ($((N * (N - 1)))) pinged $t_all s after the first start"

# Links right after every pair pinged, and once the on-demand roles that
# the bootstrap's traffic gave to transient links (a successor of a join
# that carried pings keeps its link as on-demand) idled out: ttl_on_demand
# (30 s here) plus a management round.
ups0=()
for s in "${SITES[@]}"; do ups0+=("$(topo_get "$T/$s.sock" "t['counts']['up']")"); done
sleep 40
ups=() rss=()
for s in "${SITES[@]}"; do
	ups+=("$(topo_get "$T/$s.sock" "t['counts']['up']")")
	rss+=("$(awk '/^VmRSS/ {print $2}' "/proc/${PID[$s]}/status")")
done
stats()
{
	printf '%s\n' "$@" | "$PY" -c 'import sys,statistics as s
v=[float(x) for x in sys.stdin.read().split()]
print("%.1f %.1f %.1f" % (s.mean(v), s.median(v), max(v)))'
}
# the busiest node as ipopctl shows it (with what each inbound link was asked for)
busiest=s1
for s in "${SITES[@]}"; do
	[ "$(topo_get "$T/$s.sock" "t['counts']['up']")" -gt "$(topo_get "$T/$busiest.sock" "t['counts']['up']")" ] && busiest=$s
done
{
	ctl "$T/$busiest.sock" topology
	topo_get "$T/$busiest.sock" "'\\n'.join('%s %s %s' % (l['ip4'], '+'.join(l['kinds']), l.get('requested_as', '')) for l in t['links'])"
} >"${OUT:-/tmp}/topo_gw-$TOPO_GW_CASE-busiest.txt" 2>&1
read -r umean _ umax < <(stats "${ups[@]}")
read -r u0mean _ u0max < <(stats "${ups0[@]}")
read -r _ rmed rmax < <(stats "${rss[@]}")
rmed=$(echo "scale=1; $rmed / 1024" | bc)
rmax=$(echo "scale=1; $rmax / 1024" | bc)
log "$TOPO_GW_CASE: links up per node right after: mean $u0mean max $u0max; 40 s later: mean $umean max $umax; VmRSS median $rmed MiB max $rmax MiB; every pair pings after $t_all s"
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$TOPO_GW_CASE" "$umean" "$umax" "$rmed" "$rmax" \
	"$(printf '%.1f' "$t_all")" "$u0mean" "$u0max" >>"$TOPO_GW_RES"
