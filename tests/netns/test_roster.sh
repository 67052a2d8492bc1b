#!/usr/bin/env bash
# Discovery with the roster-defined group (group = "roster", IPOP's GroupVPN
# model: the XMPP relations define who is in the overlay).
#
# Topology as in test_discovery.sh: a WAN namespace running prosody
# (198.18.0.250:5222, TLS with a test CA) and coturn as the STUN server
# (198.18.0.251:3478); three sites, each a gateway behind its own home router
# (make_home_site: masquerade, unsolicited inbound dropped, the same LAN
# 192.168.1.0/24 everywhere). No endpoint and no room is configured.
#
# The group is set up the way an admin of a real server would: prosody's
# mod_groups with a groups file (shared roster groups) listing the three
# gateway accounts. mod_groups puts every listed account into the roster of
# every other one with subscription "both", which is what ipopd's roster mode
# needs: presence is accepted only from contacts whose subscription is "to" or
# "both", and our own presence goes to the contacts subscribed "from"/"both".
# Nobody has to approve anything, and no gateway can add itself.
#
# Checked: every pair of sites pings over the overlay; `ipopctl xmpp` shows
# group "roster" (joined) with the two other gateways as members (their full
# JIDs) and their links up. An outsider — an account that exists on the
# server but is in nobody's roster, on site 1's LAN, configured with site 1's
# key and address — gets no link and is listed by nobody, even when it asks
# each gateway for a subscription and sends them directed presence carrying a
# valid ipop payload and a connection request (a raw XMPP client logged in as
# the outsider's account): the requests are ignored, the presence and message
# are refused and counted (rejected_payloads), its handshakes are refused as
# unknown_key.
. "$(dirname "$0")/lib.sh"
harness_init
need_cmd prosody prosodyctl turnserver openssl
# xmpp_raw (an admin's or an intruder's raw client) is lib_xmpp.sh's.
. "$(dirname "$0")/lib_xmpp.sh"

# payload presence ip4=A public_key=K port=P mac=M | payload con_req from=A to=B cand=EP:
# the JSON of an ipop presence or connection request for the virtual IPv4 A
# (node id = SHA-1 of the address string, ULA from the node id).
payload()
{
	"$PY" - "$@" <<-'EOPY'
		import hashlib, ipaddress, json, sys
		kind, kv = sys.argv[1], dict(a.split("=", 1) for a in sys.argv[2:])
		nid = lambda ip4: hashlib.sha1(ip4.encode()).hexdigest()
		if kind == "presence":
		    n = nid(kv["ip4"])
		    ip6 = ipaddress.IPv6Address(bytes.fromhex("fd500dbc41f24a3c" + n[:16]))
		    print(json.dumps({"node_id": n, "version": 1, "ip4": kv["ip4"], "ip6": str(ip6),
		                      "mac": kv["mac"], "public_key": kv["public_key"],
		                      "port": int(kv["port"])}))
		else:
		    print(json.dumps({"type": kind, "from_id": nid(kv["from"]), "to_id": nid(kv["to"]),
		                      "seq": 1, "link_kind": "on_demand",
		                      "candidates": [{"kind": "srflx", "addr": kv["cand"], "prio": 100}]}))
	EOPY
}

make_wan
ip -n "$(ns wan)" addr add "$XMPP_ADDR/24" dev br0
ip -n "$(ns wan)" addr add "$STUN_ADDR/24" dev br0
# The shared roster group: one line per account (user@domain=display name).
mkdir -p "$T/xmpp"
cat >"$T/xmpp/groups.txt" <<-EOF
	[overlay]
	gw-s1@$XMPP_DOMAIN=site 1
	gw-s2@$XMPP_DOMAIN=site 2
	gw-s3@$XMPP_DOMAIN=site 3
EOF
# shellcheck disable=SC2034 # read by start_prosody
PROSODY_EXTRA="modules_enabled = { \"groups\" }; groups_file = \"$T/xmpp/groups.txt\""
start_prosody wan "$XMPP_ADDR"
wait_for 5 grep -q "Groups loaded successfully" "$T/prosody.log" ||
	fail "prosody did not load mod_groups: $(tail -n 20 "$T/prosody.log")"
xmpp_register gw-s1 gw-s2 gw-s3 gw-s4 gw-x
start_coturn wan "$STUN_ADDR"

for i in 1 2 3; do
	make_home_site "s$i" "$i"
	write_disc_config "$T/s$i.json" site="s$i" group=roster
done
t0=$(date +%s.%N)
for i in 1 2 3; do start_ipopd "s$i" "$T/s$i.json"; done
wait_for 30 nsx s1 ping -c 1 -W 0.2 10.254.0.2 || fail "no ping s1 -> s2 within 30 s"
t1=$(date +%s.%N)
log "time from start to first ping s1 -> s2 (roster group, all behind NAT): $(echo "$t1 - $t0" | bc) s"

for i in 1 2 3; do
	wait_for 30 links_up "$T/s$i.sock" 2 ||
		fail "s$i: not 2 links up: $(ctl "$T/s$i.sock" links 2>&1)"
done
ok "every gateway has 2 links up, no endpoint or room configured"
for a in 1 2 3; do
	for b in 1 2 3; do
		[ "$a" = "$b" ] || ping_ok "s$a" "10.254.0.$b"
	done
done

# What ipopctl shows: the roster group and its members (full JIDs).
for i in 1 2 3; do
	s="$T/s$i.sock"
	assert_eq "$(xmpp_get "$s" "d['group']")" roster "s$i group"
	assert_eq "$(xmpp_get "$s" "d['in_group']")" True "s$i in group"
	assert_eq "$(xmpp_get "$s" "d['room']")" None "s$i room"
	want=$(for j in 1 2 3; do [ "$j" = "$i" ] || printf "'%s', " "$(xmpp_get "$T/s$j.sock" "d['bound_jid']")"; done)
	assert_eq "$(xmpp_get "$s" "sorted(m['jid'] for m in d['members'])")" "[${want%, }]" "s$i members (full JIDs, a new resource per session)"
	want=$(for j in 1 2 3; do [ "$j" = "$i" ] || printf "'10.254.0.%s', " "$j"; done)
	assert_eq "$(xmpp_get "$s" "sorted(m['ip4'] for m in d['members'])")" "[${want%, }]" "s$i members' ip4"
	assert_eq "$(xmpp_get "$s" "[m['link'] for m in d['members']]")" "['up', 'up']" "s$i members' links"
done
out=$(ctl "$T/s1.sock" xmpp)
printf '%s\n' "$out"
assert_contains "$out" '^group: roster +\(joined\)' "ipopctl xmpp (text)"
assert_contains "$out" "gw-s2@$XMPP_DOMAIN/ipopd" "ipopctl xmpp lists s2"
assert_contains "$out" "gw-s3@$XMPP_DOMAIN/ipopd" "ipopctl xmpp lists s3"
ok "ipopctl xmpp: group roster (joined), members gw-s2 and gw-s3 with links up"

# --- an account that is in nobody's roster ---
new_ns x
SITE_IDX[x]=9
ip -n "$(ns rt-s1)" link add lan1 type veth peer name eth0 netns "$(ns x)"
ip -n "$(ns x)" addr add 192.168.2.2/24 dev eth0
ip -n "$(ns rt-s1)" addr add 192.168.2.1/24 dev lan1
ip -n "$(ns rt-s1)" link set lan1 up
ip -n "$(ns x)" link set eth0 up
ip -n "$(ns x)" route add default via 192.168.2.1
s1key=$(node_pubkey s1)
write_disc_config "$T/x.json" site=x user=gw-x group=roster \
	peers_json="{\"name\": \"s1\", \"endpoint\": \"192.168.1.2:5800\", \"ip4\": \"10.254.0.1\", \"public_key\": \"$s1key\"}"
unk0=$(hs_get "$T/s1.sock" unknown_key)
start_ipopd x "$T/x.json"
wait_for 15 bash -c "[ \"\$($IPOPCTL -s $T/x.sock xmpp --json | $PY -c 'import json,sys; d=json.load(sys.stdin)[\"xmpp\"]; print(d[\"state\"], d[\"in_group\"])')\" = 'online True' ]" ||
	fail "the outsider did not log in: $(ctl "$T/x.sock" xmpp 2>&1)"
assert_eq "$(xmpp_get "$T/x.sock" "len(d['members'])")" 0 "outsider's members (its roster is empty)"

# The outsider's account also knocks on every door from a second resource:
# subscription requests, directed presence with a valid payload (its own
# node id, key and port) and a connection request to site 1.
rej0=()
for i in 1 2 3; do rej0[i]=$(xmpp_get "$T/s$i.sock" "d['counters']['rejected_payloads']"); done
xkey=$(node_pubkey x)
xpres=$(payload presence ip4=10.254.0.9 public_key="$xkey" port=5800 mac=02:00:00:00:00:09)
xreq=$(payload con_req from=10.254.0.9 to=10.254.0.1 cand=198.18.0.1:5801)
{
	for i in 1 2 3; do
		printf "<presence to='gw-s%s@%s' type='subscribe'/>\n" "$i" "$XMPP_DOMAIN"
		printf "<presence to='%s'><priority>-1</priority><ipop xmlns='urn:ipop:signal:1'>%s</ipop></presence>\n" \
			"$(xmpp_get "$T/s$i.sock" "d['bound_jid']")" "$xpres"
	done
	printf "<message type='chat' to='%s'><ipop xmlns='urn:ipop:signal:1'>%s</ipop></message>\n" \
		"$(xmpp_get "$T/s1.sock" "d['bound_jid']")" "$xreq"
} | xmpp_raw gw-x knock
for i in 1 2 3; do
	wait_for 5 bash -c "[ \$($IPOPCTL -s $T/s$i.sock xmpp --json | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"xmpp\"][\"counters\"][\"rejected_payloads\"])') -gt ${rej0[i]} ]" ||
		fail "s$i did not refuse the outsider's directed presence"
	grep -q "subscription request from gw-x@$XMPP_DOMAIN not approved: not in our roster" \
		"$T/ipopd-s$i-s$i.log" || fail "s$i: no trace of the outsider's subscription request"
done
assert_gt "$(($(xmpp_get "$T/s1.sock" "d['counters']['rejected_payloads']") - rej0[1]))" 1 \
	"s1 rejected payloads (presence and con_req)"
ok "outsider's subscription requests ignored, its presence and con_req refused"

wait_for 10 bash -c "[ \$($IPOPCTL -s $T/s1.sock stats --json | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"handshake\"][\"unknown_key\"])') -gt $unk0 ]" ||
	fail "s1 never saw the outsider's initiations"
assert_eq "$(link_state "$T/x.sock" s1)" connecting "outsider's link to s1"
for i in 1 2 3; do
	s="$T/s$i.sock"
	assert_eq "$(ctl_get "$s" links "len(d['links'])")" 2 "s$i links (outsider not among them)"
	assert_eq "$(xmpp_get "$s" "len(d['members'])")" 2 "s$i members (outsider not among them)"
	assert_eq "$(xmpp_get "$s" "any('gw-x' in m['jid'] for m in d['members'])")" False \
		"s$i lists the outsider"
done
assert_eq "$(xmpp_get "$T/x.sock" "len(d['members'])")" 0 "outsider's members"
ping_fails x 10.254.0.1 >/dev/null
ok "outsider not in any roster: no member, no link (unknown_key)"

# The group still works after all that.
for a in 1 2 3; do
	for b in 1 2 3; do
		[ "$a" = "$b" ] || ping_ok "s$a" "10.254.0.$b"
	done
done
ok "the group still pings after the outsider's attempts"

# --- relations made at run time by the admins, with subscriptions ---
# A fourth site whose account is in no group: its gateway starts alone. Then
# each admin "adds the other as a contact" from a client of their own on the
# gateway's account (a second resource), which sends a subscription request.
# Site 4's admin asks first, while gw-s4 is still unknown to site 1's
# gateway; then site 1's admin asks. Each gateway approves a request from a
# JID in its roster — also one that arrived before the JID was added there —
# so the relation ends up "both" without anyone approving by hand, and the
# two sites link. Sites 2 and 3 are not related to site 4 and never see it.
make_home_site s4 4
write_disc_config "$T/s4.json" site=s4 group=roster
start_ipopd s4 "$T/s4.json"
pid_s4=$IPOPD_PID
wait_for 15 bash -c "[ \"\$($IPOPCTL -s $T/s4.sock xmpp --json | $PY -c 'import json,sys; d=json.load(sys.stdin)[\"xmpp\"]; print(d[\"state\"], d[\"in_group\"])')\" = 'online True' ]" ||
	fail "s4 did not log in: $(ctl "$T/s4.sock" xmpp 2>&1)"
assert_eq "$(xmpp_get "$T/s4.sock" "len(d['members'])")" 0 "s4 members before any relation"
echo "<presence to='gw-s1@$XMPP_DOMAIN' type='subscribe'/>" | xmpp_raw gw-s4 admin
wait_for 5 grep -q "subscription request from gw-s4@$XMPP_DOMAIN" "$T/ipopd-s1-s1.log" ||
	fail "s1 never got gw-s4's subscription request"
sleep 1
assert_eq "$(xmpp_get "$T/s1.sock" "len(d['members'])")" 2 "s1 members after gw-s4 asked"
echo "<presence to='gw-s4@$XMPP_DOMAIN' type='subscribe'/>" | xmpp_raw gw-s1 admin
wait_for 10 bash -c "[ \"\$($IPOPCTL -s $T/s4.sock xmpp --json | $PY -c 'import json,sys; print(sorted(m[\"jid\"] for m in json.load(sys.stdin)[\"xmpp\"][\"members\"]))')\" = \"['$(xmpp_get "$T/s1.sock" "d['bound_jid']")']\" ]" ||
	fail "s4 does not see s1 after both admins asked: $(ctl "$T/s4.sock" xmpp 2>&1)"
wait_for 10 bash -c "[ \$($IPOPCTL -s $T/s1.sock xmpp --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)[\"xmpp\"][\"members\"]))') = 3 ]" ||
	fail "s1 does not see s4 after both admins asked: $(ctl "$T/s1.sock" xmpp 2>&1)"
wait_link_up 30 "$T/s4.sock" xmpp-10.254.0.1
wait_link_up 30 "$T/s1.sock" xmpp-10.254.0.4
ping_ok s4 10.254.0.1
ping_ok s1 10.254.0.4
for i in 2 3; do
	assert_eq "$(xmpp_get "$T/s$i.sock" "len(d['members'])")" 2 "s$i members (s4 is not its contact)"
	assert_eq "$(link_state "$T/s$i.sock" xmpp-10.254.0.4)" absent "s$i link to s4"
done
assert_eq "$(ctl_get "$T/s4.sock" links "len(d['links'])")" 1 "s4 links"
ping_fails s4 10.254.0.2 >/dev/null
ok "subscriptions made by the admins at run time: s1 and s4 link, s2 and s3 stay apart from s4"

# Site 1's admin removes gw-s4 from the roster: both gateways drop each other
# from their member lists (roster pushes, RFC 6121 2.5).
echo "<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='gw-s4@$XMPP_DOMAIN' subscription='remove'/></query></iq>" |
	xmpp_raw gw-s1 admin
wait_for 10 bash -c "[ \$($IPOPCTL -s $T/s1.sock xmpp --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)[\"xmpp\"][\"members\"]))') = 2 ]" ||
	fail "s1 still lists s4 after the admin removed it: $(ctl "$T/s1.sock" xmpp 2>&1)"
wait_for 10 bash -c "[ \$($IPOPCTL -s $T/s4.sock xmpp --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)[\"xmpp\"][\"members\"]))') = 0 ]" ||
	fail "s4 still lists s1 after the relation was removed: $(ctl "$T/s4.sock" xmpp 2>&1)"
# Unlike a member that merely went offline (its link may stay: the data
# plane does not need XMPP), a removed relation revokes trust: both sides
# tear the link down, and s4's key is refused from then on.
wait_for 5 bash -c "[ \"\$($IPOPCTL -s $T/s1.sock links --json | $PY -c 'import json,sys; print(sorted(l[\"name\"] for l in json.load(sys.stdin)[\"links\"]))')\" = \"['xmpp-10.254.0.2', 'xmpp-10.254.0.3']\" ]" ||
	fail "s1 still has a link to s4 after the relation was removed: $(ctl "$T/s1.sock" links 2>&1)"
wait_for 5 bash -c "[ \$($IPOPCTL -s $T/s4.sock links --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)[\"links\"]))') = 0 ]" ||
	fail "s4 still has a link to s1 after the relation was removed: $(ctl "$T/s4.sock" links 2>&1)"
grep -Eq "member gw-s4@$XMPP_DOMAIN/ipopd-[0-9a-f]{8} \(peer xmpp-10.254.0.4\) removed from the group: link torn down" \
	"$T/ipopd-s1-s1.log" || fail "s1 did not log why the link to s4 went"
ping_fails s4 10.254.0.1 >/dev/null
ping_fails s1 10.254.0.4 >/dev/null
# s4 still has s1's address and key from before: its initiations are refused.
unknown0=$(hs_get "$T/s1.sock" unknown_key)
write_disc_config "$T/s4.json" site=s4 group=roster \
	peers_json="{\"name\": \"s1\", \"public_key\": \"$($IPOPCTL -s "$T/s1.sock" key)\", \"endpoint\": \"198.18.0.1:5800\", \"ip4\": \"10.254.0.1\"}"
kill -HUP "$pid_s4"
wait_for 10 bash -c "[ \$($IPOPCTL -s $T/s1.sock stats --json | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"handshake\"][\"unknown_key\"])') -gt $unknown0 ]" ||
	fail "s1 did not refuse s4's initiations after the relation was removed: $(ctl "$T/s1.sock" stats 2>&1)"
ping_fails s4 10.254.0.1 >/dev/null
ok "relation removed: s1 and s4 no longer list each other, both links torn down, s4's key refused (unknown_key)"
