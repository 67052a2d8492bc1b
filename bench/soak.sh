#!/usr/bin/env bash
# Soak (issue 13; not in CI): the fault matrix's overlay (three gateways
# behind home routers, keyed links found by discovery, one relayed; see
# tests/netns/faults_lib.sh) under mixed traffic for MINUTES (default 60):
#   - a UDP probe stream s1 -> s2 at 100 packets/s,
#   - TCP s1 -> s2 (iperf3, 20 Mbit/s) and s3 -> s1 over the relay (5 Mbit/s),
#   - UDP s2 -> s3 (iperf3 -u, 2 Mbit/s), pings s3 -> s2;
# with rekeys every 30 s (rekey_interval), a SIGHUP reload of s1 every 2 min
# that swaps a static peer (one added, one removed), member churn every 5 min
# (s3's gateway stops and rejoins 20 s later: it leaves the room and comes
# back) and a fault every 4 min, in turn: conntrack -F on s1's router,
# 5 % WAN loss for 20 s, s1's WAN link down for 3 s, prosody down for 15 s,
# coturn restarted, kill -9 of s2 and its restart.
#
# Every minute it samples, per gateway, the resident memory (VmRSS), the open
# file descriptors, the links up and the SAs, into soak.csv, and plots them
# (gnuplot) into soak.png. At the end it compares s1's figures (s1 is never
# restarted) at the end of warm-up (WARMUP minutes, default 5) with the last
# ones: RSS may grow by at most 10 % + 1 MiB, fds and SAs not at all.
#
#   bench/soak.sh [MINUTES]        (root; OUT=dir for the CSV and PNG, default .)
set -eE -o pipefail
MINUTES=${1:-60}
WARMUP=${WARMUP:-5}
OUT=$(realpath "${OUT:-.}")
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
export SRCDIR
for d in app .; do # the binaries' folder in the build tree
	[ -x "$SRCDIR/build/$d/ipopd" ] && : "${IPOPD:=$SRCDIR/build/$d/ipopd}" "${IPOPCTL:=$SRCDIR/build/$d/ipopctl}"
done
export IPOPD IPOPCTL
. "$SRCDIR/tests/netns/lib.sh"
. "$SRCDIR/tests/netns/faults_lib.sh"
TEST_NAME=soak
harness_init
need_cmd prosody prosodyctl turnserver openssl conntrack bc iperf3 gnuplot

# faults_write_config with rekeys every 30 s
eval "orig_$(declare -f faults_write_config)"
faults_write_config()
{
	local r=${REKEY_FAST:-}
	REKEY_FAST=
	orig_faults_write_config "$@"
	sed -i 's/"keepalive_interval": 2/"keepalive_interval": 2, "rekey_interval": 30/' "$T/$1.json"
	REKEY_FAST=$r
}
faults_setup
log "overlay up; soak for $MINUTES min, samples in $OUT/soak.csv"

spawn nsx s2 iperf3 -s -p 5201 >"$T/iperf-s2.log" 2>&1
spawn nsx s1 iperf3 -s -p 5202 >"$T/iperf-s1.log" 2>&1
spawn nsx s3 iperf3 -s -p 5203 >"$T/iperf-s3.log" 2>&1
sleep 1
secs=$((MINUTES * 60))
# iperf3 clients give up on a long outage: each runs in a loop, and the loop
# takes its client with it when the harness stops it (by PID)
loop()
{
	spawn bash -c "trap 'kill \$c 2>/dev/null; exit 0' TERM; end=\$((SECONDS + $secs))
		while [ \$SECONDS -lt \$end ]; do $* & c=\$!; wait \$c; sleep 1; done"
}
loop ip netns exec "$(ns s1)" iperf3 -c 10.254.0.2 -p 5201 -b 20M -t 120 ">/dev/null 2>&1"
loop ip netns exec "$(ns s3)" iperf3 -c 10.254.0.1 -p 5202 -b 5M -t 120 ">/dev/null 2>&1"
loop ip netns exec "$(ns s2)" iperf3 -u -c 10.254.0.3 -p 5203 -b 2M -t 120 ">/dev/null 2>&1"
loop ip netns exec "$(ns s3)" ping -q -i 0.2 -c 300 10.254.0.2 ">/dev/null 2>&1"
spawn nsx s2 $TRAFFIC probe-recv 7999 "$T/soak-recv"
spawn nsx s1 $TRAFFIC probe-send 10.254.0.2 7999 100 "$T/soak-send"
probe_pid=$SPAWN_PID

csv=$OUT/soak.csv
echo "minute,site,pid,rss_kb,fds,links_up,sas,event" >"$csv"
sample()
{
	local m=$1 ev=$2 s pid rss fds up sas
	for s in s1 s2 s3; do
		pid=${GW_PID[$s]}
		rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
		fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
		up=$(ctl_get "$T/$s.sock" links "sum(1 for l in d['links'] if l['state']=='up')" 2>/dev/null || echo 0)
		sas=$(ctl_get "$T/$s.sock" sas "len(d['sas'] or [])" 2>/dev/null || echo 0)
		echo "$m,$s,$pid,$rss,$fds,$up,$sas,$ev" >>"$csv"
	done
}

faults=(ct loss linkdown xmpp turn kill9)
fi=0
ev=start
t0=$SECONDS
for ((m = 0; m <= MINUTES; m++)); do
	sample "$m" "$ev"
	[ "$m" -lt "$MINUTES" ] || break
	ev=""
	if [ $((m % 2)) -eq 1 ]; then
		GHOST=$((3 - GHOST))
		faults_write_config s1
		kill -HUP "${GW_PID[s1]}"
		ev="reload"
	fi
	if [ $((m % 5)) -eq 4 ]; then
		stop_ipopd "${GW_PID[s3]}"
		sleep 20 # s3 gone from the room for 20 s
		start_ipopd s3 "$T/s3.json"
		GW_PID[s3]=$IPOPD_PID
		ev="$ev churn"
	fi
	if [ $((m % 4)) -eq 3 ]; then
		f=${faults[fi % ${#faults[@]}]}
		fi=$((fi + 1))
		case $f in
		ct) fault_conntrack s1 ;;
		loss) fault_loss 5 20 ;;
		linkdown) fault_linkdown 3 ;;
		xmpp) fault_xmpp 15 ;;
		turn) fault_turn ;;
		kill9) fault_kill9 ;;
		esac
		ev="$ev fault:$f"
	fi
	# the next sample a minute after this one
	while [ $((SECONDS - t0)) -lt $(((m + 1) * 60)) ]; do sleep 1; done
done

stop_pid "$probe_pid"
row=$($TRAFFIC analyse "$T/soak-send" "$T/soak-recv" 0 0 2>/dev/null || echo "? ? ?")
log "probes s1 -> s2 over the whole soak: lost/longest gap ms: ${row% *}"

# one data file per gateway, so gnuplot draws each as a connected line
for s in s1 s2 s3; do awk -F, -v s="$s" '$2 == s { print $1, $4, $5, $6, $7 }' "$csv" >"$T/$s.dat"; done
gnuplot <<-EOF
	set terminal pngcairo size 1200,900
	set output "$OUT/soak.png"
	set multiplot layout 3,1 title "ipopd soak: $MINUTES min (rekey 30 s, reload 2 min, churn 5 min, fault 4 min)"
	set key outside right
	set xlabel "minute"
	set ylabel "RSS (KiB)"
	plot for [s in "s1 s2 s3"] "$T/".s.".dat" using 1:2 with linespoints title s
	set ylabel "open fds"
	set yrange [0:*]
	plot for [s in "s1 s2 s3"] "$T/".s.".dat" using 1:3 with linespoints title s
	set ylabel "links up / SAs"
	plot for [s in "s1 s2 s3"] "$T/".s.".dat" using 1:4 with lines title s." links", \
	     for [s in "s1 s2 s3"] "$T/".s.".dat" using 1:5 with points title s." SAs"
	unset multiplot
EOF
log "plot: $OUT/soak.png"

# s1 is never restarted: its figures after warm-up must be flat.
read -r rss_w fds_w sas_w < <(awk -F, -v m="$WARMUP" '$1 == m && $2 == "s1" { print $4, $5, $7 }' "$csv")
read -r rss_e fds_e sas_e < <(awk -F, '$2 == "s1" { r = $4 " " $5 " " $7 } END { print r }' "$csv")
log "s1 after warm-up (minute $WARMUP): RSS $rss_w KiB, $fds_w fds, $sas_w SAs; at the end: RSS $rss_e KiB, $fds_e fds, $sas_e SAs"
[ "$rss_e" -le $((rss_w + rss_w / 10 + 1024)) ] || fail "s1's RSS grew from $rss_w to $rss_e KiB"
[ "$fds_e" -le "$fds_w" ] || fail "s1's open fds grew from $fds_w to $fds_e"
ok "s1's RSS and fds flat after warm-up"
