#!/usr/bin/env bash
# Two sites, one on the kernel backend and one on the dpdk backend (docs/dpdk.md):
# site b's underlay is net_af_packet on its eth0 (no kernel address: ipopd owns
# 198.18.0.2 there, answers ARP and resolves site a by ARP itself) and its host
# side a net_tap. L3 mode: ping both ways, a TCP transfer checked with SHA-256,
# the wire decrypted by tshark with the configured keys; then switch mode with
# containers bridged on both sites; ipopctl status shows the ports.
. "$(dirname "$0")/lib.sh"
harness_init
need_cmd tshark tcpdump ethtool

PORT=5800
EAL='"--no-huge", "-m", "256", "--no-pci", "--no-telemetry"'

# dpdk_site NAME: the kernel keeps no address (and forwards nothing) on eth0:
# the port is ipopd's.
dpdk_site()
{
	ip -n "$(ns "$1")" addr flush dev eth0
	nsx "$1" sysctl -qw net.ipv4.conf.eth0.forwarding=0
}
dpdk_extra()
{
	printf '"backend": "dpdk", "dpdk": {"eal_args": [%s], "underlay_port": "net_af_packet0,iface=eth0", "underlay_address": "198.18.0.%s/24"%s}' \
		"$EAL" "${SITE_IDX[$1]}" "${2:-}"
}

make_wan
make_site a 1
make_site b 2
dpdk_site b

# ---- a bad setup: one line saying what to fix, nothing left behind ---------
# bad_start NAME EXTRA WANT: ipopd must exit non-zero at once, its last line
# matching WANT, and leave no TAP, vhost-user socket or EAL runtime directory.
bad_start()
{
	local name=$1 extra=$2 want=$3 rc=0 last
	write_config "$T/bad.json" site=b tap=dkbad port=$PORT peers=a extra="$extra"
	timeout 30 ip netns exec "$(ns b)" "$IPOPD" -c "$T/bad.json" >"$T/bad-$name.log" 2>&1 || rc=$?
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "bad setup ($name): ipopd exited with $rc"
	last=$(grep -v '^ \|^$' "$T/bad-$name.log" | tail -n 1)
	assert_contains "$last" "$want" "bad setup ($name): the error line"
	nsx b ip link show dkbad >/dev/null 2>&1 && fail "bad setup ($name): the TAP dkbad was left behind"
	[ -e /var/run/dpdk/ipopd-dkbad ] && fail "bad setup ($name): EAL's runtime directory was left behind"
	ok "bad setup ($name): $last"
}
bad_start unknown-vdev \
	"\"backend\": \"dpdk\", \"dpdk\": {\"eal_args\": [$EAL], \"underlay_port\": \"net_nosuch0\", \"underlay_address\": \"198.18.0.2/24\"}" \
	'dpdk: underlay port "net_nosuch0" cannot be created'
# The host side fails after the underlay and the TAP are up: both must go.
bad_start vhost-dir "$(dpdk_extra b ", \"host_port\": \"net_tap0,iface=dkbad\", \"vhost_ports\": [\"$T/bad.json/vm.sock\"]")" \
	"dpdk: vhost-user socket $T/bad.json/vm.sock: cannot create $T/bad.json: Not a directory"
bad_start eal-args "$(dpdk_extra b | sed 's/"--no-telemetry"/"--no-such-eal-option"/')" \
	'dpdk: EAL cannot start'
if [ "$(awk '/HugePages_Free/ { print $2 }' /proc/meminfo)" = 0 ]; then
	bad_start no-hugepages "$(dpdk_extra b | sed 's/"--no-huge", "-m", "256", //')" \
		'no free hugepages; reserve some'
fi
write_config "$T/a.json" site=a tap=ipopA port=$PORT peers=b
write_config "$T/b.json" site=b tap=ipopB port=$PORT peers=a extra="$(dpdk_extra b)"
start_ipopd a "$T/a.json"
PID_A=$IPOPD_PID
start_ipopd b "$T/b.json"
PID_B=$IPOPD_PID
SB=$(config_sock "$T/b.json")
SA=$(config_sock "$T/a.json")
ping_ok a 10.254.0.2
ping_ok b 10.254.0.1
ok "L3: ping both ways between the kernel and the dpdk site"

# ---- L3: TCP both ways with SHA-256, the wire decrypted -------------------
XFER="$(dirname "$0")/xfer.py"
head -c $((3 << 20)) /dev/urandom >"$T/big"
# transfer FROM TO ADDR FILE: TCP, then bytes and SHA-256 compared.
transfer()
{
	local from=$1 to=$2 addr=$3 file=$4 want
	want=$(sha256sum "$file" | cut -d' ' -f1)
	rm -f "$T/recv.out"
	spawn nsx "$to" "$PY" "$XFER" tcp-recv "$addr" 7000 >"$T/recv.out" 2>&1
	local rpid=$SPAWN_PID
	wait_for 5 grep -q listening "$T/recv.out" || fail "tcp-recv on $to: $(cat "$T/recv.out")"
	timeout 60 ip netns exec "$(ns "$from")" "$PY" "$XFER" tcp-send "$addr" 7000 "$file" ||
		fail "tcp-send $from -> $addr failed"
	wait "$rpid" || fail "tcp-recv on $to failed: $(cat "$T/recv.out")"
	assert_eq "$(tail -n 1 "$T/recv.out")" "$(stat -c %s "$file") $want" \
		"bytes and SHA-256 received on $to"
}
spawn nsx wan tcpdump -i br0 -B 32768 --immediate-mode -U -n -s 0 -w "$T/wan.pcap" \
	udp port $PORT >"$T/wan.pcap.txt" 2>&1
cap=$SPAWN_PID
wait_for 5 grep -q "listening on" "$T/wan.pcap.txt" || fail "tcpdump: $(cat "$T/wan.pcap.txt")"
transfer a b 10.254.0.2 "$T/big"
ok "L3: 3 MB kernel -> dpdk by TCP, SHA-256 matches"
transfer b a 10.254.0.1 "$T/big"
ok "L3: 3 MB dpdk -> kernel by TCP, SHA-256 matches"
stop_pid "$cap"
# A capture that lost packets (a loaded machine) cannot show every byte;
# every packet it has must still decrypt with a good ICV.
lost=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel.*/\1/p' "$T/wan.pcap.txt")
uat=()
for pair in "a b" "b a"; do
	set -- $pair
	uat+=(-o "uat:esp_sa:\"IPv4\",\"*\",\"*\",\"$(spi_for "$1" "$2")\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x$(link_key "$1" "$2" $PORT)\",\"NULL\",\"\"")
done
tshark -n -r "$T/wan.pcap" -d "udp.port==$PORT,udpencap" -o esp.enable_encryption_decode:TRUE \
	-o esp.enable_authentication_check:TRUE "${uat[@]}" -T fields -E occurrence=f -e ip.src -e esp.spi \
	-e esp.icv_good -e tcp.len >"$T/dec.txt" 2>"$T/dec.err" ||
	fail "tshark failed: $(head -c 400 "$T/dec.err")"
awk -F'\t' -v lost="${lost:-0}" '
	$2 == "" { noesp++ }
	$3 != 1 { bad++ }
	$1 == "198.18.0.2" && $4 > 0 { fromb += $4 }
	$1 == "198.18.0.1" && $4 > 0 { froma += $4 }
	END { printf "%d ESP datagrams, %d not ESP, %d without a good ICV, TCP payload %d bytes from a, %d from b\n", NR, noesp, bad, froma, fromb
	      want = lost > 0 ? 1 : 3145728
	      if (lost > 0) printf "capture lost %d packets: every byte not required\n", lost
	      exit (noesp == 0 && bad == 0 && froma >= want && fromb >= want) ? 0 : 1 }' "$T/dec.txt" ||
	fail "tshark: $(awk -F'\t' '$3 != 1' "$T/dec.txt" | head -n 3) (tcpdump: $(tail -n 2 "$T/wan.pcap.txt" | tr '\n' ' '))"
ok "tshark decrypts both directions with the configured keys, every ICV good"

# ---- status: backend, ports, queues, counters ------------------------------
st=$(ctl "$SB" status)
BS='d["backend_status"]'
assert_contains "$st" "^backend: dpdk" "status backend"
assert_contains "$st" "^backend mode: dpdk, 1 queue per port, mbufs zero-copy" "status: the backend's mode"
assert_contains "$st" "net_af_packet0 +ethdev +1 +198\\.18\\.0\\.2/24, net_af_packet, zero-copy +link_up=1 rx_packets=[1-9]" "status: the underlay port"
assert_contains "$st" "ipopB +tap +1 +host TAP, copy \\(kernel\\) +link_up=1" "status: the host port"
assert_contains "$st" "^0 +[0-9]+ +[0-9]+$" "status: worker 0's cycles per packet"
assert_gt "$(ctl_get "$SB" status "$BS[\"ports\"][0][\"counters\"][\"rx_packets\"]")" 2000 "underlay rx_packets"
assert_gt "$(ctl_get "$SB" status "$BS[\"ports\"][1][\"counters\"][\"tx_packets\"]")" 2000 "TAP tx_packets"
assert_gt "$(ctl_get "$SB" status "$BS[\"workers\"][0][\"cycles_per_packet\"]")" 0 "cycles_per_packet"
assert_gt "$(ctl_get "$SB" status "$BS[\"ports\"][0][\"counters\"][\"arp_requests_in\"]")" 0 "ARP requests for our address answered"
nsx a ping -c 2 -W 2 198.18.0.2 >/dev/null || fail "the dpdk site's underlay address does not answer ping"
ok "status shows the ports, queues and counters ($(ctl_get "$SB" status "$BS[\"workers\"][0][\"cycles_per_packet\"]") cycles/packet); ARP and ping answered"
ctl "$SB" status | grep -A8 "^backend mode"
stop_ipopd "$PID_B"
stop_ipopd "$PID_A"
nsx b ip link show ipopB >/dev/null 2>&1 && fail "the net_tap ipopB outlived ipopd"
[ -e /var/run/dpdk/ipopd-ipopB ] && fail "EAL's runtime directory /var/run/dpdk/ipopd-ipopB outlived ipopd"
ok "stopped cleanly: no TAP, no EAL runtime directory left"

# ---- switch mode: containers on both sites, one segment -------------------
ip -n "$(ns a)" addr change 10.0.3.1/24 dev lxcbr0 2>/dev/null || true
ip -n "$(ns b)" addr flush dev lxcbr0
ip -n "$(ns b)" addr add 10.0.3.2/24 dev lxcbr0
make_container a a1 10.0.3.11/24
make_container b b1 10.0.3.21/24
# Keyed links this time: the Noise handshakes leave from and arrive on the
# dpdk port like data, and rekey every 2 s during the transfers.
write_config "$T/as.json" site=a mode=switch net=10.0.3 hostoff=100 tap=ipopA bridge=lxcbr0 port=$PORT peers=b \
	keying=noise rekey=2
write_config "$T/bs.json" site=b mode=switch net=10.0.3 hostoff=100 tap=ipopB bridge=lxcbr0 port=$PORT peers=a \
	keying=noise rekey=2 extra="$(dpdk_extra b)"
start_ipopd a "$T/as.json"
start_ipopd b "$T/bs.json"
SBS=$(config_sock "$T/bs.json")
mtu=$(ctl_get "$SBS" status 'd["mtu"]')
assert_contains "$(nsx b ip -o link show ipopB)" "master lxcbr0" "ipopd enslaved its net_tap into lxcbr0"
set_container_mtu a "$mtu"
set_container_mtu b "$mtu"
ping_ok a1 10.0.3.21
ping_ok b1 10.0.3.11
ping_ok a1 10.0.3.21 -s $((mtu - 28)) -M "do"
transfer a1 b1 10.0.3.21 "$T/big"
ok "switch: 3 MB container a1 -> container b1 by TCP, SHA-256 matches"
transfer b1 a1 10.0.3.11 "$T/big"
ok "switch: 3 MB container b1 -> container a1 by TCP, SHA-256 matches"
assert_gt "$(ctl_get "$SBS" stats 'd["total"]["learn_events"]')" 0 "learn events on the dpdk site"
sleep 2.5
assert_gt "$(hs_get "$SBS" rekeys)" 0 "rekeys on the dpdk site"
ping_ok a1 10.0.3.21
ok "switch mode over keyed links: $(hs_get "$SBS" rekeys) rekeys on the dpdk site, traffic still flows"
exit 0
