#!/usr/bin/env bash
# The af_xdp backend against the kernel backend, measured in the same run on
# the same machine: two site namespaces joined by the veth/bridge "WAN" run
# two ipopd pairs side by side in L3 mode — one pair on the kernel backend
# (port 5800, overlay 10.254.0.0/24), one on af_xdp (port 5810, overlay
# 10.254.1.0/24; the XDP program on each eth0 steers only 5810, so the kernel
# pair's traffic passes it untouched). Rounds are interleaved so drift hits
# both alike. Per round and path: RTT (median of 200 pings at 10 ms) and
# iperf3 TCP throughput a -> b (DURATION s). Prints medians, the ratio
# af_xdp/kernel and `uptime` (the machine's load, which these figures depend
# on), and the af_xdp sites' cycles per packet.
#
#   sudo bench/xdp_ratio.sh [BUILD_DIR]      (default: build)
#   env: RUNS=3 DURATION=5 WORKERS=1
#
# Exit 0 when every measurement ran, 77 when the machine cannot create
# namespaces, 1 on failure. Everything it creates is removed on exit.
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
case $build in /*) ;; *) build="$here/../$build" ;; esac
export IPOPD="$build/ipopd" IPOPCTL="$build/ipopctl"
export IPOPD_XDP_OBJECT="$build/bpf/xdp_steer.bpf.o"
RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
WORKERS=${WORKERS:-1}
. "$here/../tests/netns/lib.sh"
# shellcheck disable=SC2034 # read by lib.sh
TEST_NAME=xdp_ratio
harness_init
need_cmd iperf3

make_wan
make_site a 1
make_site b 2
for s in a b; do
	o=b
	[ $s = b ] && o=a
	write_config "$T/$s-k.json" site=$s tap=bkk port=5800 workers="$WORKERS" peers=$o
	write_config "$T/$s-x.json" site=$s tap=bkx port=5810 net=10.254.1 workers="$WORKERS" \
		peers=$o extra='"backend": "af_xdp", "underlay_interface": "eth0"'
	start_ipopd $s "$T/$s-k.json"
	start_ipopd $s "$T/$s-x.json"
done
ping_ok a 10.254.0.2 >/dev/null
ping_ok a 10.254.1.2 >/dev/null
spawn nsx b iperf3 -s -p 5201 >/dev/null 2>&1
spawn nsx b iperf3 -s -p 5202 >/dev/null 2>&1
sleep 0.5

median() { sort -g | awk '{v[NR] = $1} END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rtt() # ADDR: median RTT in ms of 200 pings at 10 ms
{
	nsx a ping -c 200 -i 0.01 -W 1 "$1" | sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | median
}
tcp() # ADDR PORT: Gbit/s a -> b
{
	nsx a iperf3 -c "$1" -p "$2" -t "$DURATION" -J |
		"$PY" -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
}
declare -A R=()
for ((r = 1; r <= RUNS; r++)); do
	a1=$(rtt 10.254.0.2)
	a2=$(rtt 10.254.1.2)
	b1=$(tcp 10.254.0.2 5201)
	b2=$(tcp 10.254.1.2 5202)
	R[rtt_k]+="$a1 " R[rtt_x]+="$a2 " R[tcp_k]+="$b1 " R[tcp_x]+="$b2 "
	log "round $r: RTT kernel $a1 ms, af_xdp $a2 ms; TCP kernel $b1, af_xdp $b2 Gbit/s"
done
med() { tr ' ' '\n' <<<"${R[$1]}" | grep . | median; }
rk=$(med rtt_k)
rx=$(med rtt_x)
tk=$(med tcp_k)
tx=$(med tcp_x)
cpp=$(ctl_get "$T/a-bkx.sock" status "d['backend_status']['workers'][0]['cycles_per_packet']")
cpk=$(ctl_get "$T/a-bkk.sock" status "d['backend_status']['workers'][0]['cycles_per_packet']")
printf '\n| path (L3, %d worker) | RTT median (ms) | TCP a->b (Gbit/s) | cycles/packet (site a) |\n' "$WORKERS"
printf '|---|---|---|---|\n'
printf '| kernel | %s | %s | %s |\n' "$rk" "$tk" "$cpk"
printf '| af_xdp (%s) | %s | %s | %s |\n' \
	"$(ctl_get "$T/a-bkx.sock" status "d['backend_status']['mode']")" "$rx" "$tx" "$cpp"
printf '| ratio af_xdp/kernel | %s | %s | |\n' \
	"$(echo "scale=2; $rx / $rk" | bc)" "$(echo "scale=2; $tx / $tk" | bc)"
printf '\nmedians of %d interleaved rounds (RTT: 200 pings at 10 ms; TCP: iperf3 %d s, 1 stream); %s\n' \
	"$RUNS" "$DURATION" "$(uptime)"
exit 0
