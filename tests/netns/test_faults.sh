#!/usr/bin/env bash
# The fault matrix (issue 13): three sites behind home routers, keyed links
# found by discovery (faults_lib.sh has the topology), and for each fault a
# TCP transfer of a 32 MiB file (SHA-256 compared at the end) and a
# sequence-numbered UDP probe stream at 100 packets/s across the overlay.
# Faults: kill -9 of a gateway and its restart; prosody killed for 20 s and
# restarted; coturn restarted under the relayed link; NAT mappings flushed
# (conntrack -F) on one router and on both; 5 % random loss on the WAN for
# 30 s and 30 % for 5 s; s1's WAN link down for 3 s; SIGHUP with the config
# unchanged and with a peer added and one removed; a rekey every second for
# 20 s. Checked for every fault: the file arrives intact (TCP recovered by
# itself) and the probes flow again. Prints per fault the probes lost, the
# longest gap between arriving probes and the time from the fault's end to
# the first probe after the last lost one (tcp_done_s: from the fault's end
# until the whole file had arrived, the rest of the paced transfer included).
#
# The whole matrix takes about 3 min here. FAULTS_SHORT=1 shortens the long
# faults (prosody down 8 s, 5 % loss for 10 s, rekeys for 8 s) for a quick run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults_lib.sh"
harness_init
need_cmd prosody prosodyctl turnserver openssl conntrack bc

if [ -n "${FAULTS_SHORT:-}" ]; then
	XMPP_DOWN=8 LOSS5_S=10 REKEY_S=8
else
	XMPP_DOWN=20 LOSS5_S=30 REKEY_S=20
fi
faults_setup
t12=$(pair_type s1 2)
t13=$(pair_type s1 3)
log "s1 -> s2: $t12, s1 -> s3: $t13"
assert_contains "$t12" '^(srflx|peer-reflexive|host)$' "s1 -> s2 is direct"
assert_contains "$t13" '^(relay|relayed)$' "s1 -> s3 is relayed"

printf '%-22s %6s %8s %9s %7s %10s\n' fault lost gap_ms recover_s intact tcp_done_s >"$T/table"
run_fault "kill -9 s2 + restart" s2 12 fault_kill9
run_fault "xmpp down ${XMPP_DOWN}s" s2 $((XMPP_DOWN + 4)) fault_xmpp "$XMPP_DOWN"
run_fault "turn restart (relayed)" s3 10 fault_turn
run_fault "conntrack -F s1" s2 8 fault_conntrack s1
run_fault "conntrack -F s1+s2" s2 8 fault_conntrack s1 s2
run_fault "loss 5% ${LOSS5_S}s" s2 $((LOSS5_S + 4)) fault_loss 5 "$LOSS5_S"
run_fault "loss 30% 5s" s2 9 fault_loss 30 5
run_fault "wan s1 down 3s" s2 8 fault_linkdown 3
run_fault "sighup unchanged" s2 6 fault_hup
run_fault "sighup +1/-1 peer" s2 6 fault_hup_peers
run_fault "rekey 1/s ${REKEY_S}s" s2 $((REKEY_S + 4)) fault_rekey "$REKEY_S"

for s in s1 s2 s3; do
	kill -0 "${GW_PID[$s]}" || fail "$s's ipopd died"
done
printf '\n' && cat "$T/table"
for f in "${FAULT_FAILS[@]}"; do log "FAILED: $f"; done
[ ${#FAULT_FAILS[@]} -eq 0 ] || fail "${#FAULT_FAILS[@]} fault(s) not survived"
ok "every fault: the file arrived intact and the probes flowed again"
