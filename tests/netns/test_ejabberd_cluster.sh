#!/usr/bin/env bash
# Signalling over an ejabberd cluster of two nodes (docs/signalling.md,
# "An ejabberd cluster").
#
# Two server namespaces on the WAN, xa (198.18.0.250) and xb (198.18.0.249),
# each running one ejabberd node for the same domain with the same
# certificate; Erlang distribution (epmd 4369, inet_dist 4370-4379, one
# cookie) is open only between the two nodes (nftables in each namespace
# drops those ports from anyone else), clients reach 5222 on both. xb joins
# xa's cluster (`ejabberdctl join_cluster ejabberd@198.18.0.250`).
#
# Gateways s1, s2 list xa first (`xmpp_host: "198.18.0.250, 198.18.0.249"`),
# s3, s4 list xb first. s3 starts first, so the overlay's MUC room lives on
# xb. All four find each other in the one room across the nodes and link.
# Then xb is stopped (SIGKILL: a node crash): s3 and s4 reconnect to xa (the
# next server in their list); the room went down with xb without a word to
# s1 and s2 on xa, whose self-ping (XEP-0410) finds they are no longer in it
# and rejoins; everyone meets again in the room on xa. Links stay up
# throughout (the data plane does not depend on XMPP) and all pairs ping.
# xb comes back and rejoins the cluster; a gateway started now on xb (s5)
# links with everyone.
#
# ~70 s, most of it ejabberd's start-up twice and the cluster join.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_xmpp.sh"
harness_init
need_cmd erl epmd turnserver openssl nft
XMPP_SERVER=ejabberd
XA=198.18.0.250
XB=198.18.0.249

make_wan
ip -n "$(ns wan)" addr add "$STUN_ADDR/24" dev br0
start_coturn wan "$STUN_ADDR"
# node_ns NAME ADDR PEER: a server namespace on the WAN; Erlang distribution
# only from PEER.
node_ns()
{
	local name=$1 addr=$2 peer=$3
	new_ns "$name"
	ip -n "$(ns wan)" link add "w-$name" type veth peer name eth0 netns "$(ns "$name")"
	ip -n "$(ns wan)" link set "w-$name" master br0 up
	ip -n "$(ns "$name")" addr add "$addr/24" dev eth0
	ip -n "$(ns "$name")" link set eth0 up
	nsx "$name" nft -f - <<-EOF
		table inet erldist {
			chain input {
				type filter hook input priority filter; policy accept;
				iifname "lo" accept
				tcp dport { 4369, 4370-4379 } ip saddr $peer accept
				tcp dport { 4369, 4370-4379 } drop
			}
		}
	EOF
}
node_ns xa "$XA" "$XB"
node_ns xb "$XB" "$XA"
XMPP_ADDR=$XA
t0=$(date +%s.%N)
start_ejabberd xa "$XA"
start_ejabberd xb "$XB"
ejctl_ok "$XB" join_cluster "ejabberd@$XA" >/dev/null
for ((i = 0; i < 100; i++)); do
	c=$(ejctl "$XA" list_cluster 2>/dev/null | tr -d "'" | sort | tr '\n' ' ')
	[ "$c" = "ejabberd@$XB ejabberd@$XA " ] && break
	sleep 0.3
done
[ "$i" -lt 100 ] || fail "xb did not join xa's cluster: $(ejctl "$XA" list_cluster 2>&1)"
wait_for 30 nsx xb bash -c "exec 3<>/dev/tcp/$XB/5222" || fail "xb does not accept clients after joining"
log "cluster of two nodes up $(echo "$(date +%s.%N) - $t0" | bc) s after the first node started"
# Only the other node may speak Erlang distribution to a node.
if nsx wan timeout 2 bash -c "exec 3<>/dev/tcp/$XA/4369" 2>/dev/null; then
	fail "epmd of xa answers the WAN"
fi
ok "cluster: ejabberd@$XA and ejabberd@$XB; epmd/dist closed to everyone else"

srv_register gw-s1 gw-s2 gw-s3 gw-s4 gw-s5
# Accounts live in the cluster's shared tables: xb knows them too.
assert_contains "$(ejctl_ok "$XB" registered_users "$XMPP_DOMAIN" | tr '\n' ' ')" "gw-s5" "accounts on xb"

for i in 1 2 3 4 5; do
	make_home_site "s$i" "$i"
	case $i in
	1 | 2) servers="$XA, $XB" ;;
	*) servers="$XB $XA" ;;
	esac
	write_disc_config "$T/s$i.json" site="s$i" extra='"xmpp_keepalive": 3'
	sed -i "s|\"xmpp_host\": \"$XMPP_ADDR\"|\"xmpp_host\": \"$servers\"|" "$T/s$i.json"
	grep -q "\"xmpp_host\": \"$servers\"" "$T/s$i.json" || fail "cannot set xmpp_host in s$i.json"
done
t0=$(date +%s.%N)
start_ipopd s3 "$T/s3.json"
wait_for 15 bash -c "[ \"\$($IPOPCTL -s $T/s3.sock xmpp --json | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"xmpp\"][\"in_group\"])')\" = True ]" ||
	fail "s3 not in the room"
for i in 1 2 4; do start_ipopd "s$i" "$T/s$i.json"; done
for i in 1 2 3 4; do
	wait_for 30 links_up "$T/s$i.sock" 3 || fail "s$i: not 3 links up: $(ctl "$T/s$i.sock" links 2>&1)"
done
log "4 gateways on 2 nodes linked $(echo "$(date +%s.%N) - $t0" | bc) s after the first started"
for i in 1 2; do assert_eq "$(xmpp_get "$T/s$i.sock" "d['server']")" "$XA" "s$i's server"; done
for i in 3 4; do assert_eq "$(xmpp_get "$T/s$i.sock" "d['server']")" "$XB" "s$i's server"; done
ping_mesh 10.254.0 s1 s2 s3 s4
ok "gateways on xa (s1, s2) and xb (s3, s4) in one room (hosted on xb), all linked"

# xb crashes.
t0=$(date +%s.%N)
stop_ejabberd "$XB"
ping_mesh 10.254.0 s1 s2 s3 s4
for i in 1 2 3 4; do
	wait_for 60 bash -c "[ \"\$($IPOPCTL -s $T/s$i.sock xmpp --json | $PY -c 'import json,sys; d=json.load(sys.stdin)[\"xmpp\"]; print(d[\"server\"], d[\"in_group\"], sorted(m[\"ip4\"] for m in d[\"members\"] if not m[\"stale\"]))')\" = \"$XA True \$(for j in 1 2 3 4; do [ \$j = $i ] || printf \"'10.254.0.%s', \" \$j; done | sed 's/, \$//; s/^/[/; s/\$/]/')\" ]" ||
		fail "s$i not back in the room on xa with the 3 others: $(ctl "$T/s$i.sock" xmpp 2>&1)"
done
log "everyone in the room on xa $(echo "$(date +%s.%N) - $t0" | bc) s after xb went down"
for i in 1 2; do
	grep -q "self-ping in .* failed" "$T/ipopd-s$i-s$i.log" ||
		log "(s$i did not need its self-ping: the room told it)"
done
for i in 1 2 3 4; do
	assert_eq "$(ctl_get "$T/s$i.sock" links "sum(1 for l in d['links'] if l['state']=='up')")" 3 "s$i's links up"
done
ping_mesh 10.254.0 s1 s2 s3 s4
ok "xb down: s3, s4 moved to xa, everyone in one room again, links kept"

# xb comes back and rejoins the cluster (its spool knows the cluster).
start_ejabberd xb "$XB"
for ((i = 0; i < 100; i++)); do
	c=$(ejctl "$XA" list_cluster 2>/dev/null | tr -d "'" | sort | tr '\n' ' ')
	[ "$c" = "ejabberd@$XB ejabberd@$XA " ] && break
	sleep 0.3
done
start_ipopd s5 "$T/s5.json"
wait_for 30 links_up "$T/s5.sock" 4 || fail "s5 (on xb) not linked with the 4 others: $(ctl "$T/s5.sock" links 2>&1)"
assert_eq "$(xmpp_get "$T/s5.sock" "d['server']")" "$XB" "s5's server"
ping_mesh 10.254.0 s1 s5
ok "xb back in the cluster: s5 logged in to xb links with everyone"
