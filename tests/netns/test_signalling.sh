#!/usr/bin/env bash
# Signalling that holds on any standard XMPP server: the same scenario against
# ejabberd (Debian's 23.01) and prosody (0.12), chosen by $XMPP_SERVER
# (meson runs it as signalling_ejabberd and signalling_prosody).
#
# Topology as in test_discovery.sh: a WAN namespace with the XMPP server
# (198.18.0.250:5222, STARTTLS required, certificate from a throwaway CA) and
# coturn as the STUN server (198.18.0.251); sites s1..s4, each a gateway
# behind its own home router (masquerade, unsolicited inbound dropped).
#
# 1. MUC group: s1, s2 find each other in the derived room and link.
# 2. A silently dropped client connection: s1's router starts dropping the
#    packets of s1's XMPP connection (both ways, nftables), so the TCP
#    session dies without the server noticing. s1 (xmpp_keepalive 2 s) gives
#    up on it and logs in again — with a new resource, while the server still
#    holds the old session (two resources of gw-s1 online) — and is in the
#    room again; s2 keeps listing s1, the link stays up, and a gateway that
#    arrives now (s3) links with s1 through the new session. When the path
#    comes back the server ends the old session, and that changes nothing
#    (s1 stays in the room, or rejoins if the server told it it left).
# 3. Server restart (SIGKILL, then start): links keep forwarding while it is
#    down; every gateway is back in the room afterwards.
# 4. Roster group: shared roster group {s1, s2} made on the server before the
#    gateways start (ejabberd: srg_create/srg_user_add; prosody: mod_groups)
#    -> s1, s2 link. At run time: s3 related with s1 (s1's side first) and
#    with s2 (s3's side first) -> s3 links with both. Revoked at run time:
#    s1's admin removes s3, and s3's admin removes s2 -> each link goes
#    within seconds on both ends, whatever order the server sends presence
#    and roster pushes in, and s3's handshakes are refused (unknown_key).
#    ejabberd only: s4 added to the shared group at run time links with s1
#    and s2; removed from it, its links go.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_xmpp.sh"
harness_init
XMPP_SERVER=${XMPP_SERVER:-ejabberd}
TEST_NAME="signalling_$XMPP_SERVER"
need_cmd turnserver openssl nft
case $XMPP_SERVER in
ejabberd) need_cmd erl epmd ;;
prosody) need_cmd prosody prosodyctl ;;
*) fail "XMPP_SERVER: expected ejabberd or prosody, got $XMPP_SERVER" ;;
esac

make_wan
ip -n "$(ns wan)" addr add "$XMPP_ADDR/24" dev br0
ip -n "$(ns wan)" addr add "$STUN_ADDR/24" dev br0
start_coturn wan "$STUN_ADDR"
t0=$(date +%s.%N)
if [ "$XMPP_SERVER" = ejabberd ]; then
	start_ejabberd wan "$XMPP_ADDR"
else
	mkdir -p "$T/xmpp"
	cat >"$T/xmpp/groups.txt" <<-EOF
		[overlay]
		gw-s1@$XMPP_DOMAIN=site 1
		gw-s2@$XMPP_DOMAIN=site 2
	EOF
	# shellcheck disable=SC2034 # read by start_prosody
	PROSODY_EXTRA="modules_enabled = { \"groups\" }; groups_file = \"$T/xmpp/groups.txt\""
	start_prosody wan "$XMPP_ADDR"
fi
log "$XMPP_SERVER listening after $(echo "$(date +%s.%N) - $t0" | bc) s"
srv_register gw-s1 gw-s2 gw-s3 gw-s4

for i in 1 2 3 4; do
	make_home_site "s$i" "$i"
	write_disc_config "$T/s$i.json" site="s$i" extra='"xmpp_keepalive": 2'
	write_disc_config "$T/r$i.json" site="s$i" group=roster extra='"xmpp_keepalive": 2'
done

# --- 1. MUC group ---
t0=$(date +%s.%N)
start_ipopd s1 "$T/s1.json"
pid1=$IPOPD_PID
start_ipopd s2 "$T/s2.json"
pid2=$IPOPD_PID
wait_for 30 nsx s1 ping -c 1 -W 0.2 10.254.0.2 || fail "no ping s1 -> s2 within 30 s"
log "MUC: first ping s1 -> s2 $(echo "$(date +%s.%N) - $t0" | bc) s after the gateways started"
wait_link_up 30 "$T/s2.sock" xmpp-10.254.0.1
for i in 1 2; do
	assert_eq "$(xmpp_get "$T/s$i.sock" "d['in_group']")" True "s$i in the room"
	assert_eq "$(xmpp_get "$T/s$i.sock" "d['secured']")" True "s$i over TLS"
	assert_contains "$(xmpp_get "$T/s$i.sock" "d['bound_jid']")" "^gw-s$i@$XMPP_DOMAIN/ipopd-[0-9a-f]{8}$" "s$i's resource"
done
ok "MUC: s1 and s2 in one room over TLS, linked"

# --- 2. a connection that dies without the server noticing ---
# shellcheck disable=SC2016
lport=$(nsx s1 ss -Htn state established dst "$XMPP_ADDR:5222" | awk '{split($3, a, ":"); print a[2]; exit}')
[ -n "$lport" ] || fail "s1 has no XMPP connection: $(nsx s1 ss -tn)"
jid_old=$(xmpp_get "$T/s1.sock" "d['bound_jid']")
c0=$(xmpp_get "$T/s1.sock" "d['counters']['connects']")
nsx rt-s1 nft -f - <<-EOF
	table inet xmppdrop {
		chain forward {
			type filter hook forward priority -10; policy accept;
			ip saddr 192.168.1.2 tcp sport $lport drop
			ip daddr 192.168.1.2 tcp dport $lport drop
		}
	}
EOF
t0=$(date +%s.%N)
wait_for 30 bash -c "[ \$($IPOPCTL -s $T/s1.sock xmpp --json | $PY -c 'import json,sys; d=json.load(sys.stdin)[\"xmpp\"]; print(int(d[\"counters\"][\"connects\"] > $c0 and d[\"in_group\"]))') = 1 ]" ||
	fail "s1 did not log in again and rejoin after its connection died: $(ctl "$T/s1.sock" xmpp 2>&1)"
log "s1 back in the room $(echo "$(date +%s.%N) - $t0" | bc) s after its connection went silent"
jid_new=$(xmpp_get "$T/s1.sock" "d['bound_jid']")
[ "$jid_new" != "$jid_old" ] || fail "s1 logged in again with the same full JID $jid_old"
if [ "$XMPP_SERVER" = ejabberd ]; then
	res=$(ejctl_ok "$XMPP_ADDR" user_resources gw-s1 "$XMPP_DOMAIN" | sort | tr '\n' ' ')
	assert_eq "$res" "$(printf '%s\n' "${jid_old#*/}" "${jid_new#*/}" | sort | tr '\n' ' ')" \
		"gw-s1's sessions on the server (old one not noticed yet)"
fi
assert_eq "$(members_ip4 "$T/s2.sock")" "['10.254.0.1']" "s2's members while s1's old session lingers"
assert_eq "$(link_state "$T/s2.sock" xmpp-10.254.0.1)" up "s2's link to s1"
ping_ok s2 10.254.0.1
start_ipopd s3 "$T/s3.json"
pid3=$IPOPD_PID
wait_link_up 30 "$T/s3.sock" xmpp-10.254.0.1
wait_link_up 30 "$T/s3.sock" xmpp-10.254.0.2
ping_ok s3 10.254.0.1
ok "silent drop: s1 logged in again (new resource) before the server noticed; still a member, s3 links with it"
# The path comes back: the server learns the old session is dead (the
# gateway's kernel resets it) and ends it; s1 stays (or comes back) in.
nsx rt-s1 nft delete table inet xmppdrop
# (s1's kernel retransmits its FIN until the server takes it, or resets
# what the server sends to the dead socket.)
t0=$(date +%s.%N)
wait_for 90 bash -c "[ -z \"\$(ip netns exec $(ns s1) ss -Htn sport = :$lport)\" ]" ||
	fail "s1's old connection never closed after the path came back: $(nsx s1 ss -tn)"
if [ "$XMPP_SERVER" = ejabberd ]; then
	for ((i = 0; i < 60; i++)); do
		[ "$(ejctl "$XMPP_ADDR" user_resources gw-s1 "$XMPP_DOMAIN" 2>/dev/null)" = "${jid_new#*/}" ] && break
		sleep 0.5
	done
	[ "$i" -lt 60 ] || fail "the server still holds s1's old session: $(ejctl "$XMPP_ADDR" user_resources gw-s1 "$XMPP_DOMAIN" 2>&1)"
fi
log "old session gone $(echo "$(date +%s.%N) - $t0" | bc) s after the path came back"
sleep 3
wait_for 20 bash -c "[ \"\$($IPOPCTL -s $T/s1.sock xmpp --json | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"xmpp\"][\"in_group\"])')\" = True ]" ||
	fail "s1 not in the room after its old session ended: $(ctl "$T/s1.sock" xmpp 2>&1)"
for i in 2 3; do
	wait_for 20 bash -c "$IPOPCTL -s $T/s$i.sock xmpp --json | grep -q '\"10.254.0.1\"'" ||
		fail "s$i lost s1 after s1's old session ended: $(ctl "$T/s$i.sock" xmpp 2>&1)"
done
if grep -q "says we left" "$T/ipopd-s1-s1.log"; then
	grep -q "joined .* as" "$T/ipopd-s1-s1.log" || fail "s1 was told it left and did not rejoin"
	log "the room told s1 it left when the old session ended: s1 rejoined"
fi
ping_mesh 10.254.0 s1 s2 s3
ok "old session ended: s1 still in the room, s1/s2/s3 ping each other"

# --- 3. server restart ---
if [ "$XMPP_SERVER" = ejabberd ]; then stop_ejabberd "$XMPP_ADDR"; else stop_prosody; fi
ping_mesh 10.254.0 s1 s2 s3
ok "server down: links keep forwarding"
t0=$(date +%s.%N)
if [ "$XMPP_SERVER" = ejabberd ]; then start_ejabberd wan "$XMPP_ADDR"; else start_prosody wan "$XMPP_ADDR"; fi
for i in 1 2 3; do
	wait_for 60 bash -c "[ \"\$($IPOPCTL -s $T/s$i.sock xmpp --json | $PY -c 'import json,sys; d=json.load(sys.stdin)[\"xmpp\"]; print(len(d[\"members\"]), d[\"in_group\"], all(not m[\"stale\"] for m in d[\"members\"]))')\" = '2 True True' ]" ||
		fail "s$i not back in the room with both others after the restart: $(ctl "$T/s$i.sock" xmpp 2>&1)"
done
log "all back in the room $(echo "$(date +%s.%N) - $t0" | bc) s after the server restarted"
ping_mesh 10.254.0 s1 s2 s3
ok "server restarted: every gateway back in the room, links up"
for p in "$pid1" "$pid2" "$pid3"; do stop_ipopd "$p"; done

# --- 4. roster group ---
if [ "$XMPP_SERVER" = ejabberd ]; then
	ejctl_ok "$XMPP_ADDR" srg_create overlay "$XMPP_DOMAIN" overlay "ipopd overlay" overlay >/dev/null
	for i in 1 2; do
		ejctl_ok "$XMPP_ADDR" srg_user_add "gw-s$i" "$XMPP_DOMAIN" overlay "$XMPP_DOMAIN" >/dev/null
	done
fi
start_ipopd s1 "$T/r1.json"
start_ipopd s2 "$T/r2.json"
start_ipopd s3 "$T/r3.json"
wait_link_up 30 "$T/s1.sock" xmpp-10.254.0.2
wait_link_up 30 "$T/s2.sock" xmpp-10.254.0.1
assert_eq "$(xmpp_get "$T/s3.sock" "len(d['members'])")" 0 "s3's members (in nobody's roster)"
ok "roster: shared group {s1, s2} linked, s3 alone"

# Relations made at run time, each in one order.
srv_relate gw-s1 gw-s3
srv_relate gw-s3 gw-s1
srv_relate gw-s3 gw-s2
srv_relate gw-s2 gw-s3
for i in 1 2; do
	wait_link_up 30 "$T/s3.sock" "xmpp-10.254.0.$i"
	wait_link_up 30 "$T/s$i.sock" xmpp-10.254.0.3
done
assert_eq "$(members_ip4 "$T/s3.sock")" "['10.254.0.1', '10.254.0.2']" "s3's members"
ping_mesh 10.254.0 s1 s2 s3
ok "roster: s3 related with s1 and s2 at run time (both orders): linked both ways"

# Revoked at run time: s1's admin removes s3; s3's admin removes s2.
unk0=$(hs_get "$T/s1.sock" unknown_key)
t0=$(date +%s.%N)
srv_unrelate gw-s1 gw-s3
wait_for 10 bash -c "[ \"\$($IPOPCTL -s $T/s1.sock links --json | $PY -c 'import json,sys; print(sorted(l[\"name\"] for l in json.load(sys.stdin)[\"links\"]))')\" = \"['xmpp-10.254.0.2']\" ]" ||
	fail "s1 still has a link to s3 after s1's admin removed it: $(ctl "$T/s1.sock" links 2>&1)"
wait_for 10 bash -c "[ \"\$($IPOPCTL -s $T/s3.sock links --json | $PY -c 'import json,sys; print(sorted(l[\"name\"] for l in json.load(sys.stdin)[\"links\"]))')\" = \"['xmpp-10.254.0.2']\" ]" ||
	fail "s3 still has a link to s1 after the relation was removed: $(ctl "$T/s3.sock" links 2>&1)"
log "s1-s3 revoked: both links gone $(echo "$(date +%s.%N) - $t0" | bc) s after the roster change"
srv_unrelate gw-s3 gw-s2
wait_for 10 bash -c "[ \$($IPOPCTL -s $T/s3.sock links --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)[\"links\"]))') = 0 ]" ||
	fail "s3 still has a link to s2 after s3's admin removed it: $(ctl "$T/s3.sock" links 2>&1)"
wait_for 10 bash -c "[ \"\$($IPOPCTL -s $T/s2.sock links --json | $PY -c 'import json,sys; print(sorted(l[\"name\"] for l in json.load(sys.stdin)[\"links\"]))')\" = \"['xmpp-10.254.0.1']\" ]" ||
	fail "s2 still has a link to s3 after the relation was removed: $(ctl "$T/s2.sock" links 2>&1)"
log "s2-s3 revoked: both links gone $(echo "$(date +%s.%N) - $t0" | bc) s after the first roster change"
for i in 1 2; do
	grep -q "removed from the group: link torn down" "$T/ipopd-s$i-r$i.log" ||
		fail "s$i did not log why its link to s3 went"
done
ping_fails s3 10.254.0.1 >/dev/null
ping_fails s1 10.254.0.3 >/dev/null
# s3 still knows s1's key and address: its initiations are refused.
write_disc_config "$T/r3.json" site=s3 group=roster extra='"xmpp_keepalive": 2' \
	peers_json="{\"name\": \"s1\", \"public_key\": \"$($IPOPCTL -s "$T/s1.sock" key)\", \"endpoint\": \"198.18.0.1:5800\", \"ip4\": \"10.254.0.1\"}"
kill -HUP "$IPOPD_PID"
wait_for 10 bash -c "[ \$($IPOPCTL -s $T/s1.sock stats --json | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"handshake\"][\"unknown_key\"])') -gt $unk0 ]" ||
	fail "s1 did not refuse s3's initiations after the relation was removed"
ping_fails s3 10.254.0.1 >/dev/null
ping_ok s1 10.254.0.2
ok "roster: relations revoked at run time from either side: links gone on both ends, s3's key refused"

if [ "$XMPP_SERVER" = ejabberd ]; then
	# A member added to the shared roster group at run time, then removed.
	start_ipopd s4 "$T/r4.json"
	ejctl_ok "$XMPP_ADDR" srg_user_add gw-s4 "$XMPP_DOMAIN" overlay "$XMPP_DOMAIN" >/dev/null
	for i in 1 2; do
		wait_link_up 30 "$T/s4.sock" "xmpp-10.254.0.$i"
		wait_link_up 30 "$T/s$i.sock" xmpp-10.254.0.4
	done
	ping_mesh 10.254.0 s1 s2 s4
	ok "shared roster group: s4 added at run time links with s1 and s2"
	t0=$(date +%s.%N)
	ejctl_ok "$XMPP_ADDR" srg_user_del gw-s4 "$XMPP_DOMAIN" overlay "$XMPP_DOMAIN" >/dev/null
	for i in 1 2; do
		wait_for 10 bash -c "! $IPOPCTL -s $T/s$i.sock links --json | grep -q 'xmpp-10.254.0.4'" ||
			fail "s$i still has a link to s4 after it left the shared group: $(ctl "$T/s$i.sock" links 2>&1)"
	done
	wait_for 10 bash -c "[ \$($IPOPCTL -s $T/s4.sock links --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)[\"links\"]))') = 0 ]" ||
		fail "s4 still has links after it left the shared group: $(ctl "$T/s4.sock" links 2>&1)"
	log "s4 removed from the shared group: links gone $(echo "$(date +%s.%N) - $t0" | bc) s later"
	ping_fails s4 10.254.0.1 >/dev/null
	ok "shared roster group: s4 removed at run time, links gone on every end"
fi
