#!/usr/bin/env bash
# Trust by certificate with discovery (issue 14): three gateways find each
# other in the XMPP group (no endpoint and no key in any config) and, with
# "trust": "cert", link only because their certificates from the overlay CA
# verify: the XMPP group's word alone is no longer enough. Checked: every
# pair pings, ipopctl links shows each peer's certificate; a fourth member
# of the same room whose certificate comes from another CA gets no link with
# anyone and is counted as cert_other_ca; a fifth member whose certificate is
# for another address than its presence claims is counted as
# cert_addr_not_covered and gets no link either.
. "$(dirname "$0")/lib.sh"
harness_init
need_cmd prosody prosodyctl openssl

PKI=$T/pki
mkdir -p "$PKI"
. "$(dirname "$0")/cert_lib.sh"

make_wan
ip -n "$(ns wan)" addr add "$XMPP_ADDR/24" dev br0
start_prosody wan "$XMPP_ADDR"
xmpp_register gw-s1 gw-s2 gw-s3 gw-x gw-y
ca "$PKI/ca" "overlay CA"
ca "$PKI/other" "another CA"
mkdir -p "$PKI/both"
cat "$PKI/other/ca.pem" "$PKI/ca/ca.pem" >"$PKI/both/ca.pem"

# add SITE IDX CADIR [CERT_IP] [TRUSTED_CA]: a gateway on the WAN with a
# discovery config, trust cert, a certificate from CADIR for CERT_IP.
add()
{
	local s=$1 i=$2 cadir=$3 ip=${4:-10.254.0.$2} trusted=${5:-$PKI/ca/ca.pem}
	make_site "$s" "$i"
	sign "$cadir" "$s" "$ip" "$(node_pubkey "$s")" "$PKI/$s.pem"
	write_disc_config "$T/$s.json" site="$s" stun=0 \
		extra="\"trust\": \"cert\", \"ca_file\": \"$trusted\", \"cert_file\": \"$PKI/$s.pem\", \"keepalive_interval\": 2, \"link_timeout\": 6"
}
add s1 1 "$PKI/ca"
add s2 2 "$PKI/ca"
add s3 3 "$PKI/ca"
for i in 1 2 3; do start_ipopd "s$i" "$T/s$i.json"; done
for i in 1 2 3; do
	wait_for 30 links_up "$T/s$i.sock" 2 ||
		fail "s$i: not 2 links up: $(ctl "$T/s$i.sock" links 2>&1)"
done
ok "three gateways from the XMPP group linked by their certificates"
ping_mesh 10.254.0 s1 s2 s3
links=$(ctl "$T/s1.sock" links)
assert_contains "$links" "cert: CN=s2, serial" "s1: ipopctl links"
assert_contains "$links" "cert: CN=s3, serial" "s1: ipopctl links"
ok "ipopctl links shows the certificates of discovered peers"

# x: a member of the room, certificate from another CA (x trusts both, so it
# accepts the others and initiates).
add x 4 "$PKI/other" "" "$PKI/both/ca.pem"
start_ipopd x "$T/x.json"
wait_for 20 eval '[ "$(hs_get "$T/s1.sock" cert_other_ca)" -gt 0 ]' ||
	fail "s1 did not refuse x's certificate (cert_other_ca $(hs_get "$T/s1.sock" cert_other_ca))"
assert_eq "$(xmpp_get "$T/s1.sock" "len(d['members'])")" 3 "s1 sees x in the group"
sleep 2
links_up "$T/x.sock" 1 && fail "x (another CA) got a link: $(ctl "$T/x.sock" links)"
ok "a group member with another CA's certificate: refused (cert_other_ca), no link"

# y: the right CA, but its certificate is for 10.254.0.9 while its presence
# says 10.254.0.5.
add y 5 "$PKI/ca" 10.254.0.9
start_ipopd y "$T/y.json"
wait_for 20 eval '[ "$(hs_get "$T/s1.sock" cert_addr_not_covered)" -gt 0 ]' ||
	fail "s1 did not refuse y's certificate for another address"
sleep 2
links_up "$T/y.sock" 1 && fail "y (address not covered) got a link: $(ctl "$T/y.sock" links)"
for i in 1 2 3; do links_up "$T/s$i.sock" 2 || fail "s$i lost a link"; done
ok "a member whose certificate does not cover its presence address: refused, no link"
exit 0
