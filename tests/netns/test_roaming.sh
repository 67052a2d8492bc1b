#!/usr/bin/env bash
# A peer's NAT mapping changes under a live link (roaming).
#
# Three sites meet over XMPP (MUC group; prosody and coturn as in
# test_discovery.sh) and link: s1 is a gateway behind a home router
# (make_home_site), s2 a gateway on the WAN itself (make_site), s3 a gateway
# behind its own home router. Then s1's router changes its mapping the way a
# home router does after a reboot or a WAN reconnect: its masquerade rule is
# replaced by one that maps UDP to ports 40000-40999, and its WAN address is
# removed and put back, which makes the kernel drop every conntrack entry
# masqueraded through it (no `conntrack -F` needed). From then on s1's
# packets leave from a new port, and packets to the old mapping are dropped
# by s1's router.
#
# Checked: both of s1's links recover on their own (pings flow both ways
# again within ROAM_LIMIT seconds) and s2's and s3's endpoints for s1 have
# moved to the new mapping. Reported: the time each link took and what
# happened (link timeouts, handshakes, the STUN mapping s1 learnt).
#   s1-s2 (one side behind NAT): s1's first packet from the new port (a ping,
#     or a keepalive) reaches s2, whose worker sees an authenticated packet
#     from another address and reports it; s2's link manager moves the
#     endpoint at once (roaming, WireGuard style). Checked: recovered in less
#     than link_timeout, s2 counts a roam and no link timeout, no handshake
#     was needed, and `ipopctl links` on s2 says why the endpoint moved.
#   s1-s3 (both behind NAT): s1's initiations from the new port are dropped
#     by s3's router, s3's to the old mapping by s1's. When a discovered
#     peer's link goes down, discovery re-runs STUN at once and sends the
#     peer a con_req with our candidates; s1 learns its new mapping, the
#     candidates reach s3 over XMPP, and simultaneous open links them again
#     (recovery ~ link_timeout + a second; it used to wait for the periodic
#     STUN refresh, every 60 s).
# keepalive_interval ROAM_KEEPALIVE (default 1 s), link_timeout ROAM_TIMEOUT
# (default 3 s), so that the link timeouts take seconds, not minutes.
. "$(dirname "$0")/lib.sh"
harness_init
need_cmd prosody prosodyctl turnserver openssl

KA=${ROAM_KEEPALIVE:-1}
TO=${ROAM_TIMEOUT:-3}
LIMIT=${ROAM_LIMIT:-20}
make_wan
ip -n "$(ns wan)" addr add "$XMPP_ADDR/24" dev br0
ip -n "$(ns wan)" addr add "$STUN_ADDR/24" dev br0
start_prosody wan "$XMPP_ADDR"
xmpp_register gw-s1 gw-s2 gw-s3
start_coturn wan "$STUN_ADDR"
make_home_site s1 1
make_site s2 2
make_home_site s3 3
for s in s1 s2 s3; do
	write_disc_config "$T/$s.json" site=$s extra="\"keepalive_interval\": $KA, \"link_timeout\": $TO"
	start_ipopd $s "$T/$s.json"
done
for p in 2 3; do
	wait_link_up 30 "$T/s1.sock" xmpp-10.254.0.$p
	wait_link_up 30 "$T/s$p.sock" xmpp-10.254.0.1
	ping_ok s1 10.254.0.$p
	ping_ok s$p 10.254.0.1
done
pair() { ctl_get "$1" links "next(l for l in d['links'] if l['name']=='$2')['pair']['$3']"; }
declare -A down0=() rec=()
for s in s1 s2 s3; do down0[$s]=$(hs_get "$T/$s.sock" links_down); done
hs0=$(hs_get "$T/s1.sock" completed)
hs2=$(hs_get "$T/s2.sock" completed)
roams2=$(hs_get "$T/s2.sock" roams)
for p in 2 3; do
	assert_contains "$(pair "$T/s$p.sock" xmpp-10.254.0.1 remote)" '^198\.18\.0\.1:5800$' \
		"s$p's endpoint for s1 before"
done
log "s2 and s3 reach s1 at 198.18.0.1:5800; s1's router now remaps UDP to ports 40000-40999"

# A new mapping: new masquerade rule, and the old entries flushed (removing
# the address the entries were masqueraded to drops them, as it does when a
# real router's WAN address goes away).
r=$(ns rt-s1)
ip netns exec "$r" nft -f - <<-EOF
	flush chain ip nat postrouting
	add rule ip nat postrouting oifname "eth0" meta l4proto udp masquerade to :40000-40999
	add rule ip nat postrouting oifname "eth0" masquerade
EOF
t0=$(date +%s.%N)
ip -n "$r" addr del 198.18.0.1/24 dev eth0
ip -n "$r" addr add 198.18.0.1/24 dev eth0

# Recovery: the first ping from s1 that gets through, per link.
end=$((SECONDS + LIMIT))
while [ -z "${rec[2]:-}" ] || [ -z "${rec[3]:-}" ]; do
	[ "$SECONDS" -lt "$end" ] ||
		fail "s1's links did not both recover within $LIMIT s (recovered: ${!rec[*]}): $(ctl "$T/s1.sock" links 2>&1)"
	for p in 2 3; do
		if [ -z "${rec[$p]:-}" ] && nsx s1 ping -c 1 -W 0.2 10.254.0.$p >/dev/null 2>&1; then
			rec[$p]=$(echo "$(date +%s.%N) - $t0" | bc)
		fi
	done
	sleep 0.1
done
for p in 2 3; do
	ping_ok s1 10.254.0.$p
	ping_ok s$p 10.254.0.1
	assert_contains "$(pair "$T/s$p.sock" xmpp-10.254.0.1 remote)" '^198\.18\.0\.1:40[0-9]{3}$' \
		"s$p's endpoint for s1 after the remap"
done
d() { echo $(($(hs_get "$T/$1.sock" links_down) - down0[$1])); }
log "new mapping of s1 (STUN): $(xmpp_get "$T/s1.sock" "d['stun'][0]['mapped']")"
log "s1-s2 (s2 on the WAN) recovered after ${rec[2]} s: s2 now reaches s1 at $(pair "$T/s2.sock" xmpp-10.254.0.1 remote); link timeouts since the remap: s1 $(d s1), s2 $(d s2)"
log "s1-s3 (both behind NAT) recovered after ${rec[3]} s: s3 now reaches s1 at $(pair "$T/s3.sock" xmpp-10.254.0.1 remote); link timeouts since the remap: s3 $(d s3)"
log "(keepalive ${KA} s, link_timeout ${TO} s; handshakes completed by s1 since the remap: $(($(hs_get "$T/s1.sock" completed) - hs0)))"
assert_gt "$(d s1)" 0 "s1's link timeouts after the remap (the s1-s3 link)"
# s1-s2 roamed: no timeout and no handshake on s2, faster than link_timeout.
assert_eq "$(d s2)" 0 "s2's link timeouts after the remap"
assert_eq "$(($(hs_get "$T/s2.sock" completed) - hs2))" 0 "handshakes completed by s2 since the remap"
assert_eq "$(($(hs_get "$T/s2.sock" roams) - roams2))" 1 "s2's roams since the remap"
[ "$(echo "${rec[2]} < $TO" | bc)" = 1 ] || fail "s1-s2 took ${rec[2]} s, not less than link_timeout ($TO s)"
assert_contains "$(pair "$T/s2.sock" xmpp-10.254.0.1 why)" 'authenticated data came from' \
	"why s2's endpoint for s1 moved"
ctl "$T/s1.sock" links
ok "both links recovered after s1's NAT mapping changed"
