#!/usr/bin/env bash
# A wrong key must let nothing through: site b's inbound SA from a has a key
# that differs from a's outbound one. No ping crosses in either direction (b
# cannot decrypt a's echoes nor a's replies), and b counts ICV failures, in
# total and on the peer.
. "$(dirname "$0")/lib.sh"
harness_init

make_wan
make_site a 1
make_site b 2
write_config "$T/a.json" site=a tap=ipopA peers=b
write_config "$T/b.json" site=b tap=ipopB peers=a
good=$(link_key a b 5800)
wrong=$(gen_key)
grep -q "$good" "$T/b.json" || fail "harness: key a->b not found in b.json"
sed -i "s/$good/$wrong/" "$T/b.json"
start_ipopd a "$T/a.json"
start_ipopd b "$T/b.json"
sock_a=$(config_sock "$T/a.json")
sock_b=$(config_sock "$T/b.json")

ping_fails a 10.254.0.2 -c 5 >/dev/null
ping_fails b 10.254.0.1 -c 5 >/dev/null
ok "no ping gets through in either direction"

auth=$(ctl_get "$sock_b" stats 'd["total"]["drops"]["auth"]')
assert_gt "$auth" 4 "b: stats total.drops.auth"
pfail=$(peer_get "$sock_b" a auth_fail)
assert_gt "$pfail" 4 "b: peer a auth_fail"
# a decrypts b's echo requests fine (that direction has the right key) and
# answers them: those replies are what b fails on too.
assert_gt "$(peer_get "$sock_a" b rx_packets)" 0 "a: packets received from b"
ok "b: drops.auth=$auth, peer a auth_fail=$pfail"
exit 0
