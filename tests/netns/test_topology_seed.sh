#!/usr/bin/env bash
# The seed tutorial's behaviour with the structured overlay (issue 11,
# ../shared/seeds/): Alice and Bob are not neighbours on the P2P overlay.
# Four gateways, num_successors 1, num_chords 0: a ring in which the gateways
# two places apart have no link.
#
# - multihop false (the seed configs): the first pings to an unlinked
#   gateway wait (staged) while the traffic opens an on-demand link at
#   once; then pings flow over it. At most the first answers are delayed or
#   lost — not the seed's run of "Destination Host Unreachable".
# - multihop true (threshold_on_demand high): the very first ping to an
#   unlinked gateway is answered, over the overlay path, and no link to it
#   is made.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_topology.sh"
harness_init
need_cmd prosody prosodyctl openssl

N=4
SITES=(s1 s2 s3 s4)
start_all()
{
	local s
	for s in "${SITES[@]}"; do
		start_ipopd "$s" "$T/$s.json"
		PID[$s]=$IPOPD_PID
	done
	for s in "${SITES[@]}"; do
		wait_for 30 topo_converged "$T/$s.sock" $((N - 1)) 1 ||
			fail "$s did not converge: $(ctl "$T/$s.sock" topology 2>&1)"
	done
	sleep 2 # the transient links of the joins are closed within a management round
}
stop_all()
{
	local s
	for s in "${SITES[@]}"; do stop_ipopd "${PID[$s]}"; done
}
# unlinked_pair: sets A and C to two gateways with no link between them.
unlinked_pair()
{
	local s d
	for s in "${SITES[@]}"; do
		for d in "${SITES[@]}"; do
			[ "$s" = "$d" ] && continue
			if ! topo_has_link "$T/$s.sock" "10.254.0.${SITE_IDX[$d]}" &&
				! topo_has_link "$T/$d.sock" "10.254.0.${SITE_IDX[$s]}"; then
				A=$s C=$d
				return 0
			fi
		done
	done
	fail "no unlinked pair: $(for s in "${SITES[@]}"; do topo_up_peers "$T/$s.sock"; done)"
}
declare -A PID=()

# --- multihop false --------------------------------------------------------
topo_group "$N" '{"num_successors": 1, "num_chords": 0, "num_on_demand": 2, "num_inbound": 8,
  "multihop": false, "interval_management": 2, "ttl_link_initial": 10, "ttl_link_pulse": 5,
  "ttl_on_demand": 30}'
start_all
unlinked_pair
CIP=10.254.0.${SITE_IDX[$C]}
out=$(nsx "$A" ping -c 10 -i 0.2 -W 2 "$CIP" 2>&1) || true
printf '%s\n' "$out"
rx=$(sed -nE 's/.* ([0-9]+) received.*/\1/p' <<<"$out")
first=$(sed -nE 's/.*icmp_seq=([0-9]+) .*time=([0-9.]+).*/\1 \2/p' <<<"$out" | head -1)
unreach=$(grep -c 'Unreachable' <<<"$out" || true)
[ "$rx" -ge 8 ] || fail "multihop false: only $rx of 10 pings $A -> $C answered"
[ "$unreach" -eq 0 ] || fail "multihop false: $unreach 'Destination Host Unreachable'"
topo_linked "$T/$A.sock" "$CIP" on-demand || fail "$A: no on-demand link to $C: $(ctl "$T/$A.sock" topology)"
log "multihop false: $rx of 10 answered; first answer: seq/ms $first; on-demand link $A -> $C up"
ok "multihop false: the first pings wait for the on-demand link, then pings flow"
stop_all

# --- multihop true -----------------------------------------------------------
for s in "${SITES[@]}"; do
	"$PY" - "$T/$s.json" <<-'PYEOF'
		import json, sys
		c = json.load(open(sys.argv[1]))
		c["BaseTopologyManager"].update({"multihop": True, "threshold_on_demand": 100000})
		json.dump(c, open(sys.argv[1], "w"), indent=1)
	PYEOF
done
start_all
unlinked_pair
CIP=10.254.0.${SITE_IDX[$C]}
out=$(nsx "$A" ping -c 1 -W 2 "$CIP" 2>&1) || fail "multihop true: the first ping $A -> $C was not answered: $out"
printf '%s\n' "$out"
topo_has_link "$T/$A.sock" "$CIP" && fail "multihop true: a link $A -> $C was made for one ping"
ok "multihop true: the first ping $A -> $C answered over the overlay ($(sed -nE 's/.*time=([0-9.]+ ms).*/\1/p' <<<"$out")), no link made"
