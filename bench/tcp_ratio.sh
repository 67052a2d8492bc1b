#!/usr/bin/env bash
# TCP throughput of the overlay against the bare underlay, measured in the same
# run on the same machine: iperf3 over the veth/bridge "WAN" between two site
# namespaces, over ipopd in L3 mode (gateway to gateway, virtual addresses) and
# over ipopd in switch mode (container to container through lxcbr0 + TAP).
# Runs are interleaved so drift hits every path alike; prints the median of each
# in Gbit/s and the ratios overlay/underlay.
#
#   sudo bench/tcp_ratio.sh [BUILD_DIR]      (default: build)
#   env: RUNS=3 DURATION=5 WORKERS=1 STREAMS=1 MODES="l3 switch"
#
# Exit 0 when every measurement ran, 77 when the machine cannot create
# namespaces, 1 on failure. Everything it creates is removed on exit.
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
case $build in /*) ;; *) build="$here/../$build" ;; esac
export IPOPD="$build/ipopd" IPOPCTL="$build/ipopctl"
RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
WORKERS=${WORKERS:-1}
STREAMS=${STREAMS:-1}
MODES=${MODES:-l3 switch}
. "$here/../tests/netns/lib.sh"
# shellcheck disable=SC2034 # read by lib.sh
TEST_NAME=tcp_ratio
harness_init
need_cmd iperf3

make_wan
make_site a 1 10.0.3.1
make_site b 2 10.0.3.2
paths=(underlay)
for m in $MODES; do
	case $m in
	l3)
		write_config "$T/a-l3.json" site=a tap=ipl3 port=5800 workers="$WORKERS" peers=b
		write_config "$T/b-l3.json" site=b tap=ipl3 port=5800 workers="$WORKERS" peers=a
		start_ipopd a "$T/a-l3.json"
		start_ipopd b "$T/b-l3.json"
		ping_ok a 10.254.0.2 >/dev/null
		paths+=(l3)
		;;
	switch)
		make_container a a1 10.0.3.11/24
		make_container b b1 10.0.3.21/24
		write_config "$T/a-sw.json" site=a mode=switch tap=ipsw port=5810 net=10.0.3 hostoff=100 \
			bridge=lxcbr0 workers="$WORKERS" peers=b
		write_config "$T/b-sw.json" site=b mode=switch tap=ipsw port=5810 net=10.0.3 hostoff=100 \
			bridge=lxcbr0 workers="$WORKERS" peers=a
		start_ipopd a "$T/a-sw.json"
		start_ipopd b "$T/b-sw.json"
		mtu=$(ctl_get "$(config_sock "$T/a-sw.json")" status 'd["mtu"]')
		set_container_mtu a "$mtu"
		set_container_mtu b "$mtu"
		ping_ok a1 10.0.3.21 >/dev/null
		paths+=(switch)
		;;
	*) fail "unknown mode '$m' in MODES" ;;
	esac
done

# Servers: one per path, each in the namespace that receives.
declare -A client=([underlay]=a [l3]=a [switch]=a1)
declare -A server=([underlay]=b [l3]=b [switch]=b1)
declare -A dst=([underlay]=198.18.0.2 [l3]=10.254.0.2 [switch]=10.0.3.21)
declare -A label=([underlay]="underlay (veth + bridge)" [l3]="ipopd L3 (TAP, ESP)"
	[switch]="ipopd switch (lxcbr0, ESP)")
declare -A results=()
port=5301
declare -A sport=()
for p in "${paths[@]}"; do
	sport[$p]=$port
	spawn nsx "${server[$p]}" iperf3 -s -p "$port" >"$T/iperf-server-$p.txt" 2>&1
	wait_for 5 nsx "${server[$p]}" sh -c "ss -ltn | grep -q :$port" || fail "iperf3 server for $p did not start"
	port=$((port + 1))
done

log "$RUNS x ${DURATION} s iperf3 TCP per path, $STREAMS stream(s), $WORKERS worker(s), $(nproc) CPUs"
for ((r = 1; r <= RUNS; r++)); do
	for p in "${paths[@]}"; do
		j="$T/iperf-$p-$r.json"
		nsx "${client[$p]}" iperf3 -c "${dst[$p]}" -p "${sport[$p]}" -t "$DURATION" -P "$STREAMS" -J >"$j" ||
			fail "iperf3 over $p (run $r) failed: $(head -c 400 "$j")"
		g=$($PY -c 'import json,sys; print("%.3f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))' "$j")
		results[$p]+="$g "
		log "run $r $p: $g Gbit/s"
	done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo
printf '%-28s %-24s %s\n' path "runs (Gbit/s)" "median Gbit/s"
declare -A med=()
for p in "${paths[@]}"; do
	med[$p]=$(median <<<"${results[$p]}")
	printf '%-28s %-24s %s\n' "${label[$p]}" "${results[$p]}" "${med[$p]}"
done
for p in "${paths[@]}"; do
	[ "$p" = underlay ] && continue
	printf 'ratio %s/underlay: %s\n' "$p" "$(awk -v a="${med[$p]}" -v b="${med[underlay]}" 'BEGIN {printf "%.3f", (b > 0) ? a / b : 0}')"
done
exit 0
