#!/usr/bin/env bash
# Command line and configuration errors: --version/--help; --check accepts the
# IPOP controller configs of the seeds as they are (with warnings for the keys
# that mean nothing here); every bad config is refused with one line
# "FILE:LINE: KEY: expected ..." and a non-zero exit, and nothing starts: no
# TAP appears in the namespace where ipopd ran, no socket is created.
. "$(dirname "$0")/lib.sh"
harness_init

out=$("$IPOPD" --version 2>&1) || fail "ipopd --version exited non-zero: $out"
assert_contains "$out" "[0-9]+\.[0-9]+" "ipopd --version"
out=$("$IPOPD" --help 2>&1) || fail "ipopd --help exited non-zero: $out"
for opt in -c --tap --socket --check; do
	assert_contains "$out" "$opt" "ipopd --help mentions $opt"
done
if out=$("$IPOPD" --no-such-option 2>&1); then fail "an unknown option was accepted"; fi
if out=$("$IPOPCTL" -s "$T/none.sock" status 2>&1); then fail "ipopctl on a missing socket exited 0"; fi
assert_contains "$out" "none\.sock" "ipopctl error names the socket"
ok "--version, --help, unknown option, ipopctl on a missing socket"

# --- the seeds' configs, verbatim ---
seeds=()
for f in "$SRCDIR"/tests/data/seed-*.json; do seeds+=("$f"); done
# Extracted from the seed page itself when it is around (the repository sits
# next to the shared seeds in the development tree).
seed_txt=("$SRCDIR"/../shared/seeds/000_*.txt)
if [ ${#seed_txt[@]} -gt 0 ]; then
	awk -v dir="$T" '/^\{/ { n++; f = dir "/seed-extracted-" n ".json" } f { print > f } /^\}/ { f = "" }' "${seed_txt[0]}"
	for f in "$T"/seed-extracted-*.json; do seeds+=("$f"); done
fi
[ ${#seeds[@]} -ge 2 ] || fail "no seed configs found (tests/data/seed-*.json or ../shared/seeds)"
for f in "${seeds[@]}"; do
	rc=0
	"$IPOPD" -c "$f" --check >"$T/check.out" 2>"$T/check.err" || rc=$?
	[ $rc -eq 0 ] || fail "--check $f exited $rc: $(cat "$T/check.err")"
	port=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["TincanSender"]["svpn_port"])' "$f")
	assert_contains "$(cat "$T/check.out")" "$port" "--check $f prints the effective port"
	assert_contains "$(cat "$T/check.out" "$T/check.err")" "StatReport|CentralVisualizer|stat_server|TincanListener|TincanDispatcher" \
		"--check $f warns about keys ignored here"
	grep -qiE "warn" "$T/check.err" "$T/check.out" || fail "--check $f printed no warning"
	ok "--check ${f##*/}: exit 0, $(grep -ciE warn "$T/check.err" "$T/check.out" | awk -F: '{s += $NF} END {print s}') warning line(s)"
done
cat "$T/check.out"

# --- a good minimal config, then one defect at a time ---
key=$(gen_key)
printf '%s\n' "$(gen_key)" >"$T/good.key"
chmod 0600 "$T/good.key"
good="$T/good.json"
cat >"$good" <<EOF
{
  "CFx": {
    "vpn_type": "GroupVPN",
    "ip4_mask": 24,
    "contr_port": 5801
  },
  "Logger": {"controller_logging": "INFO"},
  "TincanSender": {
    "switchmode": 0,
    "svpn_port": 5800
  },
  "BaseTopologyManager": {
    "ip4": "10.254.0.1"
  },
  "ipopd": {
    "tap": "ipbad",
    "workers": 1,
    "mgmt_socket": "$T/cli.sock",
    "state_dir": "$T/cli-state",
    "peers": [
      {"name": "b", "endpoint": "198.18.0.2:5800", "ip4": "10.254.0.2",
       "sa_in": {"spi": "0x80000201", "key": "$key"},
       "sa_out": {"spi": "0x80000102",
                  "key_file": "$T/good.key"}}
    ]
  }
}
EOF
out=$("$IPOPD" -c "$good" --check 2>&1) || fail "--check of the good config failed: $out"
out=$("$IPOPD" -c "$good" --tap ipother --socket "$T/other.sock" --check 2>&1) ||
	fail "--check with --tap/--socket failed: $out"
assert_contains "$out" "ipother" "--check shows the --tap override"
assert_contains "$out" "other\.sock" "--check shows the --socket override"
grep -qi "$key" <<<"$out" && fail "--check prints a secret key"
ok "good config accepted; overrides shown; no key printed"

line_of() { grep -n -- "$1" "$good" | head -n 1 | cut -d: -f1; }
# bad NAME LINES KEY SED_EXPR [PREP]: LINES = accepted line numbers ("" = any).
nbad=0
bad()
{
	local name=$1 lines=$2 key=$3 expr=$4 f="$T/bad-$1.json" rc errl l okline=0
	sed -e "$expr" "$good" >"$f"
	cmp -s "$f" "$good" && fail "harness: sed for '$name' changed nothing"
	rc=0
	"$IPOPD" -c "$f" --check >"$T/bad.out" 2>"$T/bad.err" || rc=$?
	[ $rc -ne 0 ] || fail "$name: --check exited 0"
	# Warnings (timestamped log lines) may precede it; the error is one line.
	errl=$(grep -vE '^$|^[0-9:.]+ (WARNING|NOTICE|INFO|DEBUG) ' "$T/bad.err" || true)
	[ "$(wc -l <<<"$errl")" -eq 1 ] || fail "$name: expected one error line on stderr, got: $(cat "$T/bad.err")"
	[[ "$errl" =~ ^"$f":([0-9]+)(:[0-9]+)?:\ (.*)$ ]] || fail "$name: not 'FILE:LINE: ...': $errl"
	l=${BASH_REMATCH[1]}
	if [ -n "$lines" ]; then
		for x in $lines; do [ "$x" = "$l" ] && okline=1; done
		[ $okline = 1 ] || fail "$name: line $l, expected one of: $lines ($errl)"
	fi
	[ -z "$key" ] || grep -qF -- "$key" <<<"${BASH_REMATCH[3]}" || fail "$name: key '$key' not named: $errl"
	[ -z "$key" ] || grep -q "expected" <<<"$errl" || fail "$name: no 'expected ...': $errl"

	# A real start in a fresh namespace must fail the same way and leave nothing.
	new_ns "cli$nbad"
	rc=0
	nsx "cli$nbad" timeout 10 "$IPOPD" -c "$f" >"$T/bad.out" 2>"$T/bad.err" || rc=$?
	[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "$name: ipopd started (rc $rc)"
	grep -qF "$f:$l:" "$T/bad.err" || fail "$name: start did not report $f:$l: $(cat "$T/bad.err")"
	links=$(ip -n "$(ns "cli$nbad")" -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
	[ "$links" = "lo " ] || fail "$name: interfaces left in the namespace: $links"
	[ -e "$T/cli.sock" ] && fail "$name: socket created"
	nbad=$((nbad + 1))
	ok "$name: $errl"
}

l=$(line_of '"ip4_mask"')
bad invalid_json "$l" "" "${l}s/24,/24,,/"
l=$(line_of '"svpn_port"')
bad wrong_type "$l" svpn_port "${l}s/5800/\"5800\"/"
l=$(line_of '"switchmode"')
bad unknown_mode "$l" switchmode "${l}s/0,/2,/"
bad duplicate_port "$(line_of '"svpn_port"') $(line_of '"contr_port"')" _port "s/\"contr_port\": 5801/\"contr_port\": 5800/"
bad missing_ip4 "" ip4 "/\"ip4\": \"10.254.0.1\"/d; s/\"BaseTopologyManager\": {/\"BaseTopologyManager\": {\"num_successors\": 2/"
l=$(line_of '"key_file"')
bad key_file_unreadable "$l" key_file "${l}s|good.key|missing.key|"
cp "$T/good.key" "$T/open.key"
chmod 0644 "$T/open.key"
bad key_file_mode_0644 "$l" key_file "${l}s|good.key|open.key|"
printf '%s\n' "${key:0:70}" >"$T/short.key"
chmod 0600 "$T/short.key"
bad key_file_short "$l" key_file "${l}s|good.key|short.key|"
l=$(line_of '"sa_in"')
bad key_short "$l" key "${l}s/$key/${key:0:64}/"
bad endpoint_garbage "$(line_of '"endpoint"')" endpoint "s/198.18.0.2:5800/198.18.0.2:notaport/"
ok "$nbad bad configs refused, nothing started"
exit 0
