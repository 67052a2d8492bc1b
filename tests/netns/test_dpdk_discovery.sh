#!/usr/bin/env bash
# Discovery on the dpdk backend: a gateway whose underlay port belongs to DPDK
# (net_af_packet on eth0, no kernel address there: ipopd owns 198.18.0.2)
# and whose kernel reaches the XMPP server over a separate management
# interface (mg0, 198.18.0.12), as a gateway VM with a NIC bound to DPDK and
# a management NIC would. It must advertise the DPDK port's address as its
# host candidate — not the management address the kernel sees — so that a
# kernel-backend gateway that finds it over XMPP links to the data port.
# STUN is off, so no server-reflexive candidate can paper over a wrong host
# candidate.
#
# Checked: s1 (kernel) sees exactly s2's DPDK address among s2's candidates
# and none of the management address; links come up with nothing configured;
# pings both ways; keyed links rekey while pings flow; both stop cleanly.
. "$(dirname "$0")/lib.sh"
harness_init
need_cmd prosody prosodyctl openssl

EAL='"--no-huge", "-m", "256", "--no-pci", "--no-telemetry"'

make_wan
ip -n "$(ns wan)" addr add "$XMPP_ADDR/24" dev br0
start_prosody wan "$XMPP_ADDR"
xmpp_register gw-s1 gw-s2

make_site s1 1
make_site s2 2
# s2's eth0 is the DPDK port: the kernel keeps no address on it.
ip -n "$(ns s2)" addr flush dev eth0
nsx s2 sysctl -qw net.ipv4.conf.eth0.forwarding=0
# ... and its management interface carries XMPP.
ip -n "$(ns wan)" link add m-s2 type veth peer name mg0 netns "$(ns s2)"
ip -n "$(ns wan)" link set m-s2 master br0 up
ip -n "$(ns s2)" addr add 198.18.0.12/24 dev mg0
ip -n "$(ns s2)" link set mg0 up

write_disc_config "$T/s1.json" site=s1 stun=0 extra='"rekey_interval": 2'
write_disc_config "$T/s2.json" site=s2 stun=0 extra="\"rekey_interval\": 2, \"backend\": \"dpdk\", \"dpdk\": {\"eal_args\": [$EAL], \"underlay_port\": \"net_af_packet0,iface=eth0\", \"underlay_address\": \"198.18.0.2/24\"}"

start_ipopd s1 "$T/s1.json"
p1=$IPOPD_PID
start_ipopd s2 "$T/s2.json"
p2=$IPOPD_PID
wait_for 30 links_up "$T/s1.sock" 1 || fail "s1: no link up: $(ctl "$T/s1.sock" links 2>&1)"
wait_for 30 links_up "$T/s2.sock" 1 || fail "s2: no link up: $(ctl "$T/s2.sock" links 2>&1)"
ok "discovered over XMPP, linked with the dpdk site's data port"

# s2's candidates as s1 received them over XMPP.
cands=$(ctl_get "$T/s1.sock" links "' '.join(c['addr'] for l in d['links'] for c in (l.get('candidates') or []))")
assert_contains "$cands" "198.18.0.2:5800" "s2's candidates as s1 sees them"
case " $cands " in
*198.18.0.12:*) fail "s2 advertised its management address: $cands" ;;
esac
ok "s2 advertises its DPDK port (198.18.0.2:5800) and not the management address: $cands"

ping_ok s1 10.254.0.2
ping_ok s2 10.254.0.1
sleep 3
nsx s1 ping -c 20 -i 0.1 -W 2 10.254.0.2 >"$T/ping.txt" 2>&1 || fail "ping during rekeys: $(cat "$T/ping.txt")"
rk=$(hs_get "$T/s2.sock" rekeys)
assert_gt "$rk" 0 "rekeys on the dpdk site"
ok "pings both ways; $rk rekeys on the dpdk site while pinging"

stop_ipopd "$p2"
stop_ipopd "$p1"
[ -e /var/run/dpdk/ipopd-ipopB ] && fail "EAL's runtime directory outlived ipopd"
ok "both stopped"
exit 0
