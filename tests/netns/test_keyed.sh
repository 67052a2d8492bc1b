#!/usr/bin/env bash
# Keyed links: two switch-mode sites whose configs name each other only by
# public key (no SAs anywhere) come up by themselves through the Noise
# handshake on the data port; containers ping across over IPv4 and IPv6.
# Checked: `ipopctl links` (state up, receiver-chosen SPIs with the top bit
# set, at least one handshake), node.key files are 0600, `ipopctl key` =
# `ipopd --show-pubkey`, the WAN shows the handshake behind the non-ESP
# marker (initiation, then response) followed by ESP carrying exactly the SPIs
# the handshake announced and ipopctl reports, and — with key_export on —
# `ipopctl sas --export` lets tshark decrypt that ESP with good ICVs; with
# key_export off the export is refused.
. "$(dirname "$0")/lib.sh"
harness_init
need_cmd tcpdump tshark

PORT=5800
make_wan
make_site a 1 10.0.3.1
make_site b 2 10.0.3.2
make_container a a1 10.0.3.11/24 fd00:3::11/64
make_container b b1 10.0.3.21/24 fd00:3::21/64

# a exports its keys (for tshark), b does not (the refusal is checked on b).
write_keyed_config "$T/a.json" site=a mode=switch net=10.0.3 hostoff=100 tap=ipopA \
	bridge=lxcbr0 port=$PORT peers=b key_export=true
write_keyed_config "$T/b.json" site=b mode=switch net=10.0.3 hostoff=100 tap=ipopB \
	bridge=lxcbr0 port=$PORT peers=a key_export=false
if grep -q '"sa_in"\|"sa_out"' "$T/a.json" "$T/b.json"; then
	fail "harness: keyed configs carry SAs"
fi
pub_a=$(node_pubkey a)
pub_b=$(node_pubkey b)

# Key files: created by --show-pubkey, private to root.
for s in a b; do
	kf="$(kstate_dir $s)/node.key"
	[ -f "$kf" ] || fail "no identity file $kf"
	assert_eq "$(stat -c %a "$kf")" 600 "mode of $kf"
done
ok "node.key files exist with mode 0600"

# The capture starts before the daemons: it must see the first handshake.
start_capture wan br0 "$T/wan.pcap" udp port $PORT
cap=$CAP_PID
start_ipopd a "$T/a.json"
start_ipopd b "$T/b.json"
sock_a=$(config_sock "$T/a.json")
sock_b=$(config_sock "$T/b.json")

assert_eq "$(ctl "$sock_a" key)" "$pub_a" "ipopctl key (a) vs ipopd --show-pubkey"
assert_eq "$(ctl "$sock_b" key)" "$pub_b" "ipopctl key (b) vs ipopd --show-pubkey"
# Starting the daemon must not have replaced the key.
assert_eq "$("$IPOPD" -c "$T/a.json" --show-pubkey)" "$pub_a" "ipopd --show-pubkey after start"
ok "ipopctl key = ipopd --show-pubkey on both sites"

t0=$SECONDS
wait_link_up 15 "$sock_a" b
wait_link_up 15 "$sock_b" a
ok "links up from public keys alone after $((SECONDS - t0)) s"

mtu=$(ctl_get "$sock_a" status 'd["mtu"]')
set_container_mtu a "$mtu"
set_container_mtu b "$mtu"
ping_ok a1 10.0.3.21
ping_ok b1 10.0.3.11
ping_ok a1 fd00:3::21
ping_ok b1 fd00:3::11
nsx a1 ping -c 10 -i 0.1 -W 2 -p deadbeef -s 200 10.0.3.21 >"$T/ping.txt" 2>&1 ||
	fail "ping -p deadbeef failed: $(cat "$T/ping.txt")"

# links --json, both sides: up, noise keying, SPIs with the top bit, mirrored.
ctl "$sock_a" links --json >"$T/links-a.json"
ctl "$sock_b" links --json >"$T/links-b.json"
ctl "$sock_a" links >"$T/links-a.txt" || fail "ipopctl links (table) failed"
$PY - "$T/links-a.json" "$T/links-b.json" <<-'EOF' || fail "links --json check (above)"
	import json, sys
	def one(path, peer):
	    d = json.load(open(path))
	    ls = [l for l in d["links"] if l["name"] == peer]
	    if len(ls) != 1:
	        sys.exit("%s: %d links named %s" % (path, len(ls), peer))
	    l = ls[0]
	    for k in ("name", "state", "endpoint", "spi_in", "spi_out", "key_age_s",
	              "last_handshake_s", "packets_since_handshake", "handshakes", "rekeys"):
	        if k not in l:
	            sys.exit("%s: link %s lacks %s: %s" % (path, peer, k, l))
	    if l["state"] != "up" or l.get("keying") != "noise":
	        sys.exit("%s: link %s: state %s keying %s" % (path, peer, l["state"], l.get("keying")))
	    for k in ("spi_in", "spi_out"):
	        if not (int(l[k], 16) & 0x80000000):
	            sys.exit("%s: %s %s without the top bit" % (path, k, l[k]))
	    if l["handshakes"] < 1:
	        sys.exit("%s: handshakes %s" % (path, l["handshakes"]))
	    return l
	a, b = one(sys.argv[1], "b"), one(sys.argv[2], "a")
	if int(a["spi_out"], 16) != int(b["spi_in"], 16) or int(a["spi_in"], 16) != int(b["spi_out"], 16):
	    sys.exit("SPIs do not mirror: a %s/%s b %s/%s" % (a["spi_in"], a["spi_out"], b["spi_in"], b["spi_out"]))
	print("a: spi_in %s spi_out %s handshakes %d; b: handshakes %d" %
	      (a["spi_in"], a["spi_out"], a["handshakes"], b["handshakes"]))
EOF
spi_in=$(link_get "$sock_a" b spi_in)
spi_out=$(link_get "$sock_a" b spi_out)
ok "ipopctl links: up, noise, SPIs $spi_in/$spi_out mirrored on b"

hc=$(hs_get "$sock_a" completed)
assert_gt "$hc" 0 "a: stats handshake.completed"
for k in mac1_fail unknown_key decrypt_fail; do
	assert_eq "$(hs_get "$sock_a" $k)" 0 "a: stats handshake.$k"
	assert_eq "$(hs_get "$sock_b" $k)" 0 "b: stats handshake.$k"
done
assert_eq "$(drop_get "$sock_b" auth)" 0 "b: drops.auth"
ok "stats: handshake.completed=$hc, no mac1/key/decrypt failures, no auth drops"

# Key export: refused on b (key_export false), allowed on a.
if out=$(ctl "$sock_b" sas --export 2>&1); then
	fail "b exported keys although key_export is false: $out"
fi
assert_contains "$out" "key export is disabled" "b: sas --export refusal"
ok "b refuses sas --export: $out"
ctl "$sock_a" sas --export >"$T/export.txt" || fail "a: sas --export failed: $(cat "$T/export.txt")"
stop_capture "$cap"

# The wire: handshake behind the non-ESP marker, then ESP with the announced SPIs.
pcap_udp "$T/wan.pcap" >"$T/wan.txt"
$PY - "$T/wan.txt" "$spi_in" "$spi_out" <<-'EOF' || fail "wire check (above)"
	import sys
	announced, first_init, first_resp, first_esp, esp = set(), None, None, None, {}
	for i, line in enumerate(open(sys.argv[1])):
	    t, src, sport, dst, dport, p = line.split()
	    if p == "-":
	        continue
	    b = bytes.fromhex(p)
	    if b[:4] == b"\0\0\0\0":
	        if len(b) < 16:
	            sys.exit("short non-ESP-marker datagram: %s" % p)
	        if b[4] == 1:
	            if len(b) != 164 or b[8:12] != b"\0\0\0\0":
	                sys.exit("bad initiation (%d bytes): %s" % (len(b), p[:64]))
	            first_init = i if first_init is None else first_init
	        elif b[4] == 2:
	            if len(b) != 104:
	                sys.exit("bad response (%d bytes)" % len(b))
	            first_resp = i if first_resp is None else first_resp
	        if b[4] in (1, 2):
	            announced.add(int.from_bytes(b[12:16], "big"))
	        continue
	    spi = int.from_bytes(b[:4], "big")
	    first_esp = i if first_esp is None else first_esp
	    esp[spi] = esp.get(spi, 0) + 1
	if first_init is None or first_resp is None:
	    sys.exit("no initiation/response in the capture")
	if not (first_init < first_resp < first_esp):
	    sys.exit("order: initiation #%s, response #%s, first ESP #%s" % (first_init, first_resp, first_esp))
	want = {int(sys.argv[2], 16), int(sys.argv[3], 16)}
	if not want <= set(esp):
	    sys.exit("ESP SPIs on the wire %s lack the reported %s" % (sorted(map(hex, esp)), sorted(map(hex, want))))
	if not set(esp) <= announced:
	    sys.exit("ESP with SPIs never announced in a handshake: %s" % sorted(map(hex, set(esp) - announced)))
	print("initiation #%d, response #%d, first ESP #%d; ESP per SPI: %s" % (first_init, first_resp, first_esp,
	      ", ".join("0x%08x: %d" % kv for kv in sorted(esp.items()))))
EOF
ok "WAN: initiation (00000000 01), response (00000000 02), then ESP with the SPIs ipopctl reports"

# tshark decrypts the captured ESP with the exported SAs.
n=$(wc -l <"$T/export.txt")
assert_gt "$n" 1 "lines of sas --export (inbound + outbound)"
uat=()
while IFS= read -r line; do
	assert_contains "$line" '^"IPv4","\*","\*","0x[0-9a-f]{8}","AES-GCM with 16 octet ICV \[RFC4106\]","0x[0-9a-f]{72}","NULL",""$' \
		"sas --export line format"
	uat+=(-o "uat:esp_sa:$line")
done <"$T/export.txt"
grep -qi "\"$spi_in\"" "$T/export.txt" || fail "sas --export lacks spi_in $spi_in: $(cut -c1-40 "$T/export.txt")"
grep -qi "\"$spi_out\"" "$T/export.txt" || fail "sas --export lacks spi_out $spi_out"
tshark -n -r "$T/wan.pcap" -d "udp.port==$PORT,udpencap" -o esp.enable_encryption_decode:TRUE \
	-o esp.enable_authentication_check:TRUE "${uat[@]}" -Y esp \
	-T fields -e esp.spi -e esp.icv_good -e esp.icv_bad -e icmp.type -e data.data >"$T/dec.txt" 2>"$T/dec.err" ||
	fail "tshark failed: $(head -c 400 "$T/dec.err")"
awk -F'\t' -v si="$spi_in" -v so="$spi_out" '
	tolower($1) != tolower(si) && tolower($1) != tolower(so) { next }
	{ n++ }
	$2 != 1 || $3 == 1 { bad++ }
	$4 == 8 && $5 ~ /deadbeefdeadbeef/ { req++ }
	$4 == 0 && $5 ~ /deadbeefdeadbeef/ { rep++ }
	END { printf "%d ESP packets, %d bad ICV, %d echo requests and %d replies with the pattern\n", n, bad, req, rep
	      exit (n > 0 && bad == 0 && req >= 10 && rep >= 10) ? 0 : 1 }' "$T/dec.txt" ||
	fail "tshark decryption with the exported keys: $(head -n 3 "$T/dec.txt")"
ok "tshark decrypts the captured ESP with the exported SAs, ICVs good"
exit 0
