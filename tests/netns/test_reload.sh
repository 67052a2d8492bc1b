#!/usr/bin/env bash
# SIGHUP applies the peer-list diff without disturbing unchanged links: a
# 20-per-second ping over a-b loses nothing while a gains peer c and loses it
# again; a-c works in between and not after.
. "$(dirname "$0")/lib.sh"
harness_init

make_wan
make_site a 1
make_site b 2
make_site c 3
write_config "$T/a.json" site=a tap=ipopA peers=b
write_config "$T/b.json" site=b tap=ipopB peers=a
write_config "$T/c.json" site=c tap=ipopC peers=a
start_ipopd a "$T/a.json"
pid_a=$IPOPD_PID
start_ipopd b "$T/b.json"
start_ipopd c "$T/c.json"
sock_a=$(config_sock "$T/a.json")
ping_ok a 10.254.0.2
ping_fails a 10.254.0.3 >/dev/null

peers_of_a() { ctl_get "$sock_a" peers '" ".join(sorted(p["name"] for p in d["peers"]))'; }
spi_in_b() { peer_get "$sock_a" b spi_in; }
spi_before=$(spi_in_b)

COUNT=300 # 15 s at -i 0.05: longer than both reloads take (checked below)
spawn nsx a ping -c $COUNT -i 0.05 -W 2 10.254.0.2 >"$T/ping.txt" 2>&1
ping_pid=$SPAWN_PID
sleep 1

write_config "$T/a.json" site=a tap=ipopA peers="b c"
kill -HUP "$pid_a"
wait_for 10 nsx a ping -c 1 -W 1 10.254.0.3 || fail "a -> c does not work 10 s after the reload that added c"
assert_eq "$(peers_of_a)" "b c" "a's peers after adding c"
ok "SIGHUP added c: a -> c answers"
ping_ok c 10.254.0.1

write_config "$T/a.json" site=a tap=ipopA peers=b
kill -HUP "$pid_a"
for ((i = 0; i < 100; i++)); do
	[ "$(peers_of_a)" = b ] && break
	sleep 0.1
done
assert_eq "$(peers_of_a)" b "a's peers after removing c"
ping_fails a 10.254.0.3 >/dev/null
ok "SIGHUP removed c: a -> c no longer answers"
assert_eq "$(spi_in_b)" "$spi_before" "b's inbound SPI on a (unchanged link kept)"
assert_eq "$(peer_get "$sock_a" b state)" up "peer b state after two reloads"

kill -0 "$ping_pid" 2>/dev/null || fail "the a-b ping finished before both reloads were done (test timing)"
wait "$ping_pid" || true
summary=$(grep -E 'packets transmitted' "$T/ping.txt") || fail "no ping summary: $(tail -n 3 "$T/ping.txt")"
tx=$(sed -E 's/^([0-9]+) packets transmitted.*/\1/' <<<"$summary")
rx=$(sed -E 's/.* ([0-9]+) received.*/\1/' <<<"$summary")
assert_eq "$tx" "$COUNT" "pings sent over a-b"
assert_eq "$rx" "$tx" "pings answered over a-b during both reloads ($summary)"
ok "a-b ping during both reloads: $summary"
ping_ok a 10.254.0.2
exit 0
