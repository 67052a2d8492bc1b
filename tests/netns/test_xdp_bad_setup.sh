#!/usr/bin/env bash
# A bad af_xdp setup stops ipopd with one line saying what to fix, and
# nothing is left behind: no XDP program on the interface, no TAP.
#
# Cases: the underlay interface does not exist; it has another XDP program
# already (which stays, untouched); more workers than it has receive queues;
# an MTU whose frames do not fit a UMEM chunk; "af_xdp" without an
# underlay_interface (a config error naming file, line and key). Then the
# same site starts fine, and stops leaving nothing attached.
. "$(dirname "$0")/lib.sh"
harness_init
[ -n "${XDP_OBJ:-}" ] && export IPOPD_XDP_OBJECT=$XDP_OBJ
OBJ=${XDP_OBJ:-$SRCDIR/build/bpf/xdp_steer.bpf.o}

make_wan
make_site a 1
make_site b 2

# bad_start CFG WANT: ipopd must exit non-zero within 10 s, its last line
# matching WANT, with nothing attached to eth0 and no TAP left.
bad_start()
{
	local cfg=$1 want=$2 out rc=0
	out=$(timeout 10 ip netns exec "$(ns a)" "$IPOPD" -c "$cfg" 2>&1) || rc=$?
	[ "$rc" -ne 0 ] || fail "ipopd started with $cfg"
	[ "$rc" -ne 124 ] || fail "ipopd did not stop with $cfg"
	assert_contains "$(tail -n 1 <<<"$out")" "$want" "last line of ipopd with $(basename "$cfg")"
	if nsx a ip link show dev bkA >/dev/null 2>&1; then
		fail "TAP bkA left behind after: $(tail -n 1 <<<"$out")"
	fi
	ok "$(basename "$cfg" .json): $(tail -n 1 <<<"$out")"
}
no_xdp()
{
	if nsx a ip link show dev eth0 | grep -q "prog/xdp"; then
		fail "$1: an XDP program is attached to eth0: $(nsx a ip link show dev eth0)"
	fi
}

cfg() # NAME EXTRA [WORKERS]: a config for site a with backend af_xdp and EXTRA
{
	write_config "$T/$1.json" site=a tap=bkA peers=b workers="${3:-1}" \
		extra="\"backend\": \"af_xdp\"$2"
}

cfg missing ', "underlay_interface": "nosuch0"'
bad_start "$T/missing.json" "af_xdp: underlay interface nosuch0 does not exist \(ipopd.underlay_interface\)"
no_xdp missing

cfg queues ', "underlay_interface": "eth0"' 2
bad_start "$T/queues.json" "af_xdp: eth0 has 1 receive queue but ipopd.workers is 2"
no_xdp queues

nsx a ip link set dev eth0 mtu 9000
cfg mtu ', "underlay_interface": "eth0"'
bad_start "$T/mtu.json" "af_xdp: eth0 has MTU 9000; frames must fit a 4096-byte UMEM chunk"
nsx a ip link set dev eth0 mtu 1500
no_xdp mtu

cfg noif ''
bad_start "$T/noif.json" "noif.json:[0-9]+: ipopd.backend: expected ipopd.underlay_interface"

# Somebody else's program on eth0: refused, and theirs stays.
nsx a ip link set dev eth0 xdpgeneric obj "$OBJ" sec xdp
id0=$(nsx a ip -d link show dev eth0 | grep -o "prog/xdp id [0-9]*")
[ -n "$id0" ] || fail "could not attach a program for the test: $(nsx a ip link show dev eth0)"
cfg busy ', "underlay_interface": "eth0"'
bad_start "$T/busy.json" "eth0 already has an XDP program"
assert_eq "$(nsx a ip -d link show dev eth0 | grep -o "prog/xdp id [0-9]*")" "$id0" \
	"the other program on eth0"
nsx a ip link set dev eth0 xdpgeneric off
no_xdp "after removing the other program"
ok "another program on eth0: refused, left in place"

# The same site, set up right, starts; and stops leaving nothing.
cfg good ', "underlay_interface": "eth0"'
start_ipopd a "$T/good.json"
pid=$IPOPD_PID
nsx a ip link show dev eth0 | grep -q "prog/xdp" || fail "no XDP program while running"
stop_ipopd "$pid"
no_xdp "after a clean stop"
# A crash leaves nothing either: the program hangs on the daemon's BPF link.
start_ipopd a "$T/good.json"
kill -KILL "$IPOPD_PID"
wait "$IPOPD_PID" 2>/dev/null || true
wait_for 5 sh -c "! ip -n $(ns a) link show dev eth0 | grep -q prog/xdp" ||
	fail "XDP program still attached 5 s after SIGKILL"
ok "started and stopped, also killed: nothing attached to eth0 afterwards"
exit 0
