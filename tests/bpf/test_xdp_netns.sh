#!/usr/bin/env bash
# The XDP steering program on a real interface: two namespaces joined by a
# veth, the program attached natively on the receiver's end with an AF_XDP
# socket on queue 0 (tests/bpf/xdp_rx.c). Datagrams to our port (IPv4 and
# IPv6) reach the AF_XDP socket and not the kernel socket bound to the same
# port; datagrams to another port, ping (v4 and v6) and a TCP transfer
# (iperf3) still go through the kernel; the program's counters match what was
# sent; a second program on the same interface is refused with one line; and
# nothing stays attached after the receiver exits.
source "$(dirname "$0")/../netns/lib.sh"

harness_init
need_cmd iperf3
XDP_RX=${XDP_RX:-$SRCDIR/build/tests/bpf/xdp_rx}
XDP_OBJ=${XDP_OBJ:-$SRCDIR/build/bpf/xdp_steer.bpf.o}
[ -x "$XDP_RX" ] || fail "xdp_rx not found at $XDP_RX"
PORT=4500
N4=40
N6=20
NOTHER=10

new_ns a
new_ns b
ip -n "$(ns a)" link add va type veth peer name vb netns "$(ns b)"
nsx a ip addr add 198.18.0.1/24 dev va
nsx b ip addr add 198.18.0.2/24 dev vb
nsx a ip addr add 2001:db8::1/64 dev va nodad
nsx b ip addr add 2001:db8::2/64 dev vb nodad
nsx a ip link set va up
nsx b ip link set vb up

# Kernel sockets in b: one on our port (must get nothing: XDP takes those
# datagrams), one on another port (must get all of its datagrams).
udp_count()
{
	# udp_count PORT SECONDS: prints how many datagrams arrived (v4 and v6)
	# before a "STOP" datagram or the timeout.
	"$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
s.settimeout(0.2)
end, n = time.time() + float(sys.argv[2]), 0
print("bound", flush=True)
while time.time() < end:
    try:
        if s.recv(2048) == b"STOP":
            break
        n += 1
    except socket.timeout:
        pass
print(n, flush=True)' "$@"
}
spawn nsx b bash -c "$(declare -f udp_count); PY=$PY udp_count $PORT 30 >$T/k_ours.out"
spawn nsx b bash -c "$(declare -f udp_count); PY=$PY udp_count $((PORT + 1)) 30 >$T/k_other.out"
spawn nsx b bash -c "exec '$XDP_RX' '$XDP_OBJ' vb $PORT 20 198.18.0.2 2001:db8::2 >'$T/rx.out' 2>&1"
RX_PID=$SPAWN_PID
wait_for 10 grep -q ready "$T/rx.out" || fail "xdp_rx did not start: $(cat "$T/rx.out")"
wait_for 5 grep -q bound "$T/k_ours.out"
wait_for 5 grep -q bound "$T/k_other.out"
mode=$(ip -n "$(ns b)" -d link show vb | grep -o 'prog/xdp[a-z]*' | head -1)
assert_eq "$mode" "prog/xdp" "attach mode on veth (native)"
ok "attached natively to vb: $(ip -n "$(ns b)" link show vb | grep -o 'prog/xdp id [0-9]*')"

# A second program on the same interface: one clear line, exit 1.
if out=$(nsx b "$XDP_RX" "$XDP_OBJ" vb "$PORT" 1 198.18.0.2 2>&1); then
	fail "a second XDP program attached to vb"
fi
assert_contains "$out" "vb already has an XDP program" "second attach refused"
ok "second program refused: $out"
out=$(nsx b "$XDP_RX" "$XDP_OBJ" nosuch0 "$PORT" 1 198.18.0.2 2>&1) && fail "attached to a missing interface"
assert_eq "$out" "xdp: interface nosuch0 does not exist" "missing interface"

# Traffic from a: ESP-like datagrams (SPI, sequence) to our port, v4 and v6;
# some to another port; ping; a TCP transfer.
nsx a "$PY" -c '
import socket, struct, sys, time
port, n4, n6, nother = map(int, sys.argv[1:5])
s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
for i in range(n4):
    s4.sendto(struct.pack("!II", 0x1001, i + 1) + bytes(64), ("198.18.0.2", port))
    time.sleep(0.002)
for i in range(n6):
    s6.sendto(struct.pack("!II", 0x1001, i + 1) + bytes(64), ("2001:db8::2", port))
    time.sleep(0.002)
for i in range(nother):
    s4.sendto(b"other", ("198.18.0.2", port + 1))
    time.sleep(0.002)
' "$PORT" "$N4" "$N6" "$NOTHER"
ok "sent $N4 IPv4 + $N6 IPv6 datagrams to port $PORT, $NOTHER to port $((PORT + 1))"
assert_ok "ping v4 through the kernel" nsx a ping -c 3 -i 0.2 -W 2 -q 198.18.0.2
assert_ok "ping v6 through the kernel" nsx a ping -6 -c 3 -i 0.2 -W 2 -q 2001:db8::2
spawn nsx b iperf3 -s -1 -p 5201
wait_for 5 nsx b sh -c "ss -ltn | grep -q :5201"
nsx a iperf3 -c 198.18.0.2 -p 5201 -n 4M >"$T/iperf.log" 2>&1 || fail "TCP transfer (iperf3): $(tail -3 "$T/iperf.log")"
ok "TCP: $(grep -E 'receiver' "$T/iperf.log" | awk '{print $7, $8}')"

stop_pid "$RX_PID"
wait "$RX_PID" 2>/dev/null || true
cat "$T/rx.out"
rx() { awk -v k="$1" '$1 == k { print $2 }' "$T/rx.out"; }
cnt() { awk -v k="$1" '$1 == "counter" && $2 == k { print $3 }' "$T/rx.out"; }
assert_eq "$(rx received)" $((N4 + N6)) "datagrams received on the AF_XDP socket"
assert_eq "$(rx bad)" 0 "frames on the AF_XDP socket that are not ours"
assert_eq "$(cnt steered)" $((N4 + N6)) "counter steered"
assert_eq "$(cnt pass_other_port)" "$NOTHER" "counter pass_other_port"
assert_eq "$(cnt pass_no_socket)" 0 "counter pass_no_socket"
# TCP (iperf3 control + data + acks), ICMP echo and ICMPv6 ND all passed.
assert_gt "$(cnt pass_not_udp)" 100 "counter pass_not_udp (TCP, ICMP)"
ok "AF_XDP socket got $(rx received) datagrams; counters: $(awk '$1 == "counter" && $3 != 0 { printf "%s=%s ", $2, $3 }' "$T/rx.out")"

# Nothing left attached once the receiver is gone.
if ip -n "$(ns b)" link show vb | grep -q 'prog/xdp'; then
	fail "an XDP program is still attached to vb: $(ip -n "$(ns b)" link show vb)"
fi
ok "nothing attached to vb after exit"

# The kernel sockets: nothing on our port while XDP ran, all on the other.
# The STOP datagrams reach the kernel socket on our port too, now that the
# program is gone.
nsx a "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in sys.argv[1:]:
    s.sendto(b"STOP", ("198.18.0.2", int(p)))' "$PORT" $((PORT + 1))
wait_for 15 sh -c "[ \$(wc -l <'$T/k_ours.out') -ge 2 ]" || fail "kernel socket on our port did not finish"
wait_for 15 sh -c "[ \$(wc -l <'$T/k_other.out') -ge 2 ]" || fail "kernel socket on the other port did not finish"
assert_eq "$(tail -1 "$T/k_ours.out")" 0 "datagrams the kernel socket on port $PORT got"
assert_eq "$(tail -1 "$T/k_other.out")" "$NOTHER" "datagrams the kernel socket on port $((PORT + 1)) got"
ok "kernel socket on $PORT got 0, on $((PORT + 1)) got $NOTHER"
