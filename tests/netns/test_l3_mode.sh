#!/usr/bin/env bash
# L3 (GroupVPN) mode between two gateways: the TAPs carry the virtual IPv4 and
# the ULA, both ping across; an overlay address nobody owns gets no answer and
# is counted; a subnet routed behind a peer ("routes") is reachable once the
# host routes it into the TAP; SIGTERM shuts down cleanly.
. "$(dirname "$0")/lib.sh"
harness_init

make_wan
make_site a 1
make_site b 2
# A LAN behind gateway b that b's ipopd announces as a peer route on a.
nsx b ip link add lan0 type bridge
nsx b ip addr add 192.168.50.1/24 dev lan0
nsx b ip link set lan0 up
new_ns h50
ip -n "$(ns b)" link add v-h50 type veth peer name eth0 netns "$(ns h50)"
ip -n "$(ns b)" link set v-h50 master lan0 up
nsx h50 ip addr add 192.168.50.10/24 dev eth0
nsx h50 ip link set eth0 up
nsx h50 ip route add default via 192.168.50.1

write_config "$T/a.json" site=a tap=ipopA peers=b routes_b='"192.168.50.0/24"'
# b routes 10.99.0.0/24 to a, but a does not accept that source from b.
write_config "$T/b.json" site=b tap=ipopB peers=a routes_a='"10.99.0.0/24"'
start_ipopd a "$T/a.json"
pid_a=$IPOPD_PID
start_ipopd b "$T/b.json"
sock_a=$(config_sock "$T/a.json")

# ULA = fd50:0dbc:41f2:4a3c::/64 + the first 64 bits of SHA-1("a.b.c.d").
ula()
{
	$PY -c 'import hashlib, ipaddress, sys
h = hashlib.sha1(sys.argv[1].encode()).digest()
print(ipaddress.IPv6Address(bytes.fromhex("fd500dbc41f24a3c") + h[:8]))' "$1"
}
ula_a=$(ula 10.254.0.1)
ula_b=$(ula 10.254.0.2)

assert_eq "$(ctl_get "$sock_a" status 'd["mode"]')" l3 "status.mode of a"
assert_eq "$(ctl_get "$sock_a" status 'd["tap"]')" ipopA "status.tap of a"
assert_eq "$(ctl_get "$sock_a" status 'd["ip4"]')" 10.254.0.1 "status.ip4 of a"
st_ip6=$(ctl_get "$sock_a" status 'd["ip6"]')
assert_eq "$($PY -c 'import ipaddress,sys; print(ipaddress.ip_address(sys.argv[1].split("/")[0]))' "$st_ip6")" \
	"$ula_a" "status.ip6 of a (ULA from SHA-1 of the IPv4)"

addrs=$(nsx a ip -o addr show dev ipopA)
assert_contains "$addrs" "inet 10\.254\.0\.1/24" "TAP ipopA carries the virtual IPv4"
assert_contains "$addrs" "inet6 $ula_a/" "TAP ipopA carries the ULA"
addrs=$(nsx b ip -o addr show dev ipopB)
assert_contains "$addrs" "inet 10\.254\.0\.2/24" "TAP ipopB carries the virtual IPv4"
assert_contains "$addrs" "inet6 $ula_b/" "TAP ipopB carries the ULA"
ok "TAPs carry 10.254.0.x/24 and ULAs $ula_a, $ula_b"

ping_ok a 10.254.0.2
ping_ok b 10.254.0.1
ping_ok a "$ula_b"
ping_ok b "$ula_a"
ping_ok a 10.254.0.2 -s 1200 # bigger than a cell, below the overlay MTU

assert_eq "$(peer_get "$sock_a" b state)" up "peer b state on a"
assert_gt "$(peer_get "$sock_a" b tx_packets)" 0 "peer b tx_packets on a"
assert_gt "$(peer_get "$sock_a" b rx_packets)" 0 "peer b rx_packets on a"
ok "peer counters move"

# An overlay address with no peer. Resolving it is never answered, so the
# kernel reports the host unreachable ...
out=$(ping_fails a 10.254.0.99)
assert_contains "$out" "Unreachable|100% packet loss" "ping to an overlay address without a peer"
# ... and a packet that does reach the data plane (a static neighbour entry
# with the router MAC the peer's address resolved to) is dropped and counted.
rmac=$(nsx a ip neigh show 10.254.0.2 dev ipopA | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}')
[ -n "$rmac" ] || fail "no neighbour entry for 10.254.0.2 on ipopA"
nsx a ip neigh replace 10.254.0.98 lladdr "$rmac" dev ipopA nud permanent
before=$(ctl_get "$sock_a" stats 'd["total"]["drops"]["no_route"]')
ping_fails a 10.254.0.98 >/dev/null
after=$(ctl_get "$sock_a" stats 'd["total"]["drops"]["no_route"]')
assert_gt "$((after - before))" 2 "drops.no_route on a after 3 pings to 10.254.0.98"
ok "no answer for 10.254.0.98, drops.no_route $before -> $after"

# Routed subnet behind b: not reachable until the host routes it into the TAP.
ping_fails a 192.168.50.10 >/dev/null
nsx a ip route add 192.168.50.0/24 via 10.254.0.2 dev ipopA
ping_ok a 192.168.50.10
# Inbound source check: b routes 10.99.0.0/24 to a and sends from 10.99.0.1,
# an address a does not accept from b (b owns 10.254.0.2 and 192.168.50.0/24).
nsx a ip addr add 10.99.0.2/24 dev ipopA
nsx b ip addr add 10.99.0.1/32 dev lan0
nsx b ip route add 10.99.0.0/24 dev ipopB
src_before=$(ctl_get "$sock_a" stats 'd["total"]["drops"]["src_check"]')
ping_fails b 10.99.0.2 -I 10.99.0.1 >/dev/null
src_after=$(ctl_get "$sock_a" stats 'd["total"]["drops"]["src_check"]')
assert_gt "$((src_after - src_before))" 2 "drops.src_check on a for a spoofed inner source"
assert_gt "$(peer_get "$sock_a" b src_check)" 0 "peer b src_check on a"
ok "inner source not owned by b dropped on a (src_check $src_before -> $src_after)"

# Clean shutdown: TAP removed, socket unlinked.
stop_ipopd "$pid_a"
nsx a ip link show ipopA >/dev/null 2>&1 && fail "TAP ipopA still exists after SIGTERM"
[ -e "$sock_a" ] && fail "socket $sock_a still exists after SIGTERM"
ok "SIGTERM: exit 0, TAP removed, socket unlinked"
exit 0
