#!/usr/bin/env bash
# The wire carries standard ESP-in-UDP and nothing in clear: capture the WAN
# while `ping -p deadbeef` crosses the overlay; the pcap holds ESP with
# receiver-chosen SPIs (top bit set) and increasing sequence numbers, and not
# one "deadbeef" byte sequence. Then an independent implementation (tshark,
# given the configured keys) decrypts the ESP, verifies the ICV and finds the
# ICMP echoes with the pattern.
. "$(dirname "$0")/lib.sh"
harness_init
need_cmd tcpdump tshark

PORT=5800
make_wan
make_site a 1
make_site b 2
write_config "$T/a.json" site=a tap=ipopA port=$PORT peers=b
write_config "$T/b.json" site=b tap=ipopB port=$PORT peers=a
start_ipopd a "$T/a.json"
start_ipopd b "$T/b.json"
ping_ok a 10.254.0.2 # links up before the capture starts

# capture IFACE NS PCAP: starts tcpdump, waits until it listens.
capture()
{
	spawn nsx "$1" tcpdump -i "$2" --immediate-mode -U -n -w "$3" >"$3.txt" 2>&1
	CAP_PID=$SPAWN_PID
	wait_for 5 grep -q "listening on" "$3.txt" || fail "tcpdump on $2 did not start: $(cat "$3.txt")"
}
capture wan br0 "$T/wan.pcap"
wan_pid=$CAP_PID
capture a ipopA "$T/tap.pcap" # the clear side, as a control that the pattern is there
tap_pid=$CAP_PID

nsx a ping -c 10 -i 0.1 -W 2 -p deadbeef -s 200 10.254.0.2 >"$T/ping.txt" 2>&1 ||
	fail "ping -p deadbeef failed: $(cat "$T/ping.txt")"
sleep 1 # let the last replies reach the capture
kill -INT "$wan_pid" "$tap_pid"
wait "$wan_pid" "$tap_pid" || true

has_pattern() { $PY -c 'import sys; sys.exit(0 if b"\xde\xad\xbe\xef" in open(sys.argv[1], "rb").read() else 1)' "$1"; }
has_pattern "$T/tap.pcap" || fail "control capture on the TAP does not show the pattern: the check below would prove nothing"
has_pattern "$T/wan.pcap" && fail "the WAN capture contains the bytes de ad be ef: traffic leaks in clear"
ok "no 'deadbeef' on the wire (but on the TAP)"

tsh() { tshark -n -r "$T/wan.pcap" -d "udp.port==$PORT,udpencap" "$@" 2>/dev/null; }
tsh -Y esp -T fields -e esp.spi -e esp.sequence >"$T/esp.txt"
n=$(wc -l <"$T/esp.txt")
assert_gt "$n" 19 "ESP packets in the WAN capture (10 echoes + 10 replies)"
spi_ab=$(spi_for a b)
spi_ba=$(spi_for b a)
$PY - "$T/esp.txt" "$spi_ab" "$spi_ba" <<-'EOF' || fail "ESP SPI/sequence check (see above)"
	import sys
	seen = {}
	for line in open(sys.argv[1]):
	    spi, seq = line.split()
	    spi, seq = int(spi, 16), int(seq)
	    if spi < 0x80000000:
	        sys.exit("SPI 0x%08x without the top bit" % spi)
	    if spi in seen and seq <= seen[spi]:
	        sys.exit("SPI 0x%08x: sequence %d after %d" % (spi, seq, seen[spi]))
	    seen[spi] = seq
	want = {int(sys.argv[2], 16), int(sys.argv[3], 16)}
	if set(seen) != want:
	    sys.exit("SPIs on the wire %s, configured %s" % (sorted(map(hex, seen)), sorted(map(hex, want))))
	print("SPIs", ", ".join("0x%08x (last seq %d)" % (s, q) for s, q in seen.items()))
EOF
ok "ESP-in-UDP on port $PORT, SPIs with the top bit set, sequence numbers increasing"

# decrypt SPI KEY ICMP_TYPE: every packet of that SA decrypts with a good ICV
# and the ICMP messages of ICMP_TYPE carry the pattern.
decrypt()
{
	local spi=$1 key=$2 type=$3 out
	out=$(tsh -o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE \
		-o "uat:esp_sa:\"IPv4\",\"*\",\"*\",\"$spi\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x$key\",\"NULL\",\"\"" \
		-Y "esp.spi == $spi" -T fields -e esp.icv_good -e esp.icv_bad -e icmp.type -e data.data)
	[ -n "$out" ] || fail "tshark found no ESP with SPI $spi"
	awk -F'\t' -v t="$type" '
		$1 != 1 || $2 == 1 { bad++ }
		$3 == t && $4 ~ /deadbeefdeadbeef/ { hit++ }
		END { printf "%d packets, %d bad ICV, %d ICMP type %s with the pattern\n", NR, bad, hit, t
		      exit (bad == 0 && hit >= 10) ? 0 : 1 }' <<<"$out" ||
		fail "decryption of SPI $spi: $(head -n 3 <<<"$out")"
}
decrypt "$spi_ab" "$(link_key a b $PORT)" 8
decrypt "$spi_ba" "$(link_key b a $PORT)" 0
ok "tshark decrypts both SAs with the configured keys, ICV good, echoes carry deadbeef"

# With a wrong key tshark must not find one good ICV: the check above can fail.
wrongk=$(tsh -o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE \
	-o "uat:esp_sa:\"IPv4\",\"*\",\"*\",\"$spi_ab\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x$(gen_key)\",\"NULL\",\"\"" \
	-Y "esp.spi == $spi_ab" -T fields -e esp.icv_good -e esp.icv_bad)
assert_eq "$(grep -c '^1' <<<"$wrongk" || true)" 0 "packets with a good ICV under a wrong key"
assert_gt "$(grep -cP '^0\t1' <<<"$wrongk" || true)" 0 "packets with a bad ICV under a wrong key"
ok "a wrong key gives no good ICV in tshark"
exit 0
