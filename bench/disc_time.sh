#!/usr/bin/env bash
# Discovery time: from starting two gateways that know nothing of each other
# (no endpoint configured: they meet in a MUC room on prosody, learn their
# mapped address with STUN from coturn, exchange candidates and handshake) to
# the first ping across the overlay, with and without NAT.
#
#   "no NAT": both gateways directly on the WAN (make_site);
#   "NAT":    both behind their own home router (make_home_site: masquerade,
#             unsolicited inbound dropped, the same LAN address on both).
#
# One prosody and one coturn serve every run; each run gets fresh namespaces,
# fresh daemons, fresh state directories (so fresh identities) and its own
# room. The clock starts just before the first ipopd is launched and stops
# when a ping from site a to site b's overlay address (10.254.0.2) is first
# answered (probes every ~0.1 s, each waiting at most 0.2 s). Prints every
# run, the median of each case and a summary table. Cases are interleaved so
# drift on a noisy machine hits both alike.
#
#   sudo bench/disc_time.sh [BUILD_DIR]       (default: build)
#   env: RUNS=5 (runs per case)  LIMIT=60 (s; a run that takes longer fails)
#
# Exit 0 when every run pinged, 77 when the machine cannot create namespaces,
# 1 on failure. Everything it creates is removed on exit (the tests' harness).
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
case $build in /*) ;; *) build="$here/../$build" ;; esac
export IPOPD="$build/ipopd" IPOPCTL="$build/ipopctl"
RUNS=${RUNS:-5}
LIMIT=${LIMIT:-60}
. "$here/../tests/netns/lib.sh"
# shellcheck disable=SC2034 # read by lib.sh
TEST_NAME=disc_time
harness_init
need_cmd prosody prosodyctl turnserver openssl bc
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || fail "RUNS must be a positive integer, got '$RUNS'"

make_wan
ip -n "$(ns wan)" addr add "$XMPP_ADDR/24" dev br0
ip -n "$(ns wan)" addr add "$STUN_ADDR/24" dev br0
start_prosody wan "$XMPP_ADDR"
xmpp_register gw-a gw-b
start_coturn wan "$STUN_ADDR"

# one_run CASE N: builds sites a/b for CASE ("nonat" or "nat"), starts both
# gateways, sets RUN_S to the seconds to the first ping, tears the run down.
# Runs in the main shell (not in $(...)): the PIDs and namespaces it creates
# must reach the harness's lists, so that a failure still cleans them up.
one_run()
{
	local c=$1 n=$2 a="a$c$n" b="b$c$n" t0 t1 pa pb x
	if [ "$c" = nat ]; then
		make_home_site "$a" 1
		make_home_site "$b" 2
	else
		make_site "$a" 1
		make_site "$b" 2
	fi
	write_disc_config "$T/$a.json" site="$a" user=gw-a room="bench-$c-$n@conference.$XMPP_DOMAIN"
	write_disc_config "$T/$b.json" site="$b" user=gw-b room="bench-$c-$n@conference.$XMPP_DOMAIN"
	t0=$(date +%s.%N)
	start_ipopd "$a" "$T/$a.json"
	pa=$IPOPD_PID
	start_ipopd "$b" "$T/$b.json"
	pb=$IPOPD_PID
	wait_for "$LIMIT" nsx "$a" ping -c 1 -W 0.2 10.254.0.2 ||
		fail "$c run $n: no ping a -> b within $LIMIT s: $(ctl "$T/$a.sock" links 2>&1)"
	t1=$(date +%s.%N)
	stop_ipopd "$pa"
	stop_ipopd "$pb"
	for x in "$a" "$b" "rt-$a" "rt-$b"; do
		ip netns del "$(ns "$x")" 2>/dev/null || true
	done
	RUN_S=$(printf '%.3f' "$(echo "$t1 - $t0" | bc)")
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2}'; }

declare -A times=([nonat]="" [nat]="")
declare -A label=([nonat]="no NAT" [nat]="NAT")
for ((i = 1; i <= RUNS; i++)); do
	for c in nonat nat; do
		one_run "$c" "$i"
		times[$c]="${times[$c]} $RUN_S"
		log "run $i/$RUNS, ${label[$c]}: first ping after $RUN_S s"
	done
done

printf '\n%-8s %6s %10s %10s %10s   %s\n' "case" "runs" "median_s" "min_s" "max_s" "runs (s)"
for c in nonat nat; do
	# shellcheck disable=SC2086 # word splitting of the list is intended
	set -- ${times[$c]}
	printf '%-8s %6d %10s %10s %10s   %s\n' "${label[$c]}" "$#" "$(median "$@")" \
		"$(printf '%s\n' "$@" | sort -g | head -n 1)" "$(printf '%s\n' "$@" | sort -g | tail -n 1)" "$*"
done
