#!/usr/bin/env bash
# Hitless rekey: a keyed L3 link between two gateways carries a 20 s iperf3
# TCP run twice — once with the default-like rekey_interval 120 (no rekey
# inside the run) and once with rekey_interval 2 (about ten rekeys inside the
# run). Both runs complete; the rekeying run's throughput is within noise of
# the other; the counters show several rekeys and completed handshakes, no
# authentication failures and (ideally) no replays; the SPIs sampled during
# the run change over time.
. "$(dirname "$0")/lib.sh"
harness_init
need_cmd iperf3

DURATION=${DURATION:-20}
make_wan
make_site a 1
make_site b 2

spawn nsx b iperf3 -s -p 5201 >"$T/iperf-server.txt" 2>&1
wait_for 5 nsx b sh -c 'ss -ltn | grep -q :5201' || fail "iperf3 server did not start"

# start_pair REKEY_S: (re)starts both gateways with that rekey interval and
# waits for the link. Sets PID_A PID_B SOCK_A SOCK_B.
start_pair()
{
	write_keyed_config "$T/a.json" site=a tap=ipopA peers=b rekey="$1"
	write_keyed_config "$T/b.json" site=b tap=ipopB peers=a rekey="$1"
	start_ipopd a "$T/a.json"
	PID_A=$IPOPD_PID
	start_ipopd b "$T/b.json"
	PID_B=$IPOPD_PID
	SOCK_A=$(config_sock "$T/a.json")
	SOCK_B=$(config_sock "$T/b.json")
	wait_link_up 15 "$SOCK_A" b
	wait_link_up 15 "$SOCK_B" a
	ping_ok a 10.254.0.2 >/dev/null
}
stop_pair()
{
	stop_ipopd "$PID_A"
	stop_ipopd "$PID_B"
}

# iperf_run TAG: 20 s a -> b; prints the received rate in bit/s.
iperf_run()
{
	local j="$T/iperf-$1.json"
	nsx a iperf3 -c 10.254.0.2 -p 5201 -t "$DURATION" -J >"$j" ||
		fail "iperf3 run '$1' failed: $(head -c 600 "$j")"
	$PY -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]))' "$j"
}

# sample_spis OUT: every 0.5 s, a's spi_in/spi_out, until killed.
sample_spis()
{
	while :; do
		ctl "$SOCK_A" links --json 2>/dev/null |
			json_get "' '.join(next((l['spi_in'], l['spi_out']) for l in d['links'] if l['name']=='b'))" \
				>>"$1" 2>/dev/null || true
		sleep 0.5
	done
}

# --- run 1: rekey_interval 120 (no rekey within 20 s) ---
# (Counters are compared before/after each run: a simultaneous start may
# already count a second handshake as a rekey.)
start_pair 120
k0=$(($(hs_get "$SOCK_A" rekeys) + $(hs_get "$SOCK_B" rekeys)))
base=$(iperf_run norekey)
assert_gt "$base" 1000000 "iperf3 rate without rekey"
k1=$(($(hs_get "$SOCK_A" rekeys) + $(hs_get "$SOCK_B" rekeys)))
assert_eq "$((k1 - k0))" 0 "rekeys (a+b) during a ${DURATION} s run with rekey_interval 120"
ok "iperf3 TCP a -> b, rekey_interval 120: $((base / 1000000)) Mbit/s"
stop_pair

# --- run 2: rekey_interval 2 ---
start_pair 2
c0_a=$(hs_get "$SOCK_A" completed)
c0_b=$(hs_get "$SOCK_B" completed)
rk0_a=$(hs_get "$SOCK_A" rekeys)
rk0_b=$(hs_get "$SOCK_B" rekeys)
lrk0_a=$(link_get "$SOCK_A" b rekeys)
lrk0_b=$(link_get "$SOCK_B" a rekeys)
(
	trap - EXIT ERR INT TERM
	sample_spis "$T/spis.txt"
) &
sampler=$!
PIDS+=("$sampler")
rk=$(iperf_run rekey)
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
ok "iperf3 TCP a -> b, rekey_interval 2: $((rk / 1000000)) Mbit/s"

rk_a=$(($(hs_get "$SOCK_A" rekeys) - rk0_a))
rk_b=$(($(hs_get "$SOCK_B" rekeys) - rk0_b))
lrk_a=$(($(link_get "$SOCK_A" b rekeys) - lrk0_a))
lrk_b=$(($(link_get "$SOCK_B" a rekeys) - lrk0_b))
log "rekeys during the run: stats a=$rk_a b=$rk_b, links a=$lrk_a b=$lrk_b"
[ $((rk_a > rk_b ? rk_a : rk_b)) -ge 5 ] || fail "fewer than 5 rekeys on both sides during ${DURATION} s with rekey_interval 2 (a $rk_a, b $rk_b)"
[ $((lrk_a > lrk_b ? lrk_a : lrk_b)) -ge 5 ] || fail "links[].rekeys below 5 on both sides (a $lrk_a, b $lrk_b)"
c1_a=$(hs_get "$SOCK_A" completed)
c1_b=$(hs_get "$SOCK_B" completed)
assert_gt "$((c1_a + c1_b - c0_a - c0_b))" 4 "handshake.completed growth during the rekey run (a $c0_a->$c1_a, b $c0_b->$c1_b)"
ok "rekeys a=$rk_a b=$rk_b, handshake.completed a $c0_a->$c1_a, b $c0_b->$c1_b"

for s in "$SOCK_A" "$SOCK_B"; do
	assert_eq "$(drop_get "$s" auth)" 0 "drops.auth ($s)"
	for k in mac1_fail decrypt_fail unknown_key; do
		assert_eq "$(hs_get "$s" $k)" 0 "handshake.$k ($s)"
	done
done
rp_a=$(drop_get "$SOCK_A" replay)
rp_b=$(drop_get "$SOCK_B" replay)
us_a=$(drop_get "$SOCK_A" unknown_spi)
us_b=$(drop_get "$SOCK_B" unknown_spi)
ld_a=$(drop_get "$SOCK_A" link_down)
ld_b=$(drop_get "$SOCK_B" link_down)
log "drops: replay a=$rp_a b=$rp_b, unknown_spi a=$us_a b=$us_b, link_down a=$ld_a b=$ld_b"
# Replays: TCP over one UDP flow on veths does not reorder or duplicate, so a
# replay drop would mean a sequence number reused across SAs: 0 expected; a
# handful tolerated only from reordering across the two workers' queues.
[ $((rp_a + rp_b)) -le 10 ] || fail "replay drops during hitless rekey: a $rp_a, b $rp_b"
ok "no auth failures, replay drops a=$rp_a b=$rp_b"

nspi=$(sort -u "$T/spis.txt" | wc -l)
ntot=$(wc -l <"$T/spis.txt")
assert_gt "$ntot" 10 "SPI samples taken during the run"
assert_gt "$nspi" 4 "distinct (spi_in, spi_out) pairs seen in $ntot samples over ${DURATION} s"
# Each new SA pair uses fresh SPIs (no reuse of a retired one within the run).
ins=$(awk '{print $1}' "$T/spis.txt" | uniq | wc -l)
ins_u=$(awk '{print $1}' "$T/spis.txt" | sort -u | wc -l)
assert_eq "$ins_u" "$ins" "spi_in values never come back once replaced"
ok "SPIs changed $((nspi - 1)) times during the run ($(head -n 1 "$T/spis.txt") ... $(tail -n 1 "$T/spis.txt"))"

# Throughput bound: 70 %. Both runs share a 2-vCPU VM with everything else
# that runs on it; back-to-back iperf3 runs over the same path differ by up to
# ~30 % here without any change (bench/rekey_cost.sh: 0.48-0.71 Gbit/s over
# three runs of one configuration). A rekey costs a handshake (~3 ms of one
# core, bench_handshake) and a table publication every 2 s, so a correct
# implementation stays far above 70 %; a rekey that stalls traffic (a gap
# until the new SA is confirmed, or TCP losses from dropped packets during the
# switch) costs several seconds of cwnd regrowth per rekey and falls below it.
# One re-measurement of both runs before failing absorbs a single noisy run.
ratio_ok() { awk -v r="$1" -v b="$2" 'BEGIN { exit (r >= 0.70 * b) ? 0 : 1 }'; }
if ! ratio_ok "$rk" "$base"; then
	log "rekey run at $(awk -v r="$rk" -v b="$base" 'BEGIN{printf "%.2f", r/b}') of the baseline: measuring both again"
	rk2=$(iperf_run rekey2)
	stop_pair
	start_pair 120
	base2=$(iperf_run norekey2)
	log "second pair: rekey $((rk2 / 1000000)) Mbit/s, no rekey $((base2 / 1000000)) Mbit/s"
	ratio_ok "$rk2" "$base2" ||
		fail "rekey run below 70 % of the run without rekey twice: $rk/$base and $rk2/$base2 bit/s"
	rk=$rk2
	base=$base2
fi
ok "throughput with rekey every 2 s: $(awk -v r="$rk" -v b="$base" 'BEGIN{printf "%.2f", r/b}') of the run without rekey (bound 0.70)"
exit 0
