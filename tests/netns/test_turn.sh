#!/usr/bin/env bash
# TURN relaying when no direct path exists (issue 4).
#
# Topology: the WAN (198.18.0.0/24) with prosody (TLS) and coturn (STUN and
# TURN, long-term credentials) at 198.18.0.251:3478. Sites s1 and s2 sit
# behind symmetric NATs (home routers whose masquerade is `fully-random`:
# every new destination gets a new random port, and like every home router
# they drop unsolicited inbound traffic), so neither can reach the other
# directly: the port s1's router uses towards s2 is not the one STUN saw, and
# s2's router lets in only what answers a flow of its own. Site s3 is a
# gateway on the WAN itself. All three have the TURN server configured
# (TincanSender.turn, IPOP's setting).
#
# Checked: every pair pings; s1 <-> s2 goes through the relay (one side uses
# the other's relay candidate, the other reaches its peer through its own
# allocation) while the pairs with s3 stay direct; on the WAN, s1's and s2's
# routers exchange nothing directly (but the relayed link's probes of the
# direct pairs, which the other router drops: handshake initiations that
# nothing answers), everything between them passes coturn, and the payload is not visible there (ESP end to end, the TURN
# server only sees ciphertext); ipopctl shows the allocation, permissions and
# the bound channel; the workers decrypted ESP that arrived as ChannelData
# and dropped nothing as not_relay/channel_len.
. "$(dirname "$0")/lib.sh"
harness_init
need_cmd prosody prosodyctl turnserver openssl tcpdump

make_wan
ip -n "$(ns wan)" addr add "$XMPP_ADDR/24" dev br0
ip -n "$(ns wan)" addr add "$STUN_ADDR/24" dev br0
start_prosody wan "$XMPP_ADDR"
xmpp_register gw-s1 gw-s2 gw-s3
start_coturn wan "$STUN_ADDR"

make_home_site s1 1 192.168.1 fully-random
make_home_site s2 2 192.168.1 fully-random
make_site s3 3
for s in s1 s2 s3; do
	write_disc_config "$T/$s.json" site="$s" turn=1
done

t0=$(date +%s.%N)
for s in s1 s2 s3; do start_ipopd "$s" "$T/$s.json"; done
wait_for 30 nsx s1 ping -c 1 -W 0.3 10.254.0.2 || {
	ctl "$T/s1.sock" links || true
	ctl "$T/s1.sock" xmpp --json || true
	fail "no ping s1 -> s2 through the relay within 30 s"
}
t1=$(date +%s.%N)
log "time from start to first ping s1 -> s2 (both behind symmetric NAT, relayed): $(echo "$t1 - $t0" | bc) s"
for s in s1 s2 s3; do
	wait_for 30 links_up "$T/$s.sock" 2 || fail "$s: not 2 links up: $(ctl "$T/$s.sock" links 2>&1)"
done
ping_mesh 10.254.0 s1 s2 s3

pair() { ctl_get "$1" links "next(l for l in d['links'] if l['name']=='$2')['pair']['$3']"; }
t12=$(pair "$T/s1.sock" xmpp-10.254.0.2 remote_type)
t21=$(pair "$T/s2.sock" xmpp-10.254.0.1 remote_type)
assert_contains "$t12" '^(relay|relayed)$' "s1 -> s2 pair type"
assert_contains "$t21" '^(relay|relayed)$' "s2 -> s1 pair type"
# Exactly one side sends to the other's relayed address; the other answers
# through its own allocation (peer address seen by the TURN server).
assert_contains "$t12/$t21" '^(relay/relayed|relayed/relay)$' "the two ends of the relayed link"
ok "s1 <-> s2 relayed: s1 $(pair "$T/s1.sock" xmpp-10.254.0.2 why); s2 $(pair "$T/s2.sock" xmpp-10.254.0.1 why)"
for s in s1 s2; do
	t=$(pair "$T/$s.sock" xmpp-10.254.0.3 remote_type)
	assert_contains "$t" '^(host|srflx|peer-reflexive)$' "$s -> s3 is direct"
done
t=$(pair "$T/s3.sock" xmpp-10.254.0.1 remote_type)
assert_contains "$t" '^(host|srflx|peer-reflexive)$' "s3 -> s1 is direct"
ok "pairs with a direct path (s1/s2 <-> s3) do not use the relay"

# The allocation as ipopctl shows it.
tj() { ctl "$1" xmpp --json | json_get "(lambda d: $2)(d['xmpp']['turn'])"; }
for s in s1 s2; do
	assert_eq "$(tj "$T/$s.sock" "d['servers'][0]['state']")" ready "$s TURN allocation"
	assert_contains "$(tj "$T/$s.sock" "d['servers'][0]['relayed']")" '^198\.18\.0\.251:' \
		"$s relayed address"
done
bound=$(($(tj "$T/s1.sock" "sum(1 for c in d['servers'][0]['channels'] if c['bound'])") +
	$(tj "$T/s2.sock" "sum(1 for c in d['servers'][0]['channels'] if c['bound'])")))
[ "$bound" -ge 1 ] || fail "no channel bound on either side"
ok "allocations ready, $bound channel(s) bound; s1 turn: $(tj "$T/s1.sock" "d['counters']")"

# The wire: nothing goes between the two routers directly, the relay
# carries it, and the payload is encrypted end to end.
cap="$T/wan.pcap"
spawn nsx wan tcpdump --immediate-mode -U -n -i br0 -w "$cap" udp
capid=$SPAWN_PID
sleep 1
nsx s1 ping -c 20 -i 0.05 -W 1 -p 5a5aa5a5c3c3 10.254.0.2 >/dev/null || fail "ping s1 -> s2 during the capture"
# Full-size packets fit the relay path: the TAP MTU leaves room for the
# ChannelData header, so nothing is fragmented on the way.
mtu=$(nsx s1 cat /sys/class/net/ipops1/mtu)
nsx s1 ping -c 5 -i 0.05 -W 1 -M do -s $((mtu - 28)) 10.254.0.2 >"$T/bigping.txt" ||
	fail "full-size ping (MTU $mtu) s1 -> s2 through the relay"
sleep 0.5
kill -INT "$capid" 2>/dev/null || true
wait "$capid" 2>/dev/null || true
relayed=$(nsx wan tcpdump -n -r "$cap" '(host 198.18.0.1 or host 198.18.0.2) and host 198.18.0.251' 2>/dev/null | wc -l)
# The relayed link probes the direct pairs now and then (handshake
# initiations, first 5 payload bytes 00 00 00 00 01): those may be on the
# wire, dropped by the other router; nothing else may pass directly, and
# nothing may answer them.
pcap_udp "$cap" | awk '($2=="198.18.0.1" && $4=="198.18.0.2") || ($2=="198.18.0.2" && $4=="198.18.0.1")' >"$T/direct.txt"
probes=$(grep -c ' 0000000001' "$T/direct.txt" || true)
direct=$(grep -vc ' 0000000001' "$T/direct.txt" || true)
assert_eq "$direct" 0 "packets other than probes directly between the two NATs"
frags=$(nsx wan tcpdump -n -r "$cap" 'ip[6:2] & 0x3fff != 0' 2>/dev/null | wc -l)
assert_eq "$frags" 0 "IP fragments on the WAN (full-size packets through the relay)"
[ "$relayed" -ge 80 ] || fail "only $relayed packets through the relay for 25 pings"
big=$(nsx wan tcpdump -n -r "$cap" "host 198.18.0.251 and greater $((mtu + 40))" 2>/dev/null | wc -l)
[ "$big" -ge 16 ] || fail "only $big full-size packets through the relay"
if nsx wan tcpdump -n -r "$cap" -X 2>/dev/null | tr -d ' ' | grep -qi "5a5aa5a5c3c3"; then
	fail "the ping payload is visible on the WAN"
fi
ok "on the WAN: nothing between the NATs but $probes probe initiation(s) nobody answered, $relayed through coturn ($big full-size, none fragmented), payload not visible"

# Workers decrypted ChannelData and dropped nothing as foreign relay traffic.
for s in s1 s2; do
	for k in not_relay channel_len auth; do
		assert_eq "$(drop_get "$T/$s.sock" "$k")" 0 "$s drops $k"
	done
done
ok "no ChannelData dropped, no authentication failures"
