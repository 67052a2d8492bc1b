#!/usr/bin/env bash
# A relayed link moves to a direct path once one opens (better-pair switch).
#
# Topology: the WAN (198.18.0.0/24) with prosody and coturn (STUN and TURN)
# at 198.18.0.251:3478 as in test_turn.sh. Site s1 is a gateway behind a home
# router (make_home_site: masquerade, new connections from the WAN dropped),
# s2 a gateway on the WAN itself; both have the TURN server configured. Before
# either starts, s1's router gets one more firewall rule that drops UDP to s2's
# address (an ISP or corporate filter, a path not open yet), so no direct pair
# works: s1's initiations to s2 die in s1's router and s2's to s1's mapping
# are new connections that s1's router drops. The link comes up through
# coturn.
#
# Checked:
#   - the link is up and relayed on both sides (pair types relay/relayed);
#   - while the filter is there, s1 probes s2's direct candidates and nothing
#     answers: the link stays up and relayed, no link timeout;
#   - the filter is removed: within UPGRADE_LIMIT seconds (default 40) both
#     sides' `ipopctl links` show a direct pair, `why` says "upgraded";
#   - a ping running across the switch loses nothing (the relayed session
#     carries the traffic until the direct one is in place);
#   - on the WAN: before the switch ESP went through coturn, after it ESP goes
#     directly between s1's router and s2, and nothing but STUN/TURN
#     maintenance goes to coturn any more.
# Reported: the time from removing the filter to the switch.
. "$(dirname "$0")/lib.sh"
harness_init
need_cmd prosody prosodyctl turnserver openssl tcpdump
IPOP_LOG=DEBUG # the probes are logged at debug level
LIMIT=${UPGRADE_LIMIT:-40}

make_wan
ip -n "$(ns wan)" addr add "$XMPP_ADDR/24" dev br0
ip -n "$(ns wan)" addr add "$STUN_ADDR/24" dev br0
start_prosody wan "$XMPP_ADDR"
xmpp_register gw-s1 gw-s2
start_coturn wan "$STUN_ADDR"
make_home_site s1 1
make_site s2 2

# The filter: s1's router drops every UDP datagram to s2 (in its own table,
# so deleting the table removes exactly this rule).
nsx rt-s1 nft -f - <<-EOF
	table inet upgtest {
		chain forward {
			type filter hook forward priority filter - 10; policy accept;
			ip daddr 198.18.0.2 meta l4proto udp counter drop
		}
	}
EOF

for s in s1 s2; do
	write_disc_config "$T/$s.json" site="$s" turn=1
	start_ipopd "$s" "$T/$s.json"
done
L12=xmpp-10.254.0.2
L21=xmpp-10.254.0.1
wait_link_up 40 "$T/s1.sock" $L12
wait_link_up 40 "$T/s2.sock" $L21
t_up=$(date +%s.%N)
ping_ok s1 10.254.0.2

pair() { ctl_get "$1" links "next(l for l in d['links'] if l['name']=='$2')['pair']['$3']"; }
is_direct()
{
	local t
	t=$(pair "$1" "$2" remote_type 2>/dev/null) || return 1
	[[ "$t" =~ ^(host|srflx|static|peer-reflexive)$ ]]
}
t12=$(pair "$T/s1.sock" $L12 remote_type)
t21=$(pair "$T/s2.sock" $L21 remote_type)
assert_contains "$t12/$t21" '^(relay/relayed|relayed/relay)$' "the link is relayed at first"
ok "relayed: s1 $t12 ($(pair "$T/s1.sock" $L12 why)); s2 $t21 ($(pair "$T/s2.sock" $L21 why))"

# With the filter in place the probes go out and nothing answers them. Both
# ends probe on the same schedule; the first to give up sends the
# initiation it owes over the relay, and the other's probe gives way to it.
probes_logged() { [ "$(grep -c "link $2: relayed, probing its direct candidates" "$1")" -ge "$3" ]; }
wait_for 30 probes_logged "$T/ipopd-s1-s1.log" $L12 2 ||
	fail "s1 did not start a second probe of s2's direct candidates within 30 s"
sleep 4 # the second probe is over too: the path opens between two probes
grep -q "no direct pair answered" "$T/ipopd-s1-s1.log" "$T/ipopd-s2-s2.log" ||
	fail "no probe timed out on either side"
dropped=$(nsx rt-s1 nft list table inet upgtest | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
assert_gt "$dropped" 0 "datagrams to s2 dropped by the filter"
link_is_up "$T/s1.sock" $L12 || fail "s1's link went down while probing"
is_direct "$T/s1.sock" $L12 && fail "s1's link is direct although the filter drops the path"
assert_eq "$(hs_get "$T/s1.sock" links_down)" 0 "s1 links_down while probing"
assert_eq "$(hs_get "$T/s2.sock" links_down)" 0 "s2 links_down while probing"
ok "probes unanswered while filtered ($dropped datagrams dropped), link up and relayed"

# Open the path, with a capture on the WAN and a ping running across it.
cap="$T/wan.pcap"
start_capture wan br0 "$cap" udp
spawn nsx s1 ping -i 0.1 -c 400 -W 2 10.254.0.2 >"$T/ping-switch.txt" 2>&1
ping_pid=$SPAWN_PID
sleep 1
nsx rt-s1 nft delete table inet upgtest
t_open=$(date +%s.%N)
both_direct() { is_direct "$T/s1.sock" $L12 && is_direct "$T/s2.sock" $L21; }
wait_for "$LIMIT" both_direct || {
	ctl "$T/s1.sock" links || true
	ctl "$T/s2.sock" links || true
	fail "the link is not direct on both sides $LIMIT s after the path opened"
}
t_sw=$(date +%s.%N)
log "time from the path opening to the switch: $(echo "$t_sw - $t_open" | bc) s (link up $(echo "$t_open - $t_up" | bc) s before)"
for side in "$T/s1.sock $L12" "$T/s2.sock $L21"; do
	set -- $side
	assert_contains "$(pair "$1" "$2" why)" '^upgraded: ' "why on $1"
done
ok "direct: s1 $(pair "$T/s1.sock" $L12 remote_type) ($(pair "$T/s1.sock" $L12 why)); s2 $(pair "$T/s2.sock" $L21 remote_type) ($(pair "$T/s2.sock" $L21 why))"

# The ping across the switch: nothing lost.
wait "$ping_pid" || fail "the ping across the switch lost packets: $(tail -n 2 "$T/ping-switch.txt")"
ok "400 pings across the switch (every 0.1 s), none lost: $(tail -n 1 "$T/ping-switch.txt")"
sleep 1
t_after=$(date +%s.%N)
nsx s1 ping -c 20 -i 0.05 -W 1 10.254.0.2 >/dev/null || fail "ping s1 -> s2 after the switch"
stop_capture "$CAP_PID"

# The wire: ESP through coturn before the switch, directly afterwards.
pcap_udp "$cap" >"$T/wan.txt"
read -r relayed_before direct_after relayed_after < <(
	"$PY" - "$T/wan.txt" "$t_sw" "$t_after" <<-'EOPY'
		import sys
		t_sw, t_after = float(sys.argv[2]), float(sys.argv[3])
		relayed_before = direct_after = relayed_after = 0
		for line in open(sys.argv[1]):
		    t, src, sport, dst, dport, pl = line.split()
		    t = float(t)
		    if pl == "-":
		        continue
		    b0 = int(pl[:2], 16)
		    data = b0 & 0xC0 != 0  # ESP (top bit) or ChannelData (01): not STUN, not a handshake
		    relay = "198.18.0.251" in (src, dst)
		    direct = {src, dst} == {"198.18.0.1", "198.18.0.2"} and b0 & 0x80
		    if relay and data and t < t_sw:
		        relayed_before += 1
		    if direct and t >= t_after:
		        direct_after += 1
		    if relay and data and t >= t_after:
		        relayed_after += 1
		print(relayed_before, direct_after, relayed_after)
	EOPY
)
[ "$relayed_before" -ge 10 ] || fail "only $relayed_before data packets through coturn before the switch"
[ "$direct_after" -ge 40 ] || fail "only $direct_after ESP packets directly between the sites after the switch"
assert_eq "$relayed_after" 0 "data packets through coturn after the switch"
ok "on the WAN: $relayed_before data packets through coturn before the switch; after it $direct_after ESP packets directly between 198.18.0.1 and 198.18.0.2, none through coturn"
for s in s1 s2; do
	assert_eq "$(drop_get "$T/$s.sock" auth)" 0 "$s auth drops"
	assert_eq "$(hs_get "$T/$s.sock" links_down)" 0 "$s links_down"
done
ok "no link timeouts, no authentication failures"
