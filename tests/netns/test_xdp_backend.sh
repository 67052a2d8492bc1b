#!/usr/bin/env bash
# The af_xdp backend on the wire (docs/af_xdp.md): two sites with keyed
# links, site a on "backend": "af_xdp" (its eth0 carries ipopd's XDP program
# and one AF_XDP socket). XDP_PAIR=kernel (default): site b on the kernel
# backend, switch mode, containers behind both gateways — the two backends
# interoperate on the wire. XDP_PAIR=af_xdp: b on af_xdp too, L3 mode,
# gateway to gateway over the overlay addresses (test xdp_backend_l3).
#
# Checked: the link comes up from public keys (handshakes leave and arrive
# through the AF_XDP socket); containers ping over IPv4 and IPv6; a TCP
# transfer each way arrives whole (SHA-256); tshark decrypts the captured
# ESP with a's exported SAs, ICVs good; `ipopctl status` on a shows the
# backend, its ports, the XDP mode and counters (frames steered into the
# socket and sent from it, a resolved next hop) and cycles per packet;
# the next hop follows the network: b's MAC changes and a's neighbour
# entry is flushed, and traffic goes on through the socket with the new
# MAC after the kernel resolved it again; once a stops, nothing is attached
# to its eth0.
. "$(dirname "$0")/lib.sh"
harness_init
need_cmd tcpdump tshark sha256sum
[ -n "${XDP_OBJ:-}" ] && export IPOPD_XDP_OBJECT=$XDP_OBJ

PORT=5800
XFER="$(dirname "$0")/xfer.py"
XDP='"backend": "af_xdp", "underlay_interface": "eth0"'
PAIR=${XDP_PAIR:-kernel}
make_wan
make_site a 1 10.0.3.1
make_site b 2 10.0.3.2
if [ "$PAIR" = kernel ]; then
	make_container a a1 10.0.3.11/24 fd00:3::11/64
	make_container b b1 10.0.3.21/24 fd00:3::21/64
	write_keyed_config "$T/a.json" site=a mode=switch net=10.0.3 hostoff=100 tap=bkA \
		bridge=lxcbr0 port=$PORT peers=b key_export=true extra="$XDP"
	write_keyed_config "$T/b.json" site=b mode=switch net=10.0.3 hostoff=100 tap=bkB \
		bridge=lxcbr0 port=$PORT peers=a
	A=a1 B=b1 A4=10.0.3.11 B4=10.0.3.21 A6=fd00:3::11 B6=fd00:3::21
else
	write_keyed_config "$T/a.json" site=a tap=bkA port=$PORT peers=b key_export=true extra="$XDP"
	write_keyed_config "$T/b.json" site=b tap=bkB port=$PORT peers=a extra="$XDP"
	A=a B=b A4=10.254.0.1 B4=10.254.0.2 A6="" B6=""
fi

start_capture wan br0 "$T/wan.pcap" udp port $PORT
cap=$CAP_PID
start_ipopd a "$T/a.json"
pid_a=$IPOPD_PID
start_ipopd b "$T/b.json"
sock_a=$(config_sock "$T/a.json")
sock_b=$(config_sock "$T/b.json")
grep -q "af_xdp: eth0, XDP native mode, 1 queue, copy" "$T"/ipopd-a-*.log ||
	fail "a did not log its af_xdp setup: $(grep af_xdp "$T"/ipopd-a-*.log)"
nsx a ip link show dev eth0 | grep -q "prog/xdp" || fail "no XDP program on a's eth0"
wait_link_up 15 "$sock_a" b
wait_link_up 15 "$sock_b" a
ok "af_xdp site a and $PAIR site b: link up from public keys"

if [ "$PAIR" = kernel ]; then
	mtu=$(ctl_get "$sock_a" status 'd["mtu"]')
	set_container_mtu a "$mtu"
	set_container_mtu b "$mtu"
else
	A6=$(ctl_get "$sock_a" status 'd["ip6"]')
	B6=$(ctl_get "$sock_b" status 'd["ip6"]')
fi
ping_ok $A $B4
ping_ok $B $A4
ping_ok $A "$B6"
ping_ok $B "$A6"
nsx $A ping -c 10 -i 0.1 -W 2 -p deadbeef -s 200 $B4 >"$T/ping.txt" 2>&1 ||
	fail "ping -p deadbeef failed: $(cat "$T/ping.txt")"
ok "ping across over IPv4 and IPv6 ($A <-> $B)"

# transfer FROM TO ADDR: 8 MiB over TCP, bytes and SHA-256 compared.
head -c $((8 << 20)) /dev/urandom >"$T/blob"
want="$(stat -c %s "$T/blob") $(sha256sum "$T/blob" | cut -d' ' -f1)"
transfer()
{
	rm -f "$T/recv.out"
	spawn nsx "$2" "$PY" "$XFER" tcp-recv "$3" 7000 >"$T/recv.out" 2>&1
	local rpid=$SPAWN_PID
	wait_for 5 grep -q listening "$T/recv.out" || fail "tcp-recv on $2: $(cat "$T/recv.out")"
	nsx "$1" "$PY" "$XFER" tcp-send "$3" 7000 "$T/blob" || fail "tcp-send $1 -> $3 failed"
	wait "$rpid" || fail "tcp-recv on $2 failed: $(cat "$T/recv.out")"
	assert_eq "$(tail -n 1 "$T/recv.out")" "$want" "bytes and SHA-256 received on $2"
}
transfer $A $B $B4
transfer $B $A $A4
ok "8 MiB over TCP each way, SHA-256 equal"

# Status: backend, ports, mode, counters, cycles per packet.
ctl "$sock_a" status >"$T/status.txt" || fail "ipopctl status failed"
for want_line in "backend: af_xdp" "backend mode: XDP native, copy" "^eth0 +af_xdp +1 " \
	"^bkA +tap +1 " "^udp/$PORT +udp +1 " "^WORKER +PACKETS +CYCLES/PACKET" "^0 +[0-9]+ +[0-9]+$"; do
	grep -Eq "$want_line" "$T/status.txt" || fail "ipopctl status lacks /$want_line/: $(cat "$T/status.txt")"
done
ctl "$sock_b" status >"$T/status.txt"
for want_line in "backend: $PAIR" "^(eth0 +af_xdp|udp/$PORT +udp) +1 "; do
	grep -Eq "$want_line" "$T/status.txt" || fail "ipopctl status lacks /$want_line/: $(cat "$T/status.txt")"
done
ctl "$sock_a" status --json >"$T/status.json"
$PY - "$T/status.json" <<-'EOF' || fail "status --json check (above)"
	import json, sys
	b = json.load(open(sys.argv[1]))["backend_status"]
	assert b["name"] == "af_xdp", b
	x = next(p for p in b["ports"] if p["kind"] == "af_xdp")["counters"]
	for k in ("rx_frames", "tx_frames", "xdp_steered", "nexthops_ok"):
	    if x[k] < 1:
	        sys.exit("af_xdp counter %s is %s: %s" % (k, x[k], x))
	if x["rx_frames"] < 5000 or x["tx_frames"] < 5000:
	    sys.exit("the transfers did not cross the AF_XDP socket: %s" % x)
	for k in ("rx_bad", "rx_dropped", "tx_ring_full", "tx_invalid", "xdp_no_socket"):
	    if x[k] != 0:
	        sys.exit("af_xdp counter %s is %s" % (k, x[k]))
	w = b["workers"][0]
	if not w["cycles_per_packet"] or w["cycles_per_packet"] <= 0:
	    sys.exit("no cycles per packet: %s" % w)
	print("rx_frames %d tx_frames %d steered %d; worker 0: %d packets, %d cycles/packet" %
	      (x["rx_frames"], x["tx_frames"], x["xdp_steered"], w["packets"], w["cycles_per_packet"]))
EOF
ok "ipopctl status: af_xdp port with frames both ways, next hop resolved, cycles per packet"

ctl "$sock_a" sas --export >"$T/export.txt" || fail "a: sas --export failed"
stop_capture "$cap"
uat=()
while IFS= read -r line; do uat+=(-o "uat:esp_sa:$line"); done <"$T/export.txt"
tshark -n -r "$T/wan.pcap" -d "udp.port==$PORT,udpencap" -o esp.enable_encryption_decode:TRUE \
	-o esp.enable_authentication_check:TRUE "${uat[@]}" -Y esp \
	-T fields -e esp.icv_good -e esp.icv_bad -e icmp.type -e data.data >"$T/dec.txt" 2>"$T/dec.err" ||
	fail "tshark failed: $(head -c 400 "$T/dec.err")"
awk -F'\t' '
	{ n++ }
	$1 != 1 || $2 == 1 { bad++ }
	$3 == 8 && $4 ~ /deadbeefdeadbeef/ { req++ }
	$3 == 0 && $4 ~ /deadbeefdeadbeef/ { rep++ }
	END { printf "%d ESP packets, %d bad ICV, %d echo requests and %d replies with the pattern\n", n, bad, req, rep
	      exit (n > 1000 && bad == 0 && req >= 10 && rep >= 10) ? 0 : 1 }' "$T/dec.txt" ||
	fail "tshark decryption with a's exported SAs: $(head -n 3 "$T/dec.txt")"
ok "tshark decrypts the ESP a sent through AF_XDP (and b's answers), ICVs good"

# The next hop follows the network: b's MAC changes, a's neighbour entry goes.
frames() { ctl_get "$sock_a" status "next(p for p in d['backend_status']['ports'] if p['kind']=='af_xdp')['counters']['$1']"; }
tx0=$(frames tx_frames)
nsx b ip link set dev eth0 address 02:00:00:bc:00:02
nsx a ip neigh flush dev eth0
ping_ok $A $B4
nsx $A ping -c 20 -i 0.05 -W 2 $B4 >"$T/ping2.txt" 2>&1 || fail "ping after the MAC change: $(cat "$T/ping2.txt")"
tx1=$(frames tx_frames)
assert_gt "$((tx1 - tx0))" 19 "frames sent through AF_XDP after the MAC change"
nsx a ip neigh show dev eth0 | grep -q "02:00:00:bc:00:02" || fail "a's kernel did not resolve b's new MAC"
if [ "$PAIR" != kernel ]; then # b's frames carry its new MAC as their source
	wait_for 3 sh -c "$IPOPCTL -s $sock_b status --json | grep -q '\"nexthops_ok\": *[1-9]'" || true
	start_capture wan w-b "$T/b-out.pcap" udp port $PORT
	nsx $A ping -c 5 -i 0.1 -W 2 $B4 >/dev/null 2>&1 || fail "ping while capturing b's frames"
	stop_capture "$CAP_PID"
	tshark -r "$T/b-out.pcap" -T fields -e eth.src -Y "ip.src == 198.18.0.2" >"$T/src.txt" 2>/dev/null
	[ -s "$T/src.txt" ] || fail "no frames from b captured on the WAN"
	if grep -qv 02:00:00:bc:00:02 "$T/src.txt"; then
		fail "b sent frames with an old source MAC: $(sort -u "$T/src.txt" | tr '\n' ' ')"
	fi
fi
ok "b's new MAC resolved, $((tx1 - tx0)) frames through AF_XDP after the change"

stop_ipopd "$pid_a"
if nsx a ip link show dev eth0 | grep -q "xdp"; then
	fail "XDP program still attached after ipopd stopped: $(nsx a ip link show dev eth0)"
fi
ok "a stopped: nothing attached to eth0"
exit 0
