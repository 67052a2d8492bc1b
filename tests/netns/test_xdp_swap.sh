#!/usr/bin/env bash
# Table swaps under load on the af_xdp backend: two L3-mode gateways, both on
# "backend": "af_xdp", while a sequence-numbered UDP stream crosses them (a's
# worker encrypts it onto its AF_XDP TX ring, b's takes it off its RX ring),
# each control core publishes a new forwarding table 100 times a second
# (the management socket's "publish" command). The receiver must see every
# datagram exactly once and in order: a worker adopting a table between two
# bursts never loses, duplicates or reorders a packet.
. "$(dirname "$0")/lib.sh"
harness_init
[ -n "${XDP_OBJ:-}" ] && export IPOPD_XDP_OBJECT=$XDP_OBJ
SEQ="$(dirname "$0")/xdp_seq.py"
N=${SWAP_N:-10000}
RATE=${SWAP_RATE:-2000}
SECS=$((N / RATE + 1))

make_wan
make_site a 1
make_site b 2
for s in a b; do
	o=b
	[ $s = b ] && o=a
	write_config "$T/$s.json" site=$s tap=bk$s peers=$o \
		extra='"backend": "af_xdp", "underlay_interface": "eth0"'
done
start_ipopd a "$T/a.json"
start_ipopd b "$T/b.json"
sock_a=$(config_sock "$T/a.json")
sock_b=$(config_sock "$T/b.json")
ping_ok a 10.254.0.2
ok "af_xdp on both sites, overlay up"

tables() { ctl_get "$1" stats "d['total']['tables']"; }
xsk() { ctl_get "$1" status "next(p for p in d['backend_status']['ports'] if p['kind']=='af_xdp')['counters']['$2']"; }
ta0=$(tables "$sock_a")
tb0=$(tables "$sock_b")
txa0=$(xsk "$sock_a" tx_frames)
rxb0=$(xsk "$sock_b" rx_frames)

spawn nsx b "$PY" "$SEQ" recv 10.254.0.2 9000 "$N" 3 >"$T/recv.out" 2>&1
rpid=$SPAWN_PID
wait_for 5 grep -q listening "$T/recv.out" || fail "receiver: $(cat "$T/recv.out")"
spawn "$PY" "$SEQ" publish "$sock_a" 100 "$SECS" >"$T/pub-a.out" 2>&1
pa=$SPAWN_PID
spawn "$PY" "$SEQ" publish "$sock_b" 100 "$SECS" >"$T/pub-b.out" 2>&1
pb=$SPAWN_PID
nsx a "$PY" "$SEQ" send 10.254.0.2 9000 "$N" "$RATE" || fail "sender failed"
wait "$rpid" || fail "receiver failed: $(cat "$T/recv.out")"
wait "$pa" || fail "publisher a: $(cat "$T/pub-a.out")"
wait "$pb" || fail "publisher b: $(cat "$T/pub-b.out")"

read -r got lost reord dup <<<"$(tail -n 1 "$T/recv.out")"
log "stream: $got of $N received, $lost lost, $reord reordered, $dup duplicated"
ta=$(($(tables "$sock_a") - ta0))
tb=$(($(tables "$sock_b") - tb0))
log "tables adopted meanwhile: a $ta, b $tb (publications: $(cat "$T/pub-a.out"), $(cat "$T/pub-b.out"))"
assert_gt "$ta" $((SECS * 60)) "tables adopted by a's worker"
assert_gt "$tb" $((SECS * 60)) "tables adopted by b's worker"
assert_eq "$lost" 0 "datagrams lost"
assert_eq "$reord" 0 "datagrams reordered"
assert_eq "$dup" 0 "datagrams duplicated"
txa=$(($(xsk "$sock_a" tx_frames) - txa0))
rxb=$(($(xsk "$sock_b" rx_frames) - rxb0))
assert_gt "$txa" $((N - 1)) "frames a sent through AF_XDP"
assert_gt "$rxb" $((N - 1)) "frames b received through AF_XDP"
ok "$N datagrams at $RATE/s through AF_XDP on both ends, $ta + $tb table swaps: none lost, reordered or duplicated"
exit 0
