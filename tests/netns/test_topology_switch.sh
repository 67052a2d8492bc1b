#!/usr/bin/env bash
# Switch mode over the structured overlay (issue 11, docs/topology.md): eight
# gateways in one XMPP group, num_successors 1, num_chords 1, bridging one L2
# segment (a container per site on lxcbr0, 10.0.3.(10+I)/24). A broadcast
# crosses the ring as a bounded flood: an ARP request sent once by site 1's
# container reaches every other site's TAP exactly once (counted with tcpdump
# on each TAP), although not every pair of gateways is linked; and the
# containers of every pair of sites ping each other.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_topology.sh"
harness_init
need_cmd prosody prosodyctl openssl tcpdump

N=8
topo_group "$N" '{"num_successors": 1, "num_chords": 1, "num_on_demand": 0, "num_inbound": 8,
  "multihop": true, "threshold_on_demand": 100000, "interval_management": 2,
  "ttl_link_initial": 10, "ttl_link_pulse": 5}' 1
SITES=()
for ((i = 1; i <= N; i++)); do
	SITES+=("s$i")
	make_container "s$i" "c$i" "10.0.3.$((10 + i))/24"
	"$PY" - "$T/s$i.json" <<-'PYEOF'
		import json, sys
		c = json.load(open(sys.argv[1]))
		c["ipopd"]["bridge"] = "lxcbr0"
		json.dump(c, open(sys.argv[1], "w"), indent=1)
	PYEOF
done
for s in "${SITES[@]}"; do start_ipopd "$s" "$T/$s.json"; done
for s in "${SITES[@]}"; do
	wait_for 30 topo_converged "$T/$s.sock" $((N - 1)) 1 ||
		fail "$s did not converge: $(ctl "$T/$s.sock" topology 2>&1)"
done
sleep 3
mtu=$(ctl_get "$T/s1.sock" status 'd["mtu"]')
for s in "${SITES[@]}"; do set_container_mtu "$s" "$mtu"; done
nlinks=0
for s in "${SITES[@]}"; do
	n=$(topo_get "$T/$s.sock" "t['counts']['up']")
	nlinks=$((nlinks + n))
done
[ "$nlinks" -lt $((N * (N - 1))) ] || fail "every pair is linked"
log "link ends up: $nlinks of $((N * (N - 1))) (full mesh)"

# One ARP request from c1 for an address nobody has, counted on every TAP.
declare -A DUMP=()
for s in "${SITES[@]}"; do
	spawn nsx "$s" tcpdump -i "ipop$s" -n -l -U arp >"$T/arp-$s.txt" 2>/dev/null
	DUMP[$s]=$SPAWN_PID
done
sleep 1.5
nsx c1 "$PY" - <<-'PYEOF'
	import socket, struct
	s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
	s.bind(("eth0", 0))
	mac = open("/sys/class/net/eth0/address").read().strip()
	m = bytes.fromhex(mac.replace(":", ""))
	arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, m, socket.inet_aton("10.0.3.11"),
	                  b"\0" * 6, socket.inet_aton("10.0.3.250"))
	s.send(b"\xff" * 6 + m + b"\x08\x06" + arp + b"\0" * 18)
PYEOF
sleep 2
for s in "${SITES[@]}"; do stop_pid "${DUMP[$s]}" 2>/dev/null || kill "${DUMP[$s]}" 2>/dev/null || true; done
sleep 0.5
counts=""
for s in "${SITES[@]}"; do
	c=$(grep -c 'who-has 10.0.3.250' "$T/arp-$s.txt" || true)
	counts="$counts $s:$c"
	[ "$c" -eq 1 ] || fail "ARP request seen $c times on ipop$s (expected once):$counts"
done
ok "one ARP broadcast reached every site's TAP exactly once:$counts"

# Containers of every pair of sites ping (ARP resolved over the flood).
# shellcheck disable=SC2034 # read by ping_all (lib_topology.sh)
for ((i = 1; i <= N; i++)); do SITE_IDX[c$i]=$((10 + i)); done
CONTS=()
for ((i = 1; i <= N; i++)); do CONTS+=("c$i"); done
ping_all 10.0.3 "${CONTS[@]}"

# Now the overlay knows every container's address (learned from their ARP):
# an ARP request from c1 for c5 is answered by s1 itself, not flooded.
declare -A DUMP2=()
for s in "${SITES[@]}"; do
	[ "$s" = s1 ] && continue
	spawn nsx "$s" tcpdump -i "ipop$s" -n -l -U arp >"$T/arp2-$s.txt" 2>/dev/null
	DUMP2[$s]=$SPAWN_PID
done
sleep 1.5
before=$(ctl_get "$T/s1.sock" stats "d['total']['arp_replies']")
nsx c1 ip neigh flush dev eth0
nsx c1 ping -c 1 -W 2 10.0.3.15 >/dev/null || fail "c1 -> c5 after the ARP cache flush"
after=$(ctl_get "$T/s1.sock" stats "d['total']['arp_replies']")
sleep 1
for s in "${!DUMP2[@]}"; do stop_pid "${DUMP2[$s]}" 2>/dev/null || true; done
sleep 0.5
seen=0
for s in "${!DUMP2[@]}"; do
	c=$(grep -c 'who-has 10.0.3.15 tell 10.0.3.11' "$T/arp2-$s.txt" || true)
	seen=$((seen + c))
done
[ "$seen" -eq 0 ] || fail "c1's ARP request for a known address crossed the overlay ($seen copies)"
assert_gt "$after" "$before" "s1 answered the ARP request itself (arp_replies)"
ok "ARP for an address the overlay knows answered by the local gateway (arp_replies $before -> $after), not flooded"
