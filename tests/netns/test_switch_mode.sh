#!/usr/bin/env bash
# Switch mode: two sites, two containers each, all on one L2 segment
# (10.0.3.0/24, fd00:3::/64) stretched over the overlay. ARP and neighbour
# discovery cross it, containers ping each other over IPv4 and IPv6, an iperf3
# TCP run between sites completes, and the counters show flooding and learning.
. "$(dirname "$0")/lib.sh"
harness_init
need_cmd iperf3

make_wan
# Both lxcbr0 end up on the same L2 segment once the overlay bridges them, so
# they must not both be 10.0.3.1 (duplicate address): site b's bridge takes
# 10.0.3.2. Each site's containers keep their own site's bridge as gateway.
make_site a 1 10.0.3.1
make_site b 2 10.0.3.2
make_container a a1 10.0.3.11/24 fd00:3::11/64
make_container a a2 10.0.3.12/24 fd00:3::12/64
make_container b b1 10.0.3.21/24 fd00:3::21/64
make_container b b2 10.0.3.22/24 fd00:3::22/64

# The "virtual" IPv4 of a switch-mode node is only its identity (node id), like
# the seeds' 10.0.3.100: 10.0.3.101/.102, clear of the bridges and containers.
write_config "$T/a.json" site=a mode=switch net=10.0.3 hostoff=100 tap=ipopA bridge=lxcbr0 peers=b
write_config "$T/b.json" site=b mode=switch net=10.0.3 hostoff=100 tap=ipopB bridge=lxcbr0 peers=a
start_ipopd a "$T/a.json"
start_ipopd b "$T/b.json"
sock_a=$(config_sock "$T/a.json")
sock_b=$(config_sock "$T/b.json")

assert_eq "$(ctl_get "$sock_a" status 'd["mode"]')" switch "status.mode of a"
master=$(nsx a ip -o link show ipopA)
assert_contains "$master" "master lxcbr0" "ipopd enslaved its TAP into lxcbr0"
mtu=$(ctl_get "$sock_a" status 'd["mtu"]')
assert_gt "$mtu" 1279 "overlay MTU"
assert_contains "$master" "mtu $mtu " "TAP MTU = status.mtu"
set_container_mtu a "$mtu"
set_container_mtu b "$mtu"
ok "TAP in lxcbr0, MTU $mtu"

ping_ok a1 10.0.3.21
ping_ok a2 10.0.3.22
ping_ok b2 10.0.3.11
ping_ok a1 fd00:3::22
ping_ok b1 fd00:3::12
# Large frames up to the MTU cross as well (no fragmentation in the overlay).
ping_ok a1 10.0.3.22 -s $((mtu - 28)) -M "do"
ping_ok a2 fd00:3::21 -s $((mtu - 48)) -M "do"

# ARP and ND resolved across the overlay: the neighbours are real MACs.
mac_b1=$(nsx b1 cat /sys/class/net/eth0/address)
assert_contains "$(nsx a1 ip neigh show 10.0.3.21)" "lladdr $mac_b1" "ARP entry of b1 in a1"
assert_contains "$(nsx a1 ip -6 neigh show fd00:3::22)" \
	"lladdr $(nsx b2 cat /sys/class/net/eth0/address)" "ND entry of b2 in a1"
ok "ARP and ND crossed the overlay"

# iperf3 TCP, 5 s, a1 -> b1.
spawn nsx b1 iperf3 -s -1 -p 5201 >"$T/iperf-server.txt" 2>&1
wait_for 5 nsx b1 sh -c 'ss -ltn | grep -q :5201' || fail "iperf3 server did not start"
nsx a1 iperf3 -c 10.0.3.21 -p 5201 -t 5 -J >"$T/iperf.json" ||
	fail "iperf3 a1 -> b1 failed: $(head -c 600 "$T/iperf.json")"
bps=$($PY -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]))' "$T/iperf.json")
assert_gt "$bps" 1000000 "iperf3 received bit rate"
ok "iperf3 TCP a1 -> b1: $((bps / 1000000)) Mbit/s"

for s in "$sock_a" "$sock_b"; do
	assert_gt "$(ctl_get "$s" stats 'd["total"]["flooded"]')" 0 "stats total.flooded ($s)"
	assert_gt "$(ctl_get "$s" stats 'd["total"]["learn_events"]')" 0 "stats total.learn_events ($s)"
	assert_gt "$(ctl_get "$s" stats 'd["fdb_entries"]')" 1 "stats fdb_entries (learned MACs, $s)"
done
ok "flooded, learn_events and learned MACs non-zero on both sites"
ctl "$sock_a" stats | head -n 20
exit 0
