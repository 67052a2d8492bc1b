#!/usr/bin/env bash
# systemd integration without systemd as PID 1:
# - ipopd@.service passes `systemd-analyze verify` (with the built man pages
#   on MANPATH, ExecStart pointing at the built ipopd) and its offline
#   `systemd-analyze security` exposure is printed;
# - `ipopctl init` writes a config with no secret in it and a 0600 password
#   file owned by the run account; `ipopd --check` loads the password;
# - the daemon started from that config with a NOTIFY_SOCKET this test
#   listens on and WATCHDOG_USEC=300000 sends READY=1 (after which the TAP
#   exists and ipopctl answers), WATCHDOG=1 every ~150 ms from its control
#   loop (also after dropping to nobody), RELOADING=1 then READY=1 on SIGHUP,
#   STOPPING=1 on SIGTERM, and exits 0;
# - ipopctl without -s/-i finds the one running instance, and lists both and
#   exits 2 when a second one runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ops.sh"
harness_init
need_cmd systemd-analyze
id nobody >/dev/null 2>&1 || skip "no account nobody"
BUILD=${BUILD_ROOT:-$(dirname "$IPOPD")}

# --- the unit -------------------------------------------------------------
mkdir -p "$T/unit" "$T/man/man8" "$T/man/man5"
cp "$BUILD"/*.8 "$T/man/man8/"
cp "$BUILD"/*.5 "$T/man/man5/"
sed "s#^\(ExecStart[A-Za-z]*=\)[^ ]*/ipopd #\1$IPOPD #" "$BUILD/ipopd@.service" >"$T/unit/ipopd@t1.service"
grep -q "^ExecStart=$IPOPD " "$T/unit/ipopd@t1.service" || fail "unit: ExecStart not rewritten"
out=$(MANPATH=$T/man systemd-analyze verify "$T/unit/ipopd@t1.service" 2>&1) ||
	fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify printed: $out"
ok "systemd-analyze verify ipopd@.service: clean"
score=$(systemd-analyze security --offline=true "$T/unit/ipopd@t1.service" 2>/dev/null | grep -o 'Overall exposure level.*' || true)
log "systemd-analyze security --offline: ${score:-n/a}"

# --- ipopctl init -----------------------------------------------------------
chmod 0711 "$T"
make_wan
make_site a 1
init_site()
{
	local name=$1 addr=$2 port=$3 http=$4
	printf 'xmpp-secret-%s\n' "$name" | "$IPOPCTL" init "$name" --dir "$T/etc" --state-base "$T/state" \
		--user nobody --xmpp-user "gw-$name@example.test" --xmpp-server 127.0.0.1:1 \
		--address "$addr" --port "$port" --http "$http" >"$T/init-$name.txt" ||
		fail "ipopctl init $name: $(cat "$T/init-$name.txt")"
}
mkdir -p "$T/state" "$T/run"
init_site ovl1 10.254.0.1/24 5800 127.0.0.1:9474
assert_contains "$(cat "$T/init-ovl1.txt")" "ipopd -c $T/etc/ovl1.json" "init prints the next command"
assert_eq "$(stat -c '%a %U' "$T/etc/ovl1.xmpp-password")" "600 nobody" "password file mode/owner"
assert_eq "$(stat -c '%a %U %G' "$T/etc/ovl1.json")" "640 root $(id -gn nobody)" "config mode/owner"
grep -q 'xmpp-secret' "$T/etc/ovl1.json" && fail "the password is in the config"
if printf 'x\n' | "$IPOPCTL" init ovl1 --dir "$T/etc" --xmpp-user a@b --xmpp-server h --address 10.0.0.1/24 2>"$T/err"; then
	fail "init replaced an existing config without --force"
fi
"$IPOPD" -c "$T/etc/ovl1.json" --check >"$T/check.txt" || fail "--check of the init config: $(cat "$T/check.txt")"
assert_contains "$(cat "$T/check.txt")" '^xmpp_password: \(set\)$' "--check: password loaded from the file"
assert_contains "$(cat "$T/check.txt")" "^xmpp_password_file: $T/etc/ovl1.xmpp-password$" "--check: password file"
ok "ipopctl init: config 0640 without the secret, password 0600 owned by nobody, --check loads it"

# --- readiness, watchdog, reload, stop on a NOTIFY_SOCKET -------------------
cat >"$T/notify.py" <<-'PYEOF'
	import os, socket, sys, time
	s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
	s.bind(sys.argv[1])
	os.chmod(sys.argv[1], 0o777)
	with open(sys.argv[2], "a") as f:
	    while True:
	        m = s.recv(4096).decode()
	        f.write("%.3f %s\n" % (time.monotonic(), m.replace("\n", " ")))
	        f.flush()
PYEOF
spawn "$PY" "$T/notify.py" "$T/notify.sock" "$T/notify.log"
wait_for 5 test -S "$T/notify.sock" || fail "notify listener did not start"
spawn ip netns exec "$(ns a)" env NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=300000 \
	"$IPOPD" -c "$T/etc/ovl1.json" --socket "$T/run/ovl1.sock" >"$T/ipopd-ovl1.log" 2>&1
pid=$SPAWN_PID
wait_for 10 grep -q 'READY=1' "$T/notify.log" || fail "no READY=1 within 10 s"
nsx a ip link show ovl1 >/dev/null || fail "READY=1 sent but the TAP does not exist"
ctl "$T/run/ovl1.sock" status >/dev/null || fail "READY=1 sent but ipopctl gets no answer"
assert_contains "$(grep -m1 READY=1 "$T/notify.log")" 'STATUS=running: tap ovl1, port 5800' "READY status line"
ok "READY=1 with STATUS after the TAP and the management socket are up"
sleep 1.5
nwd=$(grep -c 'WATCHDOG=1' "$T/notify.log")
[ "$nwd" -ge 5 ] || fail "$nwd WATCHDOG=1 in ~1.5 s (expected one per ~150 ms)"
assert_eq "$(awk '$1 == "Uid:" { print $3 }' "/proc/$pid/status")" "$(id -u nobody)" "euid after start"
ok "$nwd WATCHDOG=1 messages from the control loop, running as nobody"

kill -HUP "$pid"
wait_for 5 bash -c "grep -A100 RELOADING=1 '$T/notify.log' | grep -q READY=1" ||
	fail "no RELOADING=1 followed by READY=1 after SIGHUP: $(tail -n 5 "$T/notify.log")"
assert_eq "$(ctl_get "$T/run/ovl1.sock" status 'd["reloads"]')" 1 "reloads"
ok "SIGHUP: RELOADING=1, then READY=1; the reload read the password file as nobody"

# --- ipopctl finds the instance -------------------------------------------
export IPOPCTL_RUN_DIR=$T/run
one=$("$IPOPCTL" status --json) || fail "ipopctl without -s/-i with one instance running"
assert_eq "$(json_get 'd["tap"]' <<<"$one")" ovl1 "instance found without -s"
init_site ovl2 10.253.0.1/24 5801 127.0.0.1:9475
start_ipopd a "$T/etc/ovl2.json" --socket "$T/run/ovl2.sock"
rc=0
"$IPOPCTL" status >"$T/two.out" 2>"$T/two.err" || rc=$?
assert_eq "$rc" 2 "ipopctl exit status with two instances"
assert_contains "$(cat "$T/two.err")" '2 instances run' "ipopctl lists the instances"
grep -q -- '-i ovl1 ' "$T/two.err" && grep -q -- '-i ovl2 ' "$T/two.err" || fail "not both listed: $(cat "$T/two.err")"
ok "ipopctl alone: one instance -> it; two -> listed, exit 2"

kill -TERM "$pid"
wait "$pid" || fail "ipopd exited with $? after SIGTERM"
grep -q 'STOPPING=1' "$T/notify.log" || fail "no STOPPING=1"
ok "SIGTERM: STOPPING=1, exit 0"
exit 0
