#!/usr/bin/env bash
# Restarting one gateway of a keyed link re-establishes it within seconds,
# without touching the other gateway: after a clean stop (SIGTERM) and after a
# crash (SIGKILL) of b, the first ping a -> b is answered within 5 s of b's
# start (measured from the moment ipopd is launched) and b -> a works too. a
# keeps running throughout (same PID) and counts no authentication failures.
. "$(dirname "$0")/lib.sh"
harness_init

LIMIT_MS=5000
make_wan
make_site a 1
make_site b 2
write_keyed_config "$T/a.json" site=a tap=ipopA peers=b
write_keyed_config "$T/b.json" site=b tap=ipopB peers=a
start_ipopd a "$T/a.json"
pid_a=$IPOPD_PID
start_ipopd b "$T/b.json"
pid_b=$IPOPD_PID
sock_a=$(config_sock "$T/a.json")
sock_b=$(config_sock "$T/b.json")
wait_link_up 15 "$sock_a" b
ping_ok a 10.254.0.2
spis_before=$(link_get "$sock_a" b spi_in)

now_ms() { date +%s%3N; }

# restart_b HOW: stops b (clean or kill), starts it again, measures the time
# from the launch to the first echo reply a -> b into RESTART_MS. (Not run in
# a command substitution: the new PID must reach this shell for cleanup.)
restart_b()
{
	local how=$1 t0 t1 i
	if [ "$how" = TERM ]; then
		stop_ipopd "$pid_b"
	else
		kill -KILL "$pid_b"
		wait "$pid_b" 2>/dev/null || true
	fi
	kill -0 "$pid_a" 2>/dev/null || fail "a died"
	t0=$(now_ms)
	start_ipopd b "$T/b.json"
	pid_b=$IPOPD_PID
	# One echo request every 50 ms, each waiting up to 100 ms for its reply
	# (no reply can take longer on veths), until one is answered.
	for ((i = 0; ; i++)); do
		if nsx a ping -c 1 -W 0.1 10.254.0.2 >/dev/null 2>&1; then
			break
		fi
		t1=$(now_ms)
		[ $((t1 - t0)) -lt $((3 * LIMIT_MS)) ] || fail "no echo reply a -> b within $((3 * LIMIT_MS)) ms of b's restart ($how)"
		sleep 0.05
	done
	t1=$(now_ms)
	RESTART_MS=$((t1 - t0))
}

for how in TERM KILL; do
	restart_b $how
	ms=$RESTART_MS
	log "SIG$how + restart of b: first echo reply a -> b after $ms ms (start-up included)"
	[ "$ms" -le "$LIMIT_MS" ] || fail "SIG$how + restart: first reply after $ms ms (> $LIMIT_MS ms)"
	ping_ok a 10.254.0.2 >/dev/null
	ping_ok b 10.254.0.1 >/dev/null
	assert_eq "$(link_state "$sock_a" b)" up "a: link state after b's SIG$how restart"
	assert_eq "$(link_state "$sock_b" a)" up "b: link state after its SIG$how restart"
	ok "SIG$how + restart of b: link back after $ms ms, pings both ways"
done

kill -0 "$pid_a" 2>/dev/null || fail "a is no longer running"
spis_after=$(link_get "$sock_a" b spi_in)
[ "$spis_after" != "$spis_before" ] || fail "a's inbound SPI for b unchanged ($spis_after) across b's restarts: no new handshake?"
assert_eq "$(drop_get "$sock_a" auth)" 0 "a: drops.auth"
log "a: handshakes $(link_get "$sock_a" b handshakes), $(ctl_get "$sock_a" stats "' '.join('%s=%s' % kv for kv in d['handshake'].items() if kv[1])")"
ok "a never restarted (PID $pid_a), its inbound SPI moved $spis_before -> $spis_after, no auth drops"
exit 0
