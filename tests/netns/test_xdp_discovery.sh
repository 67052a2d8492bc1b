#!/usr/bin/env bash
# Discovery, NAT traversal and rekeying on the af_xdp backend: two L3-mode
# gateways on "backend": "af_xdp" find each other over XMPP (prosody on the
# WAN), learn their server-reflexive address with STUN from the data port
# (coturn), handshake and rekey every 2 s — all through AF_XDP. s1 sits
# behind a home router (NAT and a stateful firewall), so its frames leave
# for the router's MAC: the next hop is a gateway resolved from the kernel's
# routes; s2 is on the WAN and reaches coturn and the XMPP server directly.
# s1 runs one worker, s2 two (its eth0 gets two queues): each worker has its
# own AF_XDP socket.
#
# Checked: links up with no endpoint configured; STUN mapped address through
# AF_XDP; the gateways ping over the overlay; 8 MiB over TCP with SHA-256
# equal while links rekey; rekeys counted; the AF_XDP counters show the
# traffic (and s1's next hop resolved); the sites stop leaving nothing
# attached.
. "$(dirname "$0")/lib.sh"
harness_init
need_cmd prosody prosodyctl turnserver openssl sha256sum
[ -n "${XDP_OBJ:-}" ] && export IPOPD_XDP_OBJECT=$XDP_OBJ
XFER="$(dirname "$0")/xfer.py"
XDP='"backend": "af_xdp", "underlay_interface": "eth0", "rekey_interval": 2'

make_wan
ip -n "$(ns wan)" addr add "$XMPP_ADDR/24" dev br0
ip -n "$(ns wan)" addr add "$STUN_ADDR/24" dev br0
start_prosody wan "$XMPP_ADDR"
xmpp_register gw-s1 gw-s2
start_coturn wan "$STUN_ADDR"

make_home_site s1 1
# s2: a two-queue veth, so that two workers each get an AF_XDP socket.
new_ns s2
SITE_IDX[s2]=2
ip -n "$(ns wan)" link add w-s2 numtxqueues 2 numrxqueues 2 type veth peer name eth0 \
	numtxqueues 2 numrxqueues 2 netns "$(ns s2)"
ip -n "$(ns wan)" link set w-s2 master br0 up
ip -n "$(ns s2)" addr add 198.18.0.2/24 dev eth0
ip -n "$(ns s2)" link set eth0 up
write_disc_config "$T/s1.json" site=s1 extra="$XDP"
write_disc_config "$T/s2.json" site=s2 extra="$XDP"
sed -i 's/"workers": 1/"workers": 2/' "$T/s2.json"

start_ipopd s1 "$T/s1.json"
p1=$IPOPD_PID
start_ipopd s2 "$T/s2.json"
p2=$IPOPD_PID
wait_for 30 links_up "$T/s1.sock" 1 || fail "s1: no link up: $(ctl "$T/s1.sock" links 2>&1)"
wait_for 30 links_up "$T/s2.sock" 1 || fail "s2: no link up: $(ctl "$T/s2.sock" links 2>&1)"
ok "discovered over XMPP, linked through AF_XDP on both ends"
stun_mapped() { [ "$(xmpp_get "$1" "d['stun'][0]['mapped']")" = "$2" ]; }
wait_for 10 stun_mapped "$T/s1.sock" 198.18.0.1:5800 || true
wait_for 10 stun_mapped "$T/s2.sock" 198.18.0.2:5800 || true
assert_eq "$(xmpp_get "$T/s1.sock" "d['stun'][0]['mapped']")" 198.18.0.1:5800 "s1 srflx (STUN through AF_XDP and NAT)"
assert_eq "$(xmpp_get "$T/s2.sock" "d['stun'][0]['mapped']")" 198.18.0.2:5800 "s2 srflx (STUN through AF_XDP)"
ping_ok s1 10.254.0.2
ping_ok s2 10.254.0.1

head -c $((8 << 20)) /dev/urandom >"$T/blob"
want="$(stat -c %s "$T/blob") $(sha256sum "$T/blob" | cut -d' ' -f1)"
spawn nsx s2 "$PY" "$XFER" tcp-recv 10.254.0.2 7000 >"$T/recv.out" 2>&1
rpid=$SPAWN_PID
wait_for 5 grep -q listening "$T/recv.out" || fail "tcp-recv: $(cat "$T/recv.out")"
nsx s1 "$PY" "$XFER" tcp-send 10.254.0.2 7000 "$T/blob" || fail "tcp-send failed"
wait "$rpid" || fail "tcp-recv failed: $(cat "$T/recv.out")"
assert_eq "$(tail -n 1 "$T/recv.out")" "$want" "bytes and SHA-256 received on s2"
ok "8 MiB s1 -> s2 over TCP, SHA-256 equal"

# Rekeys: at least two per link over ~5 s of rekey_interval 2, pings throughout.
sleep 3
nsx s1 ping -c 20 -i 0.1 -W 2 10.254.0.2 >"$T/ping.txt" 2>&1 || fail "ping during rekeys: $(cat "$T/ping.txt")"
rk1=$(hs_get "$T/s1.sock" rekeys)
rk2=$(hs_get "$T/s2.sock" rekeys)
assert_gt "$((rk1 + rk2))" 1 "rekeys (s1 + s2)"
ok "rekeys s1 $rk1, s2 $rk2; pings and the transfer went on"

for s in s1 s2; do
	ctl "$T/$s.sock" status --json >"$T/$s-status.json"
	$PY - "$T/$s-status.json" "$s" <<-'EOF' || fail "$s: status check (above)"
		import json, sys
		b = json.load(open(sys.argv[1]))["backend_status"]
		x = next(p for p in b["ports"] if p["kind"] == "af_xdp")
		c = x["counters"]
		want_q = 2 if sys.argv[2] == "s2" else 1
		if b["name"] != "af_xdp" or x["queues"] != want_q or len(b["workers"]) != want_q:
		    sys.exit("backend %s, %d queues, %d workers" % (b["name"], x["queues"], len(b["workers"])))
		if (c["rx_frames"] + c["tx_frames"] < 5000 or min(c["rx_frames"], c["tx_frames"]) < 100
		        or c["nexthops_ok"] < 1 or c["rx_dropped"] or c["tx_invalid"]):
		    sys.exit("counters: %s" % c)
		print("%s: %s, rx_frames %d tx_frames %d, next hops ok %d" %
		      (sys.argv[2], x["mode"], c["rx_frames"], c["tx_frames"], c["nexthops_ok"]))
	EOF
done
ok "the traffic crossed the AF_XDP sockets on both sites"
stop_ipopd "$p1"
stop_ipopd "$p2"
for s in s1 s2; do
	if nsx $s ip link show dev eth0 | grep -q "prog/xdp"; then fail "$s: XDP program left on eth0"; fi
done
ok "both stopped: nothing attached"
exit 0
