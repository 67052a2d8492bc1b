#!/usr/bin/env bash
# Restarting one gateway of a manually keyed link: the other side must not
# need a restart, and the restarted side must never reuse a sequence number
# (with a static AES-GCM key the sequence number is the nonce). b's outbound
# counter continues from the mark in its state directory, so a accepts b's
# packets at once and counts no replays — after a clean stop and after a crash.
. "$(dirname "$0")/lib.sh"
harness_init

make_wan
make_site a 1
make_site b 2
write_config "$T/a.json" site=a tap=ipopA peers=b
write_config "$T/b.json" site=b tap=ipopB peers=a
start_ipopd a "$T/a.json"
start_ipopd b "$T/b.json"
pid_b=$IPOPD_PID
sock_a=$(config_sock "$T/a.json")
spi_ba=$(spi_for b a)
seqfile="$T/state-b-ipopB/seq-${spi_ba#0x}"

ping_ok a 10.254.0.2
nsx a ping -q -c 300 -i 0.01 -W 1 10.254.0.2 >/dev/null || fail "warm-up pings lost"
[ -f "$seqfile" ] || fail "b keeps no sequence reservation at $seqfile"
assert_eq "$(stat -c %a "$seqfile")" 600 "mode of $seqfile"
ok "b reserved its outbound sequence numbers in $seqfile ($(cat "$seqfile"))"

replays() { ctl_get "$sock_a" stats 'd["total"]["drops"]["replay"]'; }
assert_eq "$(replays)" 0 "a: replay drops before any restart"

# Clean stop: the exact counter is stored; the new process continues after it.
stop_ipopd "$pid_b"
stored=$(cat "$seqfile")
assert_gt "$stored" 300 "b's stored counter after 300+ echo replies"
start_ipopd b "$T/b.json"
pid_b=$IPOPD_PID
out=$(nsx a ping -c 5 -i 0.2 -W 1 10.254.0.2 2>&1) || fail "a -> b after b's clean restart: $out"
assert_eq "$(replays)" 0 "a: replay drops after b's clean restart"
ok "clean restart of b (counter $stored): a -> b at once, no replays"

# Crash: nothing is stored at exit; b resumes at its reservation.
kill -KILL "$pid_b"
wait "$pid_b" 2>/dev/null || true
start_ipopd b "$T/b.json"
out=$(nsx a ping -c 5 -i 0.2 -W 1 10.254.0.2 2>&1) || fail "a -> b after b crashed and restarted: $out"
assert_eq "$(replays)" 0 "a: replay drops after b's crash and restart"
ok "restart after SIGKILL: a -> b at once, no replays (resumed at $(cat "$seqfile"))"
exit 0
