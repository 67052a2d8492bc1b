#!/usr/bin/env bash
# Discovery over XMPP and NAT traversal (issue 4).
#
# Topology: a WAN namespace (bridge br0, 198.18.0.0/24) that also runs prosody
# (198.18.0.250:5222, TLS with a test CA, one account per gateway, a MUC room
# per overlay) and coturn as the STUN server (198.18.0.251:3478). Every site
# is a gateway behind its own home router (make_home_site: the router has
# 198.18.0.IDX on the WAN, masquerades what it forwards and, like every home
# router, drops unsolicited new inbound traffic; the gateway sits at
# 192.168.1.2 behind it, the same LAN address on every site).
# DISC_NAT_SITES="s1" puts only s1 behind NAT (the others on the WAN itself),
# DISC_NAT_SITES="" none. No endpoint is configured anywhere: the gateways
# find each other in the room, learn their server-reflexive address with STUN
# from the data port, exchange candidates over XMPP and handshake to all of
# them in parallel from both ends; the first initiations out of each router
# open its mapping, the ones that arrive before the other side's mapping
# exists are dropped by that router's firewall, and the next ones get
# through (simultaneous open).
#
# Checked: every pair of sites pings over the overlay; ipopctl shows the
# session, the members and each link's chosen pair; a gateway whose account
# is not in the room (but is on site 1's LAN and knows its key and address)
# gets no link and is refused as unknown_key; with prosody killed, pings keep
# flowing; after a restart the gateways log in again and a fourth site
# started afterwards links with all of them. Also prints the time from start
# to the first ping across sites.
#
# Routed subnets (L3 mode): site i's containers sit on 10.0.(10+i).0/24 behind
# its gateway (lxcbr0 re-addressed, forwarding on), and the gateway advertises
# that subnet in its presence ("advertise_routes"). Nobody configures a route:
# every gateway routes the others' subnets into its TAP by itself, so
# containers on every pair of sites ping each other; ipopctl shows each
# member's routes; when site 4 stops, its subnet's route goes from the others
# once its peer is removed (short link timers make that quick) — except on s3,
# whose admin had routed that subnet into the TAP already: ipopd leaves an
# existing route alone and never deletes it.
. "$(dirname "$0")/lib.sh"
harness_init
need_cmd prosody prosodyctl turnserver openssl

NAT_SITES=${DISC_NAT_SITES-s1 s2 s3}
natted() { [[ " $NAT_SITES " == *" $1 "* ]]; }
make_wan
ip -n "$(ns wan)" addr add "$XMPP_ADDR/24" dev br0
ip -n "$(ns wan)" addr add "$STUN_ADDR/24" dev br0
start_prosody wan "$XMPP_ADDR"
xmpp_register gw-s1 gw-s2 gw-s3 gw-s4 gw-x
start_coturn wan "$STUN_ADDR"

subnet() { printf '10.0.%s' "$((10 + $1))"; }
add_site()
{
	local sub n
	sub=$(subnet "$2")
	if natted "$1"; then
		make_home_site "$1" "$2"
		n=$(ns "$1")
		ip -n "$n" addr flush dev lxcbr0
		ip -n "$n" addr add "$sub.1/24" dev lxcbr0
		ip netns exec "$n" sysctl -qw net.ipv4.ip_forward=1
		SITE_GW[$1]=$sub.1
	else
		make_site "$1" "$2" "$sub.1"
	fi
	make_container "$1" "c$2" "$sub.2/24"
	write_disc_config "$T/$1.json" site="$1" \
		extra="\"advertise_routes\": [\"$sub.0/24\"], \"keepalive_interval\": 2, \"link_timeout\": 6"
}
# routes_of SITE: the kernel's routes into SITE's TAP (one per line).
routes_of() { nsx "$1" ip -4 route show dev "ipop$1" | sort; }
# container_mesh IDX...: the containers of every pair of these sites ping.
container_mesh()
{
	local a b
	for a in "$@"; do
		for b in "$@"; do
			[ "$a" = "$b" ] || ping_ok "c$a" "$(subnet "$b").2"
		done
	done
}
for i in 1 2 3; do add_site "s$i" "$i"; done

t0=$(date +%s.%N)
for i in 1 2 3; do start_ipopd "s$i" "$T/s$i.json"; done
wait_for 30 nsx s1 ping -c 1 -W 0.2 10.254.0.2 || fail "no ping s1 -> s2 within 30 s"
t1=$(date +%s.%N)
log "time from start to first ping s1 -> s2 (behind NAT: ${NAT_SITES:-none}): $(echo "$t1 - $t0" | bc) s"

for i in 1 2 3; do
	wait_for 30 links_up "$T/s$i.sock" 2 ||
		fail "s$i: not 2 links up: $(ctl "$T/s$i.sock" links 2>&1)"
done
ok "every gateway has 2 links up, no endpoint configured"
ping_mesh 10.254.0 s1 s2 s3

# What ipopctl shows: the session, the members, the chosen pair.
assert_eq "$(xmpp_get "$T/s1.sock" "d['state']")" online "s1 xmpp state"
assert_eq "$(xmpp_get "$T/s1.sock" "d['secured']")" True "s1 xmpp over TLS"
assert_eq "$(xmpp_get "$T/s1.sock" "len(d['members'])")" 2 "s1 members"
assert_eq "$(xmpp_get "$T/s1.sock" "sorted(m['link'] for m in d['members'])")" "['up', 'up']" \
	"s1 members' links"
assert_eq "$(xmpp_get "$T/s1.sock" "d['stun'][0]['mapped']")" 198.18.0.1:5800 "s1 srflx (STUN)"
if natted s1 && ! natted s2; then
	pair() { ctl_get "$1" links "next(l for l in d['links'] if l['name']=='$2')['pair']['$3']"; }
	assert_eq "$(pair "$T/s1.sock" xmpp-10.254.0.2 remote)" 198.18.0.2:5800 "s1 -> s2 endpoint"
	assert_eq "$(pair "$T/s1.sock" xmpp-10.254.0.2 remote_type)" host "s1 -> s2 remote type"
	assert_eq "$(pair "$T/s1.sock" xmpp-10.254.0.2 local)" 192.168.1.2:5800 "s1 -> s2 local"
	# s2 sees s1 through s1's NAT: its srflx, or the port the NAT picked
	# when an early initiation from s2 had taken 5800 (peer-reflexive).
	assert_contains "$(pair "$T/s2.sock" xmpp-10.254.0.1 remote)" '^198\.18\.0\.1:' "s2 -> s1 endpoint"
	assert_contains "$(pair "$T/s2.sock" xmpp-10.254.0.1 remote_type)" '^(srflx|peer-reflexive)$' \
		"s2 -> s1 remote type"
	ok "chosen pairs: s1 -> s2 $(pair "$T/s1.sock" xmpp-10.254.0.2 why); s2 -> s1 $(pair "$T/s2.sock" xmpp-10.254.0.1 why)"
elif natted s1 && natted s2; then
	# Both behind NAT: each reaches the other's router, on the mapping
	# it advertised (srflx) or one seen in an initiation (peer-reflexive);
	# never through a relay (none is configured) or a private address.
	pair() { ctl_get "$1" links "next(l for l in d['links'] if l['name']=='$2')['pair']['$3']"; }
	assert_contains "$(pair "$T/s1.sock" xmpp-10.254.0.2 remote)" '^198\.18\.0\.2:' "s1 -> s2 endpoint"
	assert_contains "$(pair "$T/s2.sock" xmpp-10.254.0.1 remote)" '^198\.18\.0\.1:' "s2 -> s1 endpoint"
	assert_contains "$(pair "$T/s1.sock" xmpp-10.254.0.2 remote_type)" '^(srflx|peer-reflexive)$' \
		"s1 -> s2 remote type"
	ok "chosen pairs: s1 -> s2 $(pair "$T/s1.sock" xmpp-10.254.0.2 why); s2 -> s1 $(pair "$T/s2.sock" xmpp-10.254.0.1 why)"
fi
ctl "$T/s1.sock" links
ctl "$T/s1.sock" xmpp

# Routed subnets: each gateway routes the two others' subnets into its TAP
# (proto 73: ipopd's), and containers behind every pair of sites ping.
for i in 1 2 3; do
	r=$(routes_of "s$i")
	for j in 1 2 3; do
		if [ "$i" = "$j" ]; then
			grep -q "^$(subnet "$j")\.0/24" <<<"$r" && fail "s$i routes its own subnet into the TAP: $r"
		else
			assert_contains "$r" "^$(subnet "$j")\.0/24 proto 73 scope link" \
				"s$i: route to s$j's subnet via ipops$i"
		fi
	done
done
log "s1's routes into its TAP: $(routes_of s1 | tr '\n' ';')"
ok "every gateway routes the other sites' subnets into its TAP, none configured"
assert_eq "$(xmpp_get "$T/s1.sock" "sorted(r for m in d['members'] for r in m['routes'])")" \
	"['$(subnet 2).0/24', '$(subnet 3).0/24']" "s1: members' routes (ipopctl xmpp)"
container_mesh 1 2 3
ok "containers behind every pair of sites ping each other"

# An account outside the room: on site 1's LAN, configured with site 1's key
# and address, it still gets nothing (the key did not come from the group).
if natted s1; then
	new_ns x
	SITE_IDX[x]=9
	ip -n "$(ns rt-s1)" link add lan1 type veth peer name eth0 netns "$(ns x)"
	ip -n "$(ns x)" addr add 192.168.2.2/24 dev eth0
	ip -n "$(ns rt-s1)" addr add 192.168.2.1/24 dev lan1
	ip -n "$(ns rt-s1)" link set lan1 up
	ip -n "$(ns x)" link set eth0 up
	ip -n "$(ns x)" route add default via 192.168.2.1
	xep=192.168.1.2:5800
else
	make_site x 9
	xep=198.18.0.1:5800
fi
s1key=$(node_pubkey s1)
write_disc_config "$T/x.json" site=x user=gw-x room="elsewhere@conference.$XMPP_DOMAIN" \
	peers_json="{\"name\": \"s1\", \"endpoint\": \"$xep\", \"ip4\": \"10.254.0.1\", \"public_key\": \"$s1key\"}"
start_ipopd x "$T/x.json"
unk0=$(hs_get "$T/s1.sock" unknown_key)
wait_for 10 bash -c "[ \$($IPOPCTL -s $T/s1.sock stats --json | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"handshake\"][\"unknown_key\"])') -gt $unk0 ]" ||
	fail "s1 never saw the outsider's initiations"
assert_eq "$(link_state "$T/x.sock" s1)" connecting "outsider's link to s1"
assert_eq "$(ctl_get "$T/s1.sock" links "len(d['links'])")" 2 "s1 links (outsider not among them)"
ping_fails x 10.254.0.1 >/dev/null
ok "outsider not in the room: refused (unknown_key), no link"

# The data plane does not depend on XMPP.
stop_prosody
ping_mesh 10.254.0 s1 s2 s3
wait_for 10 bash -c "[ \"\$($IPOPCTL -s $T/s1.sock xmpp --json | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"xmpp\"][\"state\"])')\" != online ]" ||
	fail "s1 did not notice that prosody is gone"
sleep 3
ping_mesh 10.254.0 s1 s2 s3
ok "prosody down: every pair still pings"

start_prosody wan "$XMPP_ADDR"
for i in 1 2 3; do
	wait_for 60 bash -c "[ \"\$($IPOPCTL -s $T/s$i.sock xmpp --json | $PY -c 'import json,sys; d=json.load(sys.stdin)[\"xmpp\"]; print(d[\"state\"], d[\"in_group\"])')\" = 'online True' ]" ||
		fail "s$i did not rejoin after prosody came back: $(ctl "$T/s$i.sock" xmpp 2>&1)"
done
ok "gateways logged in again and rejoined the room"
add_site s4 4
nsx s3 ip route add "$(subnet 4).0/24" dev ipops3 proto static
start_ipopd s4 "$T/s4.json"
s4pid=$IPOPD_PID
for i in 1 2 3 4; do
	wait_for 40 links_up "$T/s$i.sock" 3 ||
		fail "s$i: not 3 links up: $(ctl "$T/s$i.sock" links 2>&1)"
done
for a in 1 2 3; do
	ping_ok s4 "10.254.0.$a"
	ping_ok "s$a" 10.254.0.4
done
ok "a fourth site started after the restart joined every site"
container_mesh 1 4
container_mesh 3 4
assert_contains "$(routes_of s1)" "^$(subnet 4)\.0/24 proto 73 " "s1: route to s4's subnet"
assert_contains "$(routes_of s3)" "^$(subnet 4)\.0/24 proto static " "s3: the admin's route kept"
assert_eq "$(routes_of s3 | grep -c ' proto 73 ')" 2 "s3: ipopd's routes (s4's was there)"

# Site 4 goes: once its peer is removed (left the room, link timed out) the
# others no longer route its subnet; the rest stays, and so does the admin's.
stop_ipopd "$s4pid"
for i in 1 2 3; do
	wait_for 20 bash -c "! ip netns exec $(ns "s$i") ip -4 route show dev ipops$i | grep -q '^$(subnet 4)\.0/24 proto 73 '" ||
		fail "s$i still routes s4's subnet: $(routes_of "s$i")"
	assert_eq "$(routes_of "s$i" | grep -c ' proto 73 ')" 2 "s$i: routes left after s4 went"
done
assert_contains "$(routes_of s3)" "^$(subnet 4)\.0/24 proto static " "s3: the admin's route after s4 went"
ok "s4 stopped: its subnet's route is gone from every other gateway (the admin's stays)"
ping_ok c1 "$(subnet 2).2"
