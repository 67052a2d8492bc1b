#!/usr/bin/env bash
# Cost of rekeying a loaded link: iperf3 TCP over a keyed (Noise) L3 overlay
# with rekey_interval 120 (no rekey within a run) against the same overlay
# with rekey_interval 1 (a rekey every second, in either role), measured in
# the same run on the same machine. Both overlays run side by side between the
# same two site namespaces (own TAPs, ports, subnets and identities); runs are
# interleaved so drift hits both alike. Prints every run, the medians in
# Gbit/s, the ratio rekey/no-rekey and the rekeys that happened during the
# rekeying runs; then the handshake rate per core from bench_handshake and/or
# bench_noise when they are built.
#
#   sudo bench/rekey_cost.sh [BUILD_DIR]      (default: build)
#   env: RUNS=3 DURATION=10 WORKERS=1 STREAMS=1 FAST=1 (rekey interval, s)
#
# Exit 0 when every measurement ran, 77 when the machine cannot create
# namespaces, 1 on failure. Everything it creates is removed on exit.
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
case $build in /*) ;; *) build="$here/../$build" ;; esac
export IPOPD="$build/ipopd" IPOPCTL="$build/ipopctl"
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
WORKERS=${WORKERS:-1}
STREAMS=${STREAMS:-1}
FAST=${FAST:-1}
. "$here/../tests/netns/lib.sh"
# shellcheck disable=SC2034 # read by lib.sh
TEST_NAME=rekey_cost
harness_init
need_cmd iperf3

make_wan
make_site a 1
make_site b 2
# overlay "slow": rekey_interval 120, 10.254.0.0/24 on TAP ipk0, port 5800
# overlay "fast": rekey_interval $FAST, 10.254.1.0/24 on TAP ipk1, port 5810
declare -A ovl_port=([slow]=5800 [fast]=5810) ovl_net=([slow]=10.254.0 [fast]=10.254.1)
declare -A ovl_tap=([slow]=ipk0 [fast]=ipk1) ovl_rekey=([slow]=120 [fast]=$FAST)
declare -A sock_a=() sock_b=()
for o in slow fast; do
	for s in a b; do
		peer=b
		[ $s = b ] && peer=a
		write_keyed_config "$T/$s-$o.json" site=$s id=$o tap="${ovl_tap[$o]}" port="${ovl_port[$o]}" \
			net="${ovl_net[$o]}" workers="$WORKERS" peers=$peer rekey="${ovl_rekey[$o]}"
		start_ipopd $s "$T/$s-$o.json"
	done
	sock_a[$o]=$(config_sock "$T/a-$o.json")
	sock_b[$o]=$(config_sock "$T/b-$o.json")
	wait_link_up 15 "${sock_a[$o]}" b
	ping_ok a "${ovl_net[$o]}.2" >/dev/null
done

declare -A sport=([slow]=5301 [fast]=5302) results=()
for o in slow fast; do
	spawn nsx b iperf3 -s -p "${sport[$o]}" >"$T/iperf-server-$o.txt" 2>&1
	wait_for 5 nsx b sh -c "ss -ltn | grep -q :${sport[$o]}" || fail "iperf3 server for $o did not start"
done

rekeys() { echo $(($(hs_get "${sock_a[fast]}" rekeys) + $(hs_get "${sock_b[fast]}" rekeys))); }
log "$RUNS x ${DURATION} s iperf3 TCP per overlay, $STREAMS stream(s), $WORKERS worker(s), $(nproc) CPUs"
rk_total=0
for ((r = 1; r <= RUNS; r++)); do
	for o in slow fast; do
		j="$T/iperf-$o-$r.json"
		k0=$(rekeys)
		nsx a iperf3 -c "${ovl_net[$o]}.2" -p "${sport[$o]}" -t "$DURATION" -P "$STREAMS" -J >"$j" ||
			fail "iperf3 over $o (run $r) failed: $(head -c 400 "$j")"
		k1=$(rekeys)
		g=$($PY -c 'import json,sys; print("%.3f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))' "$j")
		rt=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"]["sum_sent"].get("retransmits", "?"))' "$j")
		results[$o]+="$g "
		if [ $o = fast ]; then
			rk_total=$((rk_total + k1 - k0))
			log "run $r rekey ${ovl_rekey[$o]} s: $g Gbit/s, TCP retransmits $rt, rekeys (a+b) $((k1 - k0))"
		else
			log "run $r rekey ${ovl_rekey[$o]} s: $g Gbit/s, TCP retransmits $rt"
		fi
	done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo
printf '%-32s %-24s %s\n' overlay "runs (Gbit/s)" "median Gbit/s"
declare -A med=()
for o in slow fast; do
	med[$o]=$(median <<<"${results[$o]}")
	printf '%-32s %-24s %s\n' "keyed L3, rekey_interval ${ovl_rekey[$o]} s" "${results[$o]}" "${med[$o]}"
done
printf 'ratio rekey %s s / rekey 120 s: %s\n' "$FAST" \
	"$(awk -v a="${med[fast]}" -v b="${med[slow]}" 'BEGIN {printf "%.3f", (b > 0) ? a / b : 0}')"
printf 'rekeys counted by a + b (each rekey counts at both ends) during the %d rekeying runs: %d (%.2f/s)\n' "$RUNS" "$rk_total" \
	"$(awk -v k="$rk_total" -v t=$((RUNS * DURATION)) 'BEGIN {print k / t}')"
for s in a b; do
	printf 'site %s (fast overlay) drops: %s\n' $s "$(ctl_get "$([ $s = a ] && echo "${sock_a[fast]}" || echo "${sock_b[fast]}")" stats \
		"' '.join('%s=%s' % kv for kv in d['total']['drops'].items() if kv[1]) or 'none'")"
done

# Handshake cost per core, from the micro-benchmarks when built.
for b in bench_handshake bench_noise; do
	exe="$build/$b"
	[ -x "$exe" ] || exe="$build/bench/$b"
	if [ -x "$exe" ]; then
		echo
		echo "--- $b ---"
		"$exe" || log "$b exited with status $?"
	else
		log "$b not built in $build: no handshakes/s figure from it"
	fi
done
exit 0
