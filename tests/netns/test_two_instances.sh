#!/usr/bin/env bash
# Two ipopd instances in the same namespace on each site, the recursive set-up
# of the seeds: an outer L3 overlay (port 5800, TAP renamed with --tap) and an
# inner switch-mode overlay (port 5810, bridged into lxcbr0) whose underlay is
# the outer overlay. Distinct TAPs, ports, sockets and state dirs; both carry
# traffic at once.
. "$(dirname "$0")/lib.sh"
harness_init

make_wan
make_site a 1 10.0.3.1
make_site b 2 10.0.3.2 # one L2 segment once bridged: see test_switch_mode.sh
make_container a a1 10.0.3.11/24
make_container b b1 10.0.3.21/24

# Outer: L3 over the WAN. Its config says TAP "ipopA"; --tap overrides it.
write_config "$T/a-out.json" site=a tap=ipopA port=5800 peers=b
write_config "$T/b-out.json" site=b tap=ipopB port=5800 peers=a
start_ipopd a "$T/a-out.json" --tap outA
start_ipopd b "$T/b-out.json" --tap outB
out_a=$(config_sock "$T/a-out.json")
assert_eq "$(ctl_get "$out_a" status 'd["tap"]')" outA "status.tap of a's outer instance (--tap)"
nsx a ip link show outA >/dev/null || fail "TAP outA (from --tap) does not exist"
nsx a ip link show ipopA >/dev/null 2>&1 && fail "TAP ipopA exists although --tap outA was given"
ok "--tap override: TAP outA, ipopctl status says outA"
ping_ok a 10.254.0.2

# Inner: switch mode, tunnelled through the outer overlay (endpoints are the
# outer virtual addresses), own port, socket (given with --socket) and state.
outer_mtu=$(ctl_get "$out_a" status 'd["mtu"]')
for s in a b; do
	write_config "$T/$s-in.json" site=$s mode=switch tap=insw port=5810 net=10.0.3 hostoff=100 \
		bridge=lxcbr0 epnet=10.254.0 extra="\"underlay_mtu\": $outer_mtu" \
		peers="$([ $s = a ] && echo b || echo a)"
done
in_a="$T/a-inner.sock"
in_b="$T/b-inner.sock"
start_ipopd a "$T/a-in.json" --socket "$in_a"
start_ipopd b "$T/b-in.json" --socket "$in_b"
assert_eq "$(ctl_get "$in_a" status 'd["mode"]')" switch "inner instance mode"
assert_eq "$(ctl_get "$in_a" status 'd["port"]')" 5810 "inner instance port"
assert_eq "$(ctl_get "$out_a" status 'd["port"]')" 5800 "outer instance port"
inner_mtu=$(ctl_get "$in_a" status 'd["mtu"]')
[ "$inner_mtu" -lt "$outer_mtu" ] || fail "inner MTU $inner_mtu not below the outer $outer_mtu"
set_container_mtu a "$inner_mtu"
set_container_mtu b "$inner_mtu"
ok "inner switch instance: port 5810, MTU $inner_mtu inside outer MTU $outer_mtu"

before=$(peer_get "$out_a" b tx_packets)
ping_ok a1 10.0.3.21
ping_ok b1 10.0.3.11 -s $((inner_mtu - 28)) -M "do"
ping_ok a 10.254.0.2 # the outer one still works on its own
after=$(peer_get "$out_a" b tx_packets)
assert_gt "$((after - before))" 7 "outer link a->b packets while the inner overlay carried pings"
assert_gt "$(peer_get "$in_a" b rx_packets)" 3 "inner peer b rx_packets on a"
ok "both instances carry traffic at once (outer tx $before -> $after)"

# Same port twice in one namespace must be refused, not half-started.
write_config "$T/a-dup.json" site=a tap=dupA port=5800 peers=b sock="$T/a-dup.sock" state="$T/state-dup"
if out=$(nsx a timeout 10 "$IPOPD" -c "$T/a-dup.json" 2>&1); then
	fail "a second instance on port 5800 started: $out"
fi
nsx a ip link show dupA >/dev/null 2>&1 && fail "refused instance left TAP dupA behind"
ok "a second instance on a busy port fails cleanly: $(head -n 1 <<<"$out")"
exit 0
