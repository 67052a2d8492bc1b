#!/usr/bin/env bash
# Offloads end to end (docs/offloads.md): a file of OFFLOAD_MB (default 256)
# MB crosses by TCP in L3 mode (gateway to gateway: the TAP hands ipopd TSO
# super-frames) and in switch mode (container to container through lxcbr0)
# with every offload on, and its SHA-256 matches; the counters prove the
# offloads ran (super-frames in on the sender, coalesced super-frames out and
# UDP GRO reads on the receiver, UDP_SEGMENT sends). UDP super-frames (USO)
# from a UDP_SEGMENT sender arrive intact. Then each offload is turned off in
# the config in turn: status says so with the reason, its counter stays at 0,
# and a smaller file still crosses intact. tshark decrypts every ESP packet of
# a captured transfer with no ICV error.
. "$(dirname "$0")/lib.sh"
harness_init
need_cmd tcpdump tshark sha256sum ethtool

PORT=5800
XFER="$(dirname "$0")/xfer.py"
MB=${OFFLOAD_MB:-256}
SMALL_MB=$((MB / 4))

make_wan
make_site a 1
make_site b 2
make_container a a1 10.0.3.11/24
make_container b b1 10.0.3.21/24
# UDP GSO runs cross the veths whole (lib.sh turns that off so captures see
# datagrams): the receiver's UDP_GRO socket then gets them as one buffer, as
# from a NIC doing GRO. The capture below turns it off again.
wire_gso() { for s in a b; do nsx "$s" ethtool -K eth0 tx-udp-segmentation "$1" >/dev/null; done; }
wire_gso on

head -c "${MB}M" /dev/urandom >"$T/big"
head -c "${SMALL_MB}M" "$T/big" >"$T/small"
head -c 2M "$T/big" >"$T/tiny"

stat_get() { ctl_get "$1" stats "d['total']['$2']"; }

# transfer FROM_NS TO_NS TO_ADDR FILE: TCP, then compares SHA-256; sets XFER_GBPS.
transfer()
{
	local from=$1 to=$2 addr=$3 file=$4 want t0 t1
	want=$(sha256sum "$file" | cut -d' ' -f1)
	rm -f "$T/recv.out"
	spawn nsx "$to" "$PY" "$XFER" tcp-recv "$addr" 7000 >"$T/recv.out" 2>&1
	local rpid=$SPAWN_PID
	wait_for 5 grep -q listening "$T/recv.out" || fail "tcp-recv on $to: $(cat "$T/recv.out")"
	t0=$(date +%s.%N)
	nsx "$from" "$PY" "$XFER" tcp-send "$addr" 7000 "$file" || fail "tcp-send $from -> $addr failed"
	wait "$rpid" || fail "tcp-recv on $to failed: $(cat "$T/recv.out")"
	t1=$(date +%s.%N)
	assert_eq "$(tail -n 1 "$T/recv.out")" "$(stat -c %s "$file") $want" \
		"bytes and SHA-256 received on $to"
	XFER_GBPS=$(awk -v b="$(stat -c %s "$file")" -v a="$t0" -v z="$t1" \
		'BEGIN { printf "%.2f", b * 8 / (z - a) / 1e9 }')
}

# start_pair MODE EXTRA: both gateways with EXTRA config keys; waits for a ping.
start_pair()
{
	local mode=$1 extra=$2 args=()
	[ "$mode" = switch ] && args=(net=10.0.3 hostoff=100 bridge=lxcbr0)
	write_config "$T/a.json" site=a mode="$mode" tap=ipopA peers=b port=$PORT "${args[@]}" \
		${extra:+extra="$extra"}
	write_config "$T/b.json" site=b mode="$mode" tap=ipopB peers=a port=$PORT "${args[@]}" \
		${extra:+extra="$extra"}
	start_ipopd a "$T/a.json"
	PID_A=$IPOPD_PID
	start_ipopd b "$T/b.json"
	PID_B=$IPOPD_PID
	SOCK_A=$(config_sock "$T/a.json")
	SOCK_B=$(config_sock "$T/b.json")
	if [ "$mode" = switch ]; then
		local mtu
		mtu=$(ctl_get "$SOCK_A" status 'd["mtu"]')
		set_container_mtu a "$mtu"
		set_container_mtu b "$mtu"
		ping_ok a1 10.0.3.21
	else
		ping_ok a 10.254.0.2
	fi
}

stop_pair()
{
	stop_ipopd "$PID_A"
	stop_ipopd "$PID_B"
}

offload_state() { ctl_get "$1" status "d['offloads']['$2']"; }

no_bad_drops()
{
	local s d
	for s in "$SOCK_A" "$SOCK_B"; do
		for d in auth bad_vnet_hdr too_big short bad_trailer; do
			assert_eq "$(drop_get "$s" $d)" 0 "drops.$d ($1)"
		done
	done
}

# ---- L3, every offload on -------------------------------------------------
start_pair l3 ""
for o in tso uso gro udp_gso udp_gro; do
	assert_eq "$(offload_state "$SOCK_A" $o)" on "status.offloads.$o"
done
ok "status: offloads tso, uso, gro, udp_gso, udp_gro on"

transfer a b 10.254.0.2 "$T/big"
ok "L3: $MB MB a -> b by TCP, SHA-256 matches ($XFER_GBPS Gbit/s)"
transfer b a 10.254.0.1 "$T/small"
ok "L3: $SMALL_MB MB b -> a by TCP, SHA-256 matches ($XFER_GBPS Gbit/s)"
sf=$(stat_get "$SOCK_A" tap_superframes_in)
seg=$(stat_get "$SOCK_A" tap_segments_in)
gso=$(stat_get "$SOCK_A" udp_gso_sends)
gro=$(stat_get "$SOCK_B" tap_superframes_out)
co=$(stat_get "$SOCK_B" tap_coalesced)
ugro=$(stat_get "$SOCK_B" udp_gro_reads)
assert_gt "$sf" 0 "a: tap_superframes_in"
assert_gt "$gso" 0 "a: udp_gso_sends"
assert_gt "$gro" 0 "b: tap_superframes_out"
assert_gt "$ugro" 0 "b: udp_gro_reads"
no_bad_drops "L3"
ok "counters: a cut $sf super-frames into $seg segments, sent $gso UDP_SEGMENT runs;" \
	"b wrote $gro super-frames of $co packets, read $ugro UDP GRO buffers"

# USO: a UDP_SEGMENT sender on a hands the TAP UDP super-frames; b writes
# the datagrams to its TAP coalesced again (UDP_L4 super-frames, #9).
before=$(stat_get "$SOCK_A" tap_superframes_in)
before_out=$(stat_get "$SOCK_B" tap_superframes_out)
spawn nsx b "$PY" "$XFER" udp-recv 10.254.0.2 7001 2048 20 >"$T/udp.out" 2>&1
upid=$SPAWN_PID
wait_for 5 grep -q listening "$T/udp.out" || fail "udp-recv: $(cat "$T/udp.out")"
nsx a "$PY" "$XFER" udp-send 10.254.0.2 7001 2048 1200 || fail "udp-send failed"
wait "$upid" || true
read -r good bad < <(tail -n 1 "$T/udp.out")
assert_eq "$bad" 0 "corrupt UDP datagrams"
assert_gt "$good" 1945 "UDP datagrams received of 2048"
after=$(stat_get "$SOCK_A" tap_superframes_in)
assert_gt "$((after - before))" 0 "a: UDP super-frames (USO) from the TAP"
after_out=$(stat_get "$SOCK_B" tap_superframes_out)
assert_gt "$((after_out - before_out))" 0 "b: UDP super-frames (USO) to the TAP"
ok "USO: $good of 2048 datagrams intact, none corrupt, $((after - before)) super-frames cut," \
	"$((after_out - before_out)) written"

# The wire: tshark decrypts every ESP packet of a transfer.
wire_gso off
# 64 MiB of capture buffer: a loaded CI box must not lose packets.
spawn nsx wan tcpdump -i br0 -B 65536 --immediate-mode -U -n -s 0 -w "$T/wan.pcap" \
	udp port $PORT >"$T/wan.pcap.txt" 2>&1
cap=$SPAWN_PID
wait_for 5 grep -q "listening on" "$T/wan.pcap.txt" || fail "tcpdump: $(cat "$T/wan.pcap.txt")"

transfer a b 10.254.0.2 "$T/tiny"
stop_capture "$cap"
wire_gso on
uat=()
for pair in "a b" "b a"; do
	set -- $pair
	uat+=(-o "uat:esp_sa:\"IPv4\",\"*\",\"*\",\"$(spi_for "$1" "$2")\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x$(link_key "$1" "$2" $PORT)\",\"NULL\",\"\"")
done
tshark -n -r "$T/wan.pcap" -d "udp.port==$PORT,udpencap" -o esp.enable_encryption_decode:TRUE \
	-o esp.enable_authentication_check:TRUE "${uat[@]}" -T fields -e udp.length -e esp.spi \
	-e esp.icv_good -e esp.icv_bad -e tcp.len >"$T/dec.txt" 2>"$T/dec.err" ||
	fail "tshark failed: $(head -c 400 "$T/dec.err")"
awk -F'\t' '
	{ n++ }
	$2 == "" { noesp++ }
	$3 != 1 || $4 == 1 { bad++ }
	$5 > 0 { data += $5 }
	END { printf "%d datagrams, %d not ESP, %d without a good ICV, %d TCP payload bytes\n", n, noesp, bad, data
	      exit (n > 1000 && noesp == 0 && bad == 0 && data >= 2097152) ? 0 : 1 }' "$T/dec.txt" ||
	fail "tshark: $(awk -F'\t' '$3 != 1' "$T/dec.txt" | head -n 3)"
grep -q "^0 packets dropped by kernel" "$T/wan.pcap.txt" ||
	fail "tcpdump lost packets: $(tail -n 3 "$T/wan.pcap.txt")"
ok "tshark decrypts every ESP packet of a 2 MB transfer, no ICV error"
stop_pair

# ---- switch mode, every offload on -----------------------------------------
start_pair switch ""
transfer a1 b1 10.0.3.21 "$T/big"
ok "switch: $MB MB a1 -> b1 by TCP through lxcbr0, SHA-256 matches ($XFER_GBPS Gbit/s)"
sf=$(stat_get "$SOCK_A" tap_superframes_in)
gro=$(stat_get "$SOCK_B" tap_superframes_out)
assert_gt "$sf" 0 "switch a: tap_superframes_in"
assert_gt "$gro" 0 "switch b: tap_superframes_out"
no_bad_drops "switch"
ok "switch counters: $sf super-frames in on a, $gro out on b"
stop_pair

# ---- each offload off -------------------------------------------------------
declare -A counter=([tso]="a tap_superframes_in" [gro]="b tap_superframes_out"
	[udp_gso]="a udp_gso_sends" [udp_gro]="b udp_gro_reads")
for o in tso gro udp_gso udp_gro; do
	start_pair l3 "\"offload_$o\": false"
	assert_eq "$(offload_state "$SOCK_A" $o)" "off: disabled by offload_$o" "status.offloads.$o"
	transfer a b 10.254.0.2 "$T/small"
	read -r side name <<<"${counter[$o]}"
	[ "$side" = a ] && s=$SOCK_A || s=$SOCK_B
	assert_eq "$(stat_get "$s" "$name")" 0 "$name with offload_$o off"
	no_bad_drops "offload_$o off"
	ok "offload_$o off: status says why, $name 0, $SMALL_MB MB intact ($XFER_GBPS Gbit/s)"
	stop_pair
done

# ---- all off: the TAP without a virtio-net header, one datagram per message --
start_pair l3 '"offload_tso": false, "offload_uso": false, "offload_gro": false, "offload_udp_gso": false, "offload_udp_gro": false'
for o in tso uso gro udp_gso udp_gro; do
	assert_contains "$(offload_state "$SOCK_A" $o)" "^off: disabled by offload_" "status.offloads.$o"
done
transfer a b 10.254.0.2 "$T/small"
no_bad_drops "all off"
ok "every offload off: $SMALL_MB MB intact ($XFER_GBPS Gbit/s)"
stop_pair
exit 0
