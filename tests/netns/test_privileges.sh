#!/usr/bin/env bash
# Least privilege without systemd: site a's config names "user": "nobody".
# After setup /proc/PID/status of a's ipopd shows uid/gid nobody, CAP_NET_ADMIN
# as the only effective, permitted and bounding capability, nothing
# inheritable or ambient, NoNewPrivs; every worker thread runs as nobody with
# no capability beyond it. The node key and the state directory belong to
# nobody with modes 0600/0700, and so does the overlay's psk_file (root's
# 0600 file before the start). Traffic flows; rekeys every 2 s keep working
# (they write the sequence store in the state directory); a SIGHUP reload
# that adds a peer is applied; SIGTERM still exits 0 (routes and TAP torn
# down with CAP_NET_ADMIN). An unknown account is refused once setup is
# done, before the loop runs: the message names file and key, everything
# set up is undone and ipopd exits 1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ops.sh"
harness_init
id nobody >/dev/null 2>&1 || skip "no account nobody"

PORT=5800
make_wan
make_site a 1
make_site b 2
# nobody must reach its config (reload) through the temp dir: traversable,
# not listable; the keyed configs hold no secret.
chmod 0711 "$T"
# An overlay PSK in a root-owned 0600 file: handed to nobody at the drop
# (a reload reads it again).
psk=$(gen_psk)
for s in a b; do
	printf '%s\n' "$psk" >"$T/psk-$s"
	chmod 0600 "$T/psk-$s"
done
write_keyed_config "$T/a.json" site=a port=$PORT peers=b rekey=2 psk_file="$T/psk-a" extra='"user": "nobody"'
write_keyed_config "$T/b.json" site=b port=$PORT peers=a rekey=2 psk_file="$T/psk-b"
chmod 0644 "$T/a.json"

# A missing account: refused, nothing left running.
sed 's/"user": "nobody"/"user": "no-such-account-ipt"/' "$T/a.json" >"$T/bad.json"
if out=$(nsx a "$IPOPD" -c "$T/bad.json" 2>&1); then
	fail "ipopd started with an unknown ipopd.user"
fi
assert_contains "$out" 'bad.json: ipopd.user: no account "no-such-account-ipt"' "unknown user message"
ok "unknown account refused: $(grep 'ipopd.user' <<<"$out")"

start_ipopd a "$T/a.json"
pid_a=$IPOPD_PID
start_ipopd b "$T/b.json"
sa=$(config_sock "$T/a.json")
wait_link_up 15 "$sa" b
ping_ok a 10.254.0.2

nobody_uid=$(id -u nobody)
nobody_gid=$(id -g nobody)
read -r _ ruid euid suid fsuid < <(grep '^Uid:' "/proc/$pid_a/status")
read -r _ rgid egid sgid fsgid < <(grep '^Gid:' "/proc/$pid_a/status")
[ "$ruid $euid $suid $fsuid" = "$nobody_uid $nobody_uid $nobody_uid $nobody_uid" ] ||
	fail "uids $ruid $euid $suid $fsuid, expected $nobody_uid"
[ "$rgid $egid $sgid $fsgid" = "$nobody_gid $nobody_gid $nobody_gid $nobody_gid" ] ||
	fail "gids $rgid $egid $sgid $fsgid, expected $nobody_gid"
groups=$(awk '$1 == "Groups:" { $1 = ""; print }' "/proc/$pid_a/status" | xargs)
assert_eq "$groups" "$nobody_gid" "supplementary groups"
assert_eq "$(caps_of "$pid_a" CapEff)" $CAPS_NET_ADMIN "CapEff"
assert_eq "$(caps_of "$pid_a" CapPrm)" $CAPS_NET_ADMIN "CapPrm"
assert_eq "$(caps_of "$pid_a" CapBnd)" $CAPS_NET_ADMIN "CapBnd"
assert_eq "$(caps_of "$pid_a" CapInh)" 0000000000000000 "CapInh"
assert_eq "$(caps_of "$pid_a" CapAmb)" 0000000000000000 "CapAmb"
assert_eq "$(awk '$1 == "NoNewPrivs:" { print $2 }' "/proc/$pid_a/status")" 1 "NoNewPrivs"
ntask=0
for st in /proc/"$pid_a"/task/*/status; do
	ntask=$((ntask + 1))
	u=$(awk '$1 == "Uid:" { print $2 $3 $4 }' "$st")
	assert_eq "$u" "$nobody_uid$nobody_uid$nobody_uid" "uids of $st"
	for f in CapEff CapPrm CapInh CapAmb; do
		v=$(awk -v f="$f:" '$1 == f { print $2 }' "$st")
		[ $((16#$v & ~16#$CAPS_NET_ADMIN)) -eq 0 ] || fail "$st: $f $v beyond CAP_NET_ADMIN"
	done
done
assert_gt "$ntask" 1 "threads of ipopd"
ok "/proc/$pid_a: uid/gid nobody, CapEff=CapPrm=CapBnd=CAP_NET_ADMIN, no inheritable/ambient, NoNewPrivs, $ntask threads checked"

kd=$(kstate_dir a)
assert_eq "$(stat -c '%U %a' "$kd")" "nobody 700" "state directory owner and mode"
assert_eq "$(stat -c '%U %a' "$kd/node.key")" "nobody 600" "node.key owner and mode"
assert_eq "$(stat -c '%U %a' "$T/psk-a")" "nobody 600" "psk_file owner and mode"
ok "state directory nobody 0700, node.key and psk_file nobody 0600"

# Rekeys after the drop (interval 2 s), traffic uninterrupted.
r0=$(link_get "$sa" b rekeys)
wait_for 15 bash -c "[ \$(\"$IPOPCTL\" -s '$sa' links --json | $PY -c 'import json,sys; print(next(l[\"rekeys\"] for l in json.load(sys.stdin)[\"links\"] if l[\"name\"]==\"b\"))') -ge $((r0 + 2)) ]" ||
	fail "no two rekeys within 15 s after the drop (rekeys $r0 -> $(link_get "$sa" b rekeys))"
out=$(nsx a ping -c 20 -i 0.1 -W 2 10.254.0.2 2>&1) || fail "ping after rekeys: $out"
ok "rekeys after the drop: $r0 -> $(link_get "$sa" b rekeys), 20 pings answered"

# Reload as nobody: a new peer c appears.
make_site c 3
cp "$T/psk-b" "$T/psk-c"
write_keyed_config "$T/c.json" site=c port=$PORT peers=a psk_file="$T/psk-c"
write_keyed_config "$T/a.json" site=a port=$PORT peers="b c" rekey=2 psk_file="$T/psk-a" extra='"user": "nobody"'
chmod 0644 "$T/a.json"
kill -HUP "$pid_a"
wait_for 5 bash -c "[ \"\$(\"$IPOPCTL\" -s '$sa' status --json | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"links\"])')\" = 2 ]" ||
	fail "reload after the drop did not add peer c: $(ctl "$sa" status --json)"
start_ipopd c "$T/c.json"
wait_link_up 15 "$sa" c
ping_ok a 10.254.0.3
ping_ok a 10.254.0.2
ok "SIGHUP reload after the drop applied (peer c added and linked)"

stop_ipopd "$pid_a"
ok "SIGTERM: clean exit as nobody"
exit 0
