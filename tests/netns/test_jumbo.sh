#!/usr/bin/env bash
# Jumbo frames (issue #9): with a 9000-byte underlay MTU the TAP MTU follows
# (minus the real encapsulation overhead), and `ping -s 8000` with DF set and
# a TCP file transfer (SHA-256 checked) cross in L3 mode (gateway to gateway)
# and in switch mode (container to container through lxcbr0), with no drop
# counted anywhere. A configured underlay MTU beyond what a packet buffer
# holds gives a TAP MTU of 9000 (DP_MTU_MAX), and a packet over the overlay
# MTU (TAP MTU raised by hand) is answered with ICMP too big: never a black hole.
. "$(dirname "$0")/lib.sh"
harness_init
need_cmd sha256sum

XFER="$(dirname "$0")/xfer.py"
make_wan
make_site a 1
make_site b 2
make_container a a1 10.0.3.11/24
make_container b b1 10.0.3.21/24
nsx wan ip link set br0 mtu 9000
for s in a b; do
	nsx wan ip link set "w-$s" mtu 9000
	nsx "$s" ip link set eth0 mtu 9000
done
head -c 48M /dev/urandom >"$T/file"
want="$(stat -c %s "$T/file") $(sha256sum "$T/file" | cut -d' ' -f1)"

transfer()
{
	local from=$1 to=$2 addr=$3
	rm -f "$T/recv.out"
	spawn nsx "$to" "$PY" "$XFER" tcp-recv "$addr" 7000 >"$T/recv.out" 2>&1
	local rpid=$SPAWN_PID
	wait_for 5 grep -q listening "$T/recv.out" || fail "tcp-recv: $(cat "$T/recv.out")"
	nsx "$from" "$PY" "$XFER" tcp-send "$addr" 7000 "$T/file" || fail "tcp-send $from -> $addr"
	wait "$rpid" || fail "tcp-recv on $to failed: $(cat "$T/recv.out")"
	assert_eq "$(tail -n 1 "$T/recv.out")" "$want" "bytes and SHA-256 received on $to"
}

no_drops()
{
	local s d
	for s in "$@"; do
		for d in too_big short auth no_buffer bad_vnet_hdr host_tx net_tx; do
			assert_eq "$(drop_get "$s" $d)" 0 "drops.$d"
		done
	done
}

for mode in l3 switch; do
	args=()
	[ $mode = switch ] && args=(net=10.0.3 hostoff=100 bridge=lxcbr0)
	write_config "$T/a.json" site=a mode=$mode tap=ipopA peers=b "${args[@]}"
	write_config "$T/b.json" site=b mode=$mode tap=ipopB peers=a "${args[@]}"
	start_ipopd a "$T/a.json"
	pa=$IPOPD_PID
	start_ipopd b "$T/b.json"
	pb=$IPOPD_PID
	sa=$(config_sock "$T/a.json")
	sb=$(config_sock "$T/b.json")
	mtu=$(ctl_get "$sa" status 'd["mtu"]')
	# 9000 - 20 (IPv4) - 8 (UDP) - 8 (ESP) - 8 (IV) - 16 (ICV) - 2 (trailer), padded;
	# switch mode carries the inner Ethernet header too.
	if [ $mode = l3 ]; then want_mtu=8938; else want_mtu=8924; fi
	assert_eq "$mtu" "$want_mtu" "$mode: TAP MTU with a 9000-byte underlay"
	if [ $mode = l3 ]; then
		src=a dst=10.254.0.2 rsrc=b rdst=10.254.0.1
	else
		set_container_mtu a "$mtu"
		set_container_mtu b "$mtu"
		src=a1 dst=10.0.3.21 rsrc=b1 rdst=10.0.3.11
	fi
	nsx $src ping -c 3 -i 0.2 -W 2 -M do -s 8000 $dst >"$T/ping.txt" 2>&1 ||
		fail "$mode: ping -s 8000 $dst: $(cat "$T/ping.txt")"
	nsx $rsrc ping -c 3 -i 0.2 -W 2 -M do -s $((mtu - 28)) $rdst >"$T/ping.txt" 2>&1 ||
		fail "$mode: ping -s $((mtu - 28)) $rdst: $(cat "$T/ping.txt")"
	ok "$mode: ping -s 8000 and -s $((mtu - 28)) (a full $mtu-byte packet) cross with DF set"
	transfer $src $rsrc $dst
	no_drops "$sa" "$sb"
	ok "$mode: 48 MB by TCP at MTU $mtu, SHA-256 matches, no drops"
	stop_ipopd "$pa"
	stop_ipopd "$pb"
done

# No black hole: the TAP MTU raised by hand above the overlay's. A DF packet
# too big to cross gets ICMP "fragmentation needed" with the overlay MTU, so
# the sender's path MTU drops to it and the next pings of that size fail
# locally with "message too long" instead of vanishing.
write_config "$T/a.json" site=a tap=ipopA peers=b
write_config "$T/b.json" site=b tap=ipopB peers=a
start_ipopd a "$T/a.json"
pa=$IPOPD_PID
start_ipopd b "$T/b.json"
pb=$IPOPD_PID
sa=$(config_sock "$T/a.json")
mtu=$(ctl_get "$sa" status 'd["mtu"]')
nsx a ip link set ipopA mtu 9000
nsx a ping -c 2 -i 0.3 -W 1 -M do -s $((mtu + 12)) 10.254.0.2 >"$T/ping.txt" 2>&1 || true
assert_gt "$(ctl_get "$sa" stats "d['total']['icmp_too_big']")" 0 "a: icmp_too_big"
route=$(nsx a ip route get 10.254.0.2)
assert_contains "$route" "mtu $mtu" "a's route to 10.254.0.2 after ICMP too big"
ping_ok a 10.254.0.2 -s $((mtu - 28)) -M do
ok "a DF packet over the MTU is answered with ICMP (path MTU $mtu learned), not dropped silently"
stop_ipopd "$pa"
stop_ipopd "$pb"

# An underlay MTU beyond any buffer: the TAP gets DP_MTU_MAX, not more.
write_config "$T/a.json" site=a tap=ipopA peers=b extra='"underlay_mtu": 65535'
start_ipopd a "$T/a.json"
assert_eq "$(ctl_get "$(config_sock "$T/a.json")" status 'd["mtu"]')" 9000 "TAP MTU with underlay_mtu 65535"
assert_eq "$(nsx a cat /sys/class/net/ipopA/mtu)" 9000 "ipopA's MTU in the kernel"
ok "underlay_mtu 65535: TAP MTU capped at 9000"
exit 0
