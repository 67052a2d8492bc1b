#!/usr/bin/env bash
# Replays from an on-path attacker do nothing but bump counters.
#  1. ESP captured on the WAN during a ping and re-injected toward the receiver
#     from a third namespace on the WAN bridge (once from the attacker's own
#     address, once with the sender's address spoofed): the receiver's
#     drops.replay grows by exactly the number injected and not one echo
#     request reaches its IP stack.
#  2. Handshake initiations captured at start-up replayed seconds later to
#     their responder: handshake.stale_timestamp grows, no response goes out
#     to an initiation the responder had processed, the link's SPIs,
#     endpoints and handshake counts stay as they were, and a concurrent
#     `ping -i 0.05` over the link loses nothing. Including initiations an
#     on-path attacker withheld from the responder (never processed there):
#     the first copy may be answered (logged as WARN), nothing may change.
. "$(dirname "$0")/lib.sh"
harness_init
need_cmd tcpdump

PORT=5800
make_wan
make_site a 1
make_site b 2
# The attacker: a bare namespace on the WAN bridge, 198.18.0.9, which also
# sends from addresses it does not own (IP_TRANSPARENT sockets: spoofing).
new_ns x
ip -n "$(ns wan)" link add w-x type veth peer name eth0 netns "$(ns x)"
ip -n "$(ns wan)" link set w-x master br0 up
ip -n "$(ns x)" addr add 198.18.0.9/24 dev eth0
ip -n "$(ns x)" link set eth0 up

# inject SRC_IP DST_IP HEXFILE: sends each line of HEXFILE as one UDP datagram
# from SRC_IP (any port) to DST_IP:PORT, from the attacker's namespace.
inject()
{
	nsx x "$PY" - "$1" "$2" "$PORT" "$3" <<-'EOF'
		import socket, sys, time
		src, dst, port, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
		s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		if src != "198.18.0.9":
		    s.setsockopt(socket.SOL_IP, 19, 1)  # IP_TRANSPARENT: send from a foreign address
		s.bind((src, 0))
		n = 0
		for line in open(path):
		    line = line.strip()
		    if line:
		        s.sendto(bytes.fromhex(line), (dst, port))
		        n += 1
		        time.sleep(0.005)
		print(n)
	EOF
}

start_capture wan br0 "$T/wan.pcap" udp port $PORT
cap=$CAP_PID
# The on-path attacker withholds a's genuine initiations from b for the
# whole test (matched by a's MAC, so the attacker's own replays, spoofed or
# not, still reach b) and keeps the copies the capture holds: b never
# processes one, the link comes up from b's initiation, which a answers.
# Replaying a withheld initiation later is the case a timestamp check alone
# does not cover: b has no timestamp from a to compare it with.
mac_a=$(nsx a cat /sys/class/net/eth0/address)
nsx b nft -f - <<-EOF
	table ip withhold {
		chain pre {
			type filter hook prerouting priority -300; policy accept;
			ether saddr $mac_a udp dport $PORT @th,64,40 0x0000000001 counter drop
		}
	}
EOF
write_keyed_config "$T/a.json" site=a tap=ipopA port=$PORT peers=b
write_keyed_config "$T/b.json" site=b tap=ipopB port=$PORT peers=a
start_ipopd a "$T/a.json"
start_ipopd b "$T/b.json"
sock_a=$(config_sock "$T/a.json")
sock_b=$(config_sock "$T/b.json")
wait_link_up 15 "$sock_a" b
wait_link_up 15 "$sock_b" a
ping_ok a 10.254.0.2 >/dev/null
sleep 1 # any retransmission or collision settles before the ESP capture
stop_capture "$cap"
withheld=$(nsx b nft list table ip withhold | grep -o 'packets [0-9]*' | awk '{print $2}')
log "link up; $withheld initiation(s) a -> b withheld from b so far"
pcap_udp "$T/wan.pcap" >"$T/wan.txt"

# SPIs now; the replays below must not change them.
spis() { printf '%s/%s %s/%s' "$(link_get "$sock_a" b spi_in)" "$(link_get "$sock_a" b spi_out)" \
	"$(link_get "$sock_b" a spi_in)" "$(link_get "$sock_b" a spi_out)"; }
spis0=$(spis)
spi_b_in=$(link_get "$sock_b" a spi_in)
start_capture wan br0 "$T/esp.pcap" udp port $PORT
cap=$CAP_PID
nsx a ping -c 10 -i 0.1 -W 2 10.254.0.2 >/dev/null || fail "ping a -> b during the capture lost packets"
stop_capture "$cap"
[ "$(spis)" = "$spis0" ] || fail "SPIs changed during the ESP capture: $spis0 -> $(spis)"
pcap_udp "$T/esp.pcap" >"$T/esp.txt"

# --- 1. ESP replay toward b ---
awk -v s="$(printf '%08x' "$spi_b_in")" '$4 == "198.18.0.2" && $5 == '$PORT' && substr($6, 1, 8) == s { print $6 }' \
	"$T/esp.txt" >"$T/esp-to-b.hex"
ncap=$(wc -l <"$T/esp-to-b.hex")
assert_gt "$ncap" 9 "captured ESP packets a -> b with SPI $spi_b_in (10 echo requests at least)"

# shellcheck disable=SC2016 # awk program
echos() { nsx b awk '/^Icmp:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 } else print $c["InEchos"] }' /proc/net/snmp; }
r0=$(drop_get "$sock_b" replay)
e0=$(echos)
h0=$(ctl_get "$sock_b" stats 'd["total"]["host_tx_packets"]')
n1=$(inject 198.18.0.9 198.18.0.2 "$T/esp-to-b.hex")
n2=$(inject 198.18.0.1 198.18.0.2 "$T/esp-to-b.hex") # spoofed: from a's address
assert_eq "$n1" "$ncap" "datagrams injected from the attacker's address"
sleep 1
r1=$(drop_get "$sock_b" replay)
e1=$(echos)
h1=$(ctl_get "$sock_b" stats 'd["total"]["host_tx_packets"]')
assert_eq "$((r1 - r0))" "$((n1 + n2))" "b: drops.replay growth after injecting $n1 + $n2 captured ESP packets"
assert_eq "$e1" "$e0" "b: ICMP echo requests delivered to b's stack (Icmp InEchos) during the injection"
assert_eq "$h1" "$h0" "b: stats host_tx_packets (frames written to the TAP) during the injection"
assert_eq "$(drop_get "$sock_b" auth)" 0 "b: drops.auth"
assert_eq "$(spis)" "$spis0" "SPIs after the ESP replay"
ping_ok a 10.254.0.2 >/dev/null
ok "replayed $n1 + $n2 ESP packets (own and spoofed source): drops.replay +$((r1 - r0)), nothing delivered (InEchos $e0, host_tx $h0), link intact"

# --- 2. Replay of captured handshake initiations to their responders ---
# Every initiation of the start-up capture, with its responder, and whether
# that responder answered it then (a response naming its sender SPI): an
# answered one was processed, an unanswered one (withheld, sent before the
# responder was up, or lost in a collision) never was. Neither may be
# accepted now.
$PY - "$T/wan.txt" >"$T/inits.txt" <<-'EOF2'
	import sys
	inits, answered = [], set()
	for line in open(sys.argv[1]):
	    t, src, sport, dst, dport, p = line.split()
	    if p.startswith("0000000001"):
	        inits.append((dst, src, p))
	    elif p.startswith("0000000002"):
	        answered.add((src, p[16:24]))  # responder, receiver SPI = initiation's sender SPI
	for dst, src, p in inits:
	    print(dst, src, "answered" if (dst, p[24:32]) in answered else "unanswered", p)
EOF2
ninit=$(wc -l <"$T/inits.txt")
assert_gt "$ninit" 0 "handshake initiations in the start-up capture"
log "captured initiations: $(awk '{printf "%s->%s (%s)  ", $2, $1, $3}' "$T/inits.txt")"
sleep 3 # "later": the link has been up for a while

declare -A sockof=([198.18.0.1]=$sock_a [198.18.0.2]=$sock_b)
endpoints() { printf '%s %s' "$(link_get "$sock_a" b endpoint)" "$(link_get "$sock_b" a endpoint)"; }
ep0=$(endpoints)
hsa0=$(link_get "$sock_a" b handshakes)
hsb0=$(link_get "$sock_b" a handshakes)
errors=()

# 2a. On a quiet link (no traffic that would hide a moved endpoint), each
# initiation once from the attacker's address and once spoofed from its
# initiator's: counted as stale (or rate-limited), never answered, nothing moves.
while read -r dst src kind hex; do
	s=${sockof[$dst]}
	st0=$(hs_get "$s" stale_timestamp)
	rl0=$(hs_get "$s" ratelimited)
	rs0=$(hs_get "$s" responses_sent)
	epb=$(endpoints)
	printf '%s\n' "$hex" >"$T/one.hex"
	inject 198.18.0.9 "$dst" "$T/one.hex" >/dev/null # from the attacker
	sleep 0.2
	ep=$(endpoints)
	inject "$src" "$dst" "$T/one.hex" >/dev/null # spoofed: from the initiator
	sleep 0.2
	st=$(($(hs_get "$s" stale_timestamp) - st0))
	rl=$(($(hs_get "$s" ratelimited) - rl0))
	rs=$(($(hs_get "$s" responses_sent) - rs0))
	what="initiation $src -> $dst ($kind at capture time) replayed twice"
	log "$what: stale_timestamp +$st, ratelimited +$rl, responses_sent +$rs; endpoints after the first: $ep"
	[ "$st" -gt 0 ] || errors+=("$what: handshake.stale_timestamp did not grow")
	[ "$ep" = "$epb" ] || errors+=("$what: link endpoints moved: '$epb' -> '$ep'")
	if [ "$kind" = answered ]; then
		# Processed before: both copies are stale, neither is answered.
		[ $((st + rl)) -eq 2 ] || errors+=("$what: stale_timestamp + ratelimited grew by $((st + rl)), not 2")
		[ "$rs" -eq 0 ] || errors+=("$what: the responder sent $rs response(s)")
	else
		# Never processed: its timestamp is newer than anything the
		# responder has from that initiator, and IKpsk2's response carries
		# no timestamp of the initiator's clock to compare with, so the
		# first copy may be answered (the answer is useless without the
		# initiator's keys; the unconfirmed session expires and must not
		# replace the live one). The second copy is stale.
		[ $((st + rl + rs)) -eq 2 ] && [ "$rs" -le 1 ] ||
			errors+=("$what: stale +$st, ratelimited +$rl, responses +$rs (expected 2 in all, at most 1 response)")
		[ "$rs" -eq 0 ] || log "WARN: $what: the responder answered the first copy (a withheld initiation is fresh to it)"
	fi
done <"$T/inits.txt"
[ "$(spis)" = "$spis0" ] || errors+=("SPIs changed by the replays: $spis0 -> $(spis)")

# 2b. The same replays while `ping -i 0.05` crosses the link: no loss.
spawn nsx a ping -q -c 100 -i 0.05 -W 1 10.254.0.2 >"$T/ping-replay.txt" 2>&1
pingpid=$SPAWN_PID
sleep 1
while read -r dst src kind hex; do
	printf '%s\n' "$hex" >"$T/one.hex"
	inject 198.18.0.9 "$dst" "$T/one.hex" >/dev/null
	inject "$src" "$dst" "$T/one.hex" >/dev/null
	sleep 0.5
done <"$T/inits.txt"
if wait "$pingpid"; then
	ok "ping -c 100 -i 0.05 a -> b: no loss while captured initiations were replayed"
else
	errors+=("ping -i 0.05 a -> b lost packets while captured initiations were replayed: $(grep -o '[0-9]* received.*loss' "$T/ping-replay.txt")")
fi
[ "$(link_get "$sock_a" b handshakes)" = "$hsa0" ] || errors+=("a: link handshakes $hsa0 -> $(link_get "$sock_a" b handshakes)")
[ "$(link_get "$sock_b" a handshakes)" = "$hsb0" ] || errors+=("b: link handshakes $hsb0 -> $(link_get "$sock_b" a handshakes)")
[ "$(spis)" = "$spis0" ] || errors+=("SPIs after the replays: $spis0 -> $(spis)")
[ "$(endpoints)" = "$ep0" ] || errors+=("endpoints after the replays: '$ep0' -> '$(endpoints)'")
if [ ${#errors[@]} -gt 0 ]; then
	for e in "${errors[@]}"; do
		printf '[%s] replayed initiation: %s\n' "$TEST_NAME" "$e" >&2
	done
	fail "${#errors[@]} check(s) of the initiation replay failed (above)"
fi
ok "replayed $ninit captured initiation(s): stale_timestamp counted, processed ones unanswered, SPIs ($spis0) and endpoints unchanged"
exit 0
