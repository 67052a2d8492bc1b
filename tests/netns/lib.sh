# Shared harness of the namespace integration tests (sourced, bash).
#
# Every run owns a unique prefix ("ipt<pid>") for its namespaces and a temp
# directory; every process it starts is recorded by PID. The EXIT trap (also
# reached from INT/TERM) kills those PIDs, deletes those namespaces (which takes
# their veths and bridges with them) and removes the temp directory, so a run
# that fails half-way leaves nothing behind and parallel leftovers never collide.
#
# Topology helpers build what ENVIRONMENT.md describes: a WAN namespace with a
# bridge standing in for the Internet (198.18.0.0/24, the benchmarking range),
# one namespace per site host (eth0 on the WAN, lxcbr0 like LXC's, NAT out of
# eth0) and containers as further namespaces bridged into a site's lxcbr0.
# Veths are created directly inside the namespaces, so no interface ever
# appears in the host's own namespace.
#
# KEEP_TMP=1 keeps the temp dir (configs, logs, captures) for a post-mortem.
#
# Exit codes: 0 pass, 1 fail (with a "FAIL: ..." line), 77 skip (not root, or
# the machine cannot create namespaces).

set -eE -o pipefail
shopt -s nullglob

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=${SRCDIR:-$(cd "$LIB_DIR/../.." && pwd)}
IPOPD=${IPOPD:-$SRCDIR/build/ipopd}
IPOPCTL=${IPOPCTL:-$SRCDIR/build/ipopctl}
PY=/usr/bin/python3 # Debian's, with its modules (python3 on PATH may be a shim)
IPOP_LOG=${IPOP_LOG:-INFO}

P="ipt$$"
T=""
NSLIST=()
PIDS=()
declare -A SITE_IDX=()  # site name -> index (198.18.0.IDX)
declare -A SITE_GW=()   # site name -> lxcbr0 IPv4 ("" = none)
declare -A CONT_SITE=() # container name -> site name

TEST_NAME=$(basename "$0" .sh)

log() { printf '[%s] %s\n' "$TEST_NAME" "$*"; }
ok() { printf '[%s] ok: %s\n' "$TEST_NAME" "$*"; }

# stop_pid PID: SIGTERM, up to 3 s to exit, then SIGKILL. By PID only.
stop_pid()
{
	local pid=$1 n
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((n = 0; n < 30; n++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}
fail()
{
	printf '[%s] FAIL: %s\n' "$TEST_NAME" "$*" >&2
	exit 1
}
skip()
{
	printf '[%s] SKIP: %s\n' "$TEST_NAME" "$*"
	exit 77
}

# Reported once, where the failure reaches the script's top level (the trap
# fires in every function frame the error unwinds through).
on_err()
{
	[ ${#FUNCNAME[@]} -le 2 ] || return 0
	printf '[%s] FAIL: command failed (rc %s) at %s line %s: %s\n' \
		"$TEST_NAME" "$1" "${BASH_SOURCE[1]##*/}" "$2" "$3" >&2
}
trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR

# Prints the tail of every daemon log: the first thing one wants after a failure.
dump_logs()
{
	local f
	[ -n "$T" ] && [ -d "$T" ] || return 0
	for f in "$T"/*.log; do
		printf -- '--- %s (last 25 lines) ---\n' "${f##*/}" >&2
		tail -n 25 "$f" >&2 || true
	done
}

cleanup()
{
	local rc=$? i pid n
	trap - ERR
	set +eE
	[ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && dump_logs
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${PIDS[i]}"
	done
	wait 2>/dev/null
	for ((i = ${#NSLIST[@]} - 1; i >= 0; i--)); do
		ip netns del "${NSLIST[i]}" 2>/dev/null
	done
	if [ -n "${KEEP_TMP:-}" ] && [ -n "$T" ]; then
		printf '[%s] temp dir kept: %s\n' "$TEST_NAME" "$T" >&2
	elif [ -n "$T" ]; then
		rm -rf "$T"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Namespace of a site/container/WAN short name.
ns() { printf '%s-%s' "$P" "$1"; }
# Runs a command inside the namespace of a short name.
nsx()
{
	local n=$1
	shift
	ip netns exec "$(ns "$n")" "$@"
}

need_cmd()
{
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "$c is not installed"
	done
}

# Checks the machine can do what the tests need; sets up the temp dir.
harness_init()
{
	[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"
	need_cmd ip nft ping
	if ! ip netns add "$P-probe" 2>/dev/null; then
		skip "cannot create network namespaces"
	fi
	ip netns del "$P-probe"
	[ -x "$IPOPD" ] || fail "ipopd not found at $IPOPD (set IPOPD or build first)"
	[ -x "$IPOPCTL" ] || fail "ipopctl not found at $IPOPCTL (set IPOPCTL)"
	T=$(mktemp -d "/tmp/$P.XXXXXX")
	chmod 0700 "$T"
	mkdir -p "$T/keys"
}

new_ns()
{
	local name
	name=$(ns "$1")
	ip netns add "$name"
	NSLIST+=("$name")
	ip -n "$name" link set lo up
}

# make_wan: the "Internet": namespace "wan" with bridge br0.
make_wan()
{
	new_ns wan
	ip -n "$(ns wan)" link add br0 type bridge forward_delay 0 stp_state 0
	ip -n "$(ns wan)" link set br0 up
}

# make_site NAME IDX [LXCBR_ADDR]
# Site host: eth0 = 198.18.0.IDX/24 on the WAN bridge; bridge lxcbr0 with
# LXCBR_ADDR/24 (default 10.0.3.1, the same on every site like real LXC; "none"
# for no address); IPv4 forwarding and NAT masquerade of 10.0.3.0/24 out of eth0.
make_site()
{
	local name=$1 idx=$2 gw=${3:-10.0.3.1} n
	n=$(ns "$name")
	new_ns "$name"
	SITE_IDX[$name]=$idx
	ip -n "$(ns wan)" link add "w-$name" type veth peer name eth0 netns "$n"
	ip -n "$(ns wan)" link set "w-$name" master br0 up
	ip -n "$n" addr add "198.18.0.$idx/24" dev eth0
	ip -n "$n" link set eth0 up
	# The WAN carries what a NIC puts on the wire: single datagrams, not the
	# UDP GSO super-packets a veth would pass whole (captures see each one).
	ip netns exec "$n" ethtool -K eth0 tx-udp-segmentation off >/dev/null 2>&1 || true
	ip -n "$n" link add lxcbr0 type bridge forward_delay 0 stp_state 0
	if [ "$gw" != none ]; then
		ip -n "$n" addr add "$gw/24" dev lxcbr0
		SITE_GW[$name]=$gw
	else
		SITE_GW[$name]=""
	fi
	ip -n "$n" link set lxcbr0 up
	ip netns exec "$n" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$n" nft -f - <<-EOF
		table ip nat {
			chain postrouting {
				type nat hook postrouting priority srcnat; policy accept;
				ip saddr 10.0.3.0/24 oifname "eth0" masquerade
			}
		}
	EOF
}

# make_container SITE NAME ADDR4/LEN [ADDR6/LEN]
# A namespace whose eth0 is a veth enslaved to SITE's lxcbr0; default route via
# the site's lxcbr0 address when it has one. IPv6 without DAD so the address is
# usable at once (neighbour discovery itself still crosses the overlay).
make_container()
{
	local site=$1 name=$2 a4=$3 a6=${4:-} n s
	s=$(ns "$site")
	n=$(ns "$name")
	new_ns "$name"
	CONT_SITE[$name]=$site
	ip -n "$s" link add "v-$name" type veth peer name eth0 netns "$n"
	ip -n "$s" link set "v-$name" master lxcbr0 up
	ip -n "$n" addr add "$a4" dev eth0
	[ -n "$a6" ] && ip -n "$n" addr add "$a6" dev eth0 nodad
	ip -n "$n" link set eth0 up
	if [ -n "${SITE_GW[$site]}" ]; then
		ip -n "$n" route add default via "${SITE_GW[$site]}"
	fi
}

# set_container_mtu SITE MTU: containers bridged with a TAP must not send
# frames larger than the TAP's MTU (the bridge would drop them), exactly like
# real LXC containers behind an overlay.
set_container_mtu()
{
	local site=$1 mtu=$2 c
	for c in "${!CONT_SITE[@]}"; do
		[ "${CONT_SITE[$c]}" = "$site" ] || continue
		ip -n "$(ns "$site")" link set "v-$c" mtu "$mtu"
		ip -n "$(ns "$c")" link set eth0 mtu "$mtu"
	done
}

# 72 hex digits: 32-byte AES-256 key || 4-byte GCM salt.
gen_key() { od -An -tx1 -N36 /dev/urandom | tr -d ' \n'; }

# SPI of the SA carrying traffic FROM -> TO (chosen by the receiver; top bit set).
spi_for() { printf '0x8000%02x%02x' "${SITE_IDX[$1]}" "${SITE_IDX[$2]}"; }

# Key of the SA FROM -> TO of overlay TAG (created on first use, then stable,
# so both ends' configs agree).
link_key()
{
	local f="$T/keys/$3-$1-$2"
	[ -s "$f" ] || gen_key >"$f"
	cat "$f"
}

# write_config FILE key=value...
#   site=NAME (required)  mode=l3|switch  port=5800  tap=ipop<NAME>
#   net=10.254.0 mask=24 hostoff=0 (virtual IPv4 = net.(IDX+hostoff))  peers="b c"
#   epnet=198.18.0 (peer endpoints: epnet.IDX:port)  bridge=lxcbr0 (switch)
#   workers=1  routes_<peer>='"192.168.50.0/24"'  extra='"key": value, ...'
#   sock=PATH  state=DIR  (defaults under the temp dir, per site and TAP)
#   keying=manual|noise  manual: SAs whose keys come from link_key with the
#                    port as the overlay tag; noise: see write_keyed_config
write_config()
{
	local file=$1
	shift
	local site="" mode=l3 port=5800 tap="" net=10.254.0 mask=24 peers="" epnet=198.18.0
	local bridge="" workers=1 extra="" sock="" state="" hostoff=0 keying=manual id="" kv k v
	local psk="" psk_file="" allowed="" rekey="" rekey_packets="" keepalive="" link_timeout=""
	local key_export=""
	declare -A routes=() pkeys=()
	for kv in "$@"; do
		k=${kv%%=*}
		v=${kv#*=}
		case $k in
		site) site=$v ;;
		mode) mode=$v ;;
		port) port=$v ;;
		tap) tap=$v ;;
		net) net=$v ;;
		mask) mask=$v ;;
		hostoff) hostoff=$v ;;
		peers) peers=$v ;;
		epnet) epnet=$v ;;
		bridge) bridge=$v ;;
		workers) workers=$v ;;
		extra) extra=$v ;;
		sock) sock=$v ;;
		state) state=$v ;;
		keying) keying=$v ;;
		id) id=$v ;;
		psk) psk=$v ;;
		psk_file) psk_file=$v ;;
		allowed) allowed=$v ;;
		rekey) rekey=$v ;;
		rekey_packets) rekey_packets=$v ;;
		keepalive) keepalive=$v ;;
		link_timeout) link_timeout=$v ;;
		key_export) key_export=$v ;;
		routes_*) routes[${k#routes_}]=$v ;;
		key_*) pkeys[${k#key_}]=$v ;;
		*) fail "write_config: unknown argument $kv" ;;
		esac
	done
	[ -n "$site" ] || fail "write_config: site= missing"
	case $keying in manual | noise) ;; *) fail "write_config: keying=$keying (manual or noise)" ;; esac
	[ -n "$tap" ] || tap="ipop$site"
	[ -n "$sock" ] || sock="$T/$site-$tap.sock"
	if [ -z "$state" ]; then
		if [ "$keying" = noise ]; then state=$(kstate_dir "$site" "$id"); else state="$T/state-$site-$tap"; fi
	fi
	local swm=0
	[ "$mode" = switch ] && swm=1
	local idx=${SITE_IDX[$site]} p first=1 rt
	# Keys first: node_pubkey may fail, and must not do so inside the redirection.
	if [ "$keying" = noise ]; then
		for p in $peers; do
			[ -n "${pkeys[$p]:-}" ] || pkeys[$p]=$(node_pubkey "$p" "$id")
		done
	fi
	{
		printf '{\n'
		printf '  "CFx": {"vpn_type": "GroupVPN", "ip4_mask": %s},\n' "$mask"
		printf '  "Logger": {"controller_logging": "%s"},\n' "$IPOP_LOG"
		printf '  "TincanSender": {"switchmode": %s, "svpn_port": %s},\n' "$swm" "$port"
		printf '  "BaseTopologyManager": {"ip4": "%s.%s"},\n' "$net" $((idx + hostoff))
		printf '  "ipopd": {\n'
		printf '    "tap": "%s", "workers": %s,\n' "$tap" "$workers"
		printf '    "mgmt_socket": "%s", "state_dir": "%s",\n' "$sock" "$state"
		[ -n "$bridge" ] && printf '    "bridge": "%s",\n' "$bridge"
		[ -n "$psk" ] && printf '    "psk": "%s",\n' "$psk"
		[ -n "$psk_file" ] && printf '    "psk_file": "%s",\n' "$psk_file"
		[ -n "$allowed" ] && printf '    "allowed_keys": [%s],\n' "$allowed"
		[ -n "$rekey" ] && printf '    "rekey_interval": %s,\n' "$rekey"
		[ -n "$rekey_packets" ] && printf '    "rekey_packets": %s,\n' "$rekey_packets"
		[ -n "$keepalive" ] && printf '    "keepalive_interval": %s,\n' "$keepalive"
		[ -n "$link_timeout" ] && printf '    "link_timeout": %s,\n' "$link_timeout"
		[ -n "$key_export" ] && printf '    "key_export": %s,\n' "$key_export"
		[ -n "$extra" ] && printf '    %s,\n' "$extra"
		printf '    "peers": ['
		for p in $peers; do
			[ $first = 1 ] || printf ','
			first=0
			rt=""
			[ -n "${routes[$p]:-}" ] && rt=", \"routes\": [${routes[$p]}]"
			printf '\n      {"name": "%s", "endpoint": "%s.%s:%s", "ip4": "%s.%s"%s,\n' \
				"$p" "$epnet" "${SITE_IDX[$p]}" "$port" "$net" $((SITE_IDX[$p] + hostoff)) "$rt"
			if [ "$keying" = noise ]; then
				printf '       "public_key": "%s"}' "${pkeys[$p]}"
			else
				printf '       "sa_in": {"spi": "%s", "key": "%s"},\n' \
					"$(spi_for "$p" "$site")" "$(link_key "$p" "$site" "$port")"
				printf '       "sa_out": {"spi": "%s", "key": "%s"}}' \
					"$(spi_for "$site" "$p")" "$(link_key "$site" "$p" "$port")"
			fi
		done
		printf '\n    ]\n  }\n}\n'
	} >"$file.tmp"
	mv "$file.tmp" "$file" # atomic: a SIGHUP never reads half a file
}

# Socket path named in a config file.
config_sock() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["ipopd"]["mgmt_socket"])' "$1"; }

ctl() { "$IPOPCTL" -s "$@"; }

# json_get EXPR: evaluates EXPR with d = the JSON document on stdin.
json_get() { "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
# ctl_get SOCK CMD EXPR
ctl_get() { ctl "$1" "$2" --json | json_get "$3"; }
# A peer's field as `ipopctl peers --json` reports it.
peer_get() { ctl_get "$1" peers "next(p for p in d['peers'] if p['name']=='$2')['$3']"; }

# start_ipopd NS CONFIG [ARGS...]: starts ipopd inside namespace NS, records its
# PID (also in IPOPD_PID) and waits until its management socket answers. The
# socket is the one given with --socket, else the config's mgmt_socket.
start_ipopd()
{
	local n=$1 cfg=$2 sock="" a prev="" i
	shift 2
	for a in "$@"; do
		[ "$prev" = --socket ] && sock=$a
		prev=$a
	done
	[ -n "$sock" ] || sock=$(config_sock "$cfg")
	local logf
	logf="$T/ipopd-$n-$(basename "$cfg" .json).log"
	spawn ip netns exec "$(ns "$n")" "$IPOPD" -c "$cfg" "$@" >>"$logf" 2>&1
	IPOPD_PID=$SPAWN_PID
	for ((i = 0; i < 100; i++)); do
		kill -0 "$IPOPD_PID" 2>/dev/null || fail "ipopd ($cfg in $n) exited during start-up"
		[ -S "$sock" ] && ctl "$sock" status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "ipopd ($cfg in $n) did not answer on $sock within 10 s"
}

# stop_ipopd PID: SIGTERM, expects a clean exit (status 0) within 5 s.
stop_ipopd()
{
	local pid=$1 i rc=0
	kill -TERM "$pid"
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && fail "ipopd $pid still running 5 s after SIGTERM"
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ] || fail "ipopd $pid exited with status $rc after SIGTERM"
}

# spawn CMD [ARGS...]: starts CMD in the background, records its PID (also in
# SPAWN_PID) for cleanup. The subshell drops the harness's traps and execs, so
# the PID is CMD's own and the EXIT trap never runs twice. "spawn nsx NS ..."
# is understood (ip netns exec execs too).
spawn()
{
	[ "$1" = nsx ] && set -- ip netns exec "$(ns "$2")" "${@:3}"
	(
		trap - EXIT ERR INT TERM
		exec "$@"
	) &
	SPAWN_PID=$!
	PIDS+=("$SPAWN_PID")
}

# wait_for TIMEOUT_S CMD [ARGS...]: retries CMD every 0.1 s; 0 once it succeeds.
wait_for()
{
	local timeout=$1 end
	shift
	end=$((SECONDS + timeout))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# --- assertions: each prints what failed and exits 1 ---

assert_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }
assert_gt()
{
	[[ "$1" =~ ^[0-9]+$ ]] || fail "$3: not a number: '$1'"
	[ "$1" -gt "$2" ] || fail "$3: expected > $2, got $1"
}
assert_contains()
{
	grep -qE -- "$2" <<<"$1" || fail "$3: no match for /$2/ in: $1"
}
assert_ok()
{
	local msg=$1
	shift
	"$@" || fail "$msg (command: $*)"
}

# ping_ok FROM DST [PING_ARGS...]: waits up to 10 s for a first answer, then
# requires 3 more with no loss.
ping_ok()
{
	local from=$1 dst=$2 out
	shift 2
	wait_for 10 nsx "$from" ping -c 1 -W 1 "$@" "$dst" ||
		fail "no answer from $dst to a ping in $from within 10 s"
	out=$(nsx "$from" ping -c 3 -i 0.2 -W 2 "$@" "$dst" 2>&1) ||
		fail "ping $from -> $dst lost packets: $out"
	ok "ping $from -> $dst $*"
}

# ping_fails FROM DST [PING_ARGS...]: three pings, none answered. Prints ping's output.
ping_fails()
{
	local from=$1 dst=$2 out
	shift 2
	if out=$(nsx "$from" ping -c 3 -i 0.3 -W 1 "$@" "$dst" 2>&1); then
		fail "ping $from -> $dst was answered but must not be: $out"
	fi
	printf '%s\n' "$out"
}

# --- keyed links (issue 3): identities from ipopd, peers by public key ---

# Identity state directory of SITE (ID distinguishes two overlays run side by
# side by one site: each instance needs its own state directory and key).
kstate_dir() { printf '%s/kstate-%s%s' "$T" "$1" "${2:+-$2}"; }

# node_pubkey SITE [ID]: the base64 public key of SITE's identity, as
# `ipopd --show-pubkey` prints it (which creates node.key on first use). Runs
# ipopd against a stub config with the same state_dir and no peers, so the
# keys exist before the real configs, which name each other's keys, are written.
node_pubkey()
{
	local site=$1 id=${2:-} cache stub out
	cache="$T/keys/pub-$site${id:+-$id}"
	if [ ! -s "$cache" ]; then
		stub="$T/keys/stub-$site${id:+-$id}.json"
		cat >"$stub" <<-EOS
			{
			  "CFx": {"vpn_type": "GroupVPN", "ip4_mask": 24},
			  "TincanSender": {"switchmode": 0, "svpn_port": 5800},
			  "BaseTopologyManager": {"ip4": "10.254.0.${SITE_IDX[$site]:-1}"},
			  "ipopd": {"tap": "stub", "mgmt_socket": "$T/keys/stub.sock",
			            "state_dir": "$(kstate_dir "$site" "$id")", "peers": []}
			}
		EOS
		out=$("$IPOPD" -c "$stub" --show-pubkey 2>&1) ||
			fail "ipopd -c $stub --show-pubkey failed: $out"
		[[ "$out" =~ ^[A-Za-z0-9+/]{43}=$ ]] ||
			fail "ipopd --show-pubkey printed no 44-character base64 key: '$out'"
		printf '%s\n' "$out" >"$cache"
	fi
	cat "$cache"
}

# A random 32-byte key in base64 (a public key nobody holds the private key of).
rand_b64key() { head -c 32 /dev/urandom | base64; }

# write_keyed_config FILE key=value...
# write_config with keying=noise: the peers are keyed by public key (no SAs):
#   site= mode= port= tap= net= mask= hostoff= peers= epnet= bridge= workers=
#   sock= extra= routes_<peer>=   as in write_config
#   id=ID            identity/overlay tag: state_dir = kstate_dir SITE ID and
#                    the peers' keys are node_pubkey PEER ID (default: none)
#   state=DIR        state_dir override (the peers' keys still follow id=)
#   key_<peer>=B64   public key written for that peer (default: its real one)
#   psk=HEX64  psk_file=PATH  allowed='"b64", ...'  rekey=S  rekey_packets=N
#   keepalive=S  link_timeout=S  key_export=true|false
write_keyed_config()
{
	local file=$1
	shift
	write_config "$file" keying=noise "$@"
}

# 64 hex digits: an overlay PSK.
gen_psk() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }

# link_get SOCK PEER FIELD: a field of PEER's entry in `ipopctl links --json`.
link_get() { ctl_get "$1" links "next(l for l in d['links'] if l['name']=='$2')['$3']"; }
# link_state SOCK PEER: its state, or "absent".
link_state()
{
	ctl_get "$1" links "next((l['state'] for l in d['links'] if l['name']=='$2'), 'absent')"
}
link_is_up() { [ "$(link_state "$1" "$2" 2>/dev/null)" = up ]; }
# hs_get SOCK FIELD: a counter of the top-level "handshake" object of stats.
hs_get() { ctl_get "$1" stats "d['handshake']['$2']"; }
# drop_get SOCK NAME: stats total.drops.NAME.
drop_get() { ctl_get "$1" stats "d['total']['drops']['$2']"; }

# wait_link_up TIMEOUT SOCK PEER: fails unless the link is up within TIMEOUT s.
wait_link_up()
{
	wait_for "$1" link_is_up "$2" "$3" ||
		fail "link to $3 ($2) not up within $1 s: $(ctl "$2" links --json 2>&1 | head -c 600)"
}

# Packet captures: start_capture, stop_capture, pcap_udp.
. "$LIB_DIR/lib_capture.sh"

# --- discovery (issue 4): XMPP server, STUN/TURN server, sites behind NAT ---

XMPP_DOMAIN=xmpp.test
XMPP_ADDR=198.18.0.250
STUN_ADDR=198.18.0.251
XMPP_PASS=ipop-test-pw

# start_prosody NS ADDR: a prosody for domain $XMPP_DOMAIN (MUC component
# conference.$XMPP_DOMAIN) listening on ADDR:5222 inside namespace NS, TLS
# required, certificate from a test CA ($T/xmpp/ca.crt). The first call makes
# the CA and config; later calls (a restart) reuse them and the accounts.
# PID in PROSODY_PID.
start_prosody()
{
	local n=$1 addr=$2 d="$T/xmpp" i
	need_cmd prosody prosodyctl openssl
	if [ ! -f "$d/prosody.cfg.lua" ]; then
		mkdir -p "$d/certs" "$d/data"
		(
			cd "$d"
			openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
				-keyout ca.key -out ca.crt -days 2 -subj /CN=ipopd-netns-ca
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
				-keyout "certs/$XMPP_DOMAIN.key" -out srv.csr -subj "/CN=$XMPP_DOMAIN"
			printf 'subjectAltName=DNS:%s,DNS:conference.%s\n' "$XMPP_DOMAIN" \
				"$XMPP_DOMAIN" >ext.cnf
			openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
				-out "certs/$XMPP_DOMAIN.crt" -days 2 -extfile ext.cnf
		) >"$d/openssl.out" 2>&1 || fail "cannot make the test CA: $(cat "$d/openssl.out")"
		cat >"$d/prosody.cfg.lua" <<-EOC
			run_as_root = true
			pidfile = "$d/prosody.pid"; data_path = "$d/data"
			interfaces = { "$addr" }; c2s_ports = { 5222 }
			s2s_ports = {}; component_ports = {}; http_ports = {}; https_ports = {}
			modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "posix" }
			modules_disabled = { "s2s"; "offline" }
			authentication = "internal_hashed"; storage = "internal"
			c2s_require_encryption = true
			certificates = "$d/certs"
			log = { { levels = { min = "info" }, to = "console" } }
			VirtualHost "$XMPP_DOMAIN"
			${PROSODY_EXTRA:-} -- \$PROSODY_EXTRA: options of the test for this host (e.g. mod_groups)
			Component "conference.$XMPP_DOMAIN" "muc"
			    restrict_room_creation = false
			    muc_room_locking = false
		EOC
	fi
	spawn nsx "$n" prosody -F --config "$d/prosody.cfg.lua" >>"$T/prosody.log" 2>&1
	PROSODY_PID=$SPAWN_PID
	for ((i = 0; i < 100; i++)); do
		kill -0 "$PROSODY_PID" 2>/dev/null || fail "prosody exited at start (see $T/prosody.log)"
		nsx "$n" bash -c "exec 3<>/dev/tcp/$addr/5222" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "prosody did not listen on $addr:5222 within 10 s"
}

# stop_prosody: kills the running prosody (SIGKILL: a crash, not a goodbye).
stop_prosody()
{
	kill -KILL "$PROSODY_PID" 2>/dev/null || true
	wait "$PROSODY_PID" 2>/dev/null || true
}

# xmpp_register USER...: accounts USER@$XMPP_DOMAIN with password $XMPP_PASS.
xmpp_register()
{
	local u
	for u in "$@"; do
		prosodyctl --config "$T/xmpp/prosody.cfg.lua" register "$u" "$XMPP_DOMAIN" \
			"$XMPP_PASS" >/dev/null 2>&1 || fail "prosodyctl register $u failed"
	done
}

# start_coturn NS ADDR [PORT]: coturn (STUN, and TURN with user turn:$XMPP_PASS)
# on ADDR:PORT (default 3478) inside namespace NS. PID in COTURN_PID.
start_coturn()
{
	local n=$1 addr=$2 port=${3:-3478} d="$T/coturn" i
	need_cmd turnserver
	mkdir -p "$d"
	cat >"$d/turnserver.conf" <<-EOC
		listening-ip=$addr
		listening-port=$port
		relay-ip=$addr
		realm=test.invalid
		lt-cred-mech
		user=turn:$XMPP_PASS
		fingerprint
		no-tls
		no-dtls
		no-cli
		no-multicast-peers
		pidfile=$d/turnserver.pid
		db=$d/turndb
		log-file=stdout
	EOC
	spawn nsx "$n" turnserver -c "$d/turnserver.conf" >>"$T/coturn.log" 2>&1
	COTURN_PID=$SPAWN_PID
	for ((i = 0; i < 100; i++)); do
		kill -0 "$COTURN_PID" 2>/dev/null || fail "turnserver exited at start (see $T/coturn.log)"
		grep -q "Total General servers" "$T/coturn.log" 2>/dev/null && return 0
		sleep 0.1
	done
	return 0
}

# make_home_site NAME IDX [LAN] [NATFLAGS]: a gateway behind a home router. Router
# namespace "rt-NAME": eth0 = 198.18.0.IDX/24 on the WAN, lan0 = LAN.1/24
# (default 192.168.1: the same on every site, like real home networks),
# nftables masquerade of everything leaving eth0 and, like every home router's
# firewall, new connections from the WAN dropped (to the router itself and
# through it: only replies to what went out come in). Gateway namespace NAME:
# eth0 = LAN.2/24, default route via the router, and an lxcbr0 like make_site's.
# NATFLAGS "fully-random" makes it a symmetric NAT: every new flow (another
# destination) gets a random source port, so the mapping STUN learns is of no
# use to anybody but the STUN server.
make_home_site()
{
	local name=$1 idx=$2 lan=${3:-192.168.1} natflags=${4:-} r n
	new_ns "rt-$name"
	new_ns "$name"
	r=$(ns "rt-$name")
	n=$(ns "$name")
	SITE_IDX[$name]=$idx
	SITE_GW[$name]=10.0.3.1
	ip -n "$(ns wan)" link add "w-$name" type veth peer name eth0 netns "$r"
	ip -n "$(ns wan)" link set "w-$name" master br0 up
	ip -n "$r" addr add "198.18.0.$idx/24" dev eth0
	ip -n "$r" link set eth0 up
	ip -n "$r" link add lan0 type veth peer name eth0 netns "$n"
	ip -n "$r" addr add "$lan.1/24" dev lan0
	ip -n "$r" link set lan0 up
	ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$r" nft -f - <<-EOF
		table ip nat {
			chain postrouting {
				type nat hook postrouting priority srcnat; policy accept;
				oifname "eth0" masquerade $natflags
			}
		}
		table inet fw {
			chain input {
				type filter hook input priority filter; policy accept;
				iifname "eth0" ct state new drop
			}
			chain forward {
				type filter hook forward priority filter; policy accept;
				iifname "eth0" ct state new drop
			}
		}
	EOF
	ip -n "$n" addr add "$lan.2/24" dev eth0
	ip -n "$n" link set eth0 up
	ip -n "$n" route add default via "$lan.1"
	ip -n "$n" link add lxcbr0 type bridge forward_delay 0 stp_state 0
	ip -n "$n" addr add 10.0.3.1/24 dev lxcbr0
	ip -n "$n" link set lxcbr0 up
}

# write_disc_config FILE site=NAME [user=gwN] [room=JID] [group=muc|roster]
#   [stun=0|1] [turn=0|1] [net=10.254.0] [mask=24] [port=5800] [extra='"k": v, ...']
#   [switch=0|1] [ip4=A.B.C.D (default NET.IDX)]
#   [peers_json='{...}, ...']
# A gateway that finds its peers over XMPP: no endpoints, STUN at
# $STUN_ADDR:3478, lxcbr0 in network_ignore_list, the test CA.
write_disc_config()
{
	local file=$1
	shift
	local site="" user="" room="" group="" stun=1 turn=0 net=10.254.0 mask=24 port=5800 extra=""
	local peers_json="" kv k v sw=0 ip4=""
	for kv in "$@"; do
		k=${kv%%=*}
		v=${kv#*=}
		case $k in
		site) site=$v ;;
		user) user=$v ;;
		room) room=$v ;;
		group) group=$v ;;
		stun) stun=$v ;;
		turn) turn=$v ;;
		switch) sw=$v ;;
		ip4) ip4=$v ;;
		net) net=$v ;;
		mask) mask=$v ;;
		port) port=$v ;;
		extra) extra=$v ;;
		peers_json) peers_json=$v ;;
		*) fail "write_disc_config: unknown argument $kv" ;;
		esac
	done
	[ -n "$site" ] || fail "write_disc_config: site= missing"
	[ -n "$user" ] || user="gw-$site"
	local idx=${SITE_IDX[$site]} stunl=""
	[ -n "$ip4" ] || ip4="$net.$idx"
	[ "$stun" = 1 ] && stunl=", \"stun\": [\"$STUN_ADDR:3478\"]"
	[ "$turn" = 1 ] && stunl="$stunl, \"turn\": [{\"server\": \"$STUN_ADDR:3478\", \"user\": \"turn\", \"pass\": \"$XMPP_PASS\"}]"
	{
		printf '{\n'
		printf '  "CFx": {"vpn_type": "GroupVPN", "ip4_mask": %s,\n' "$mask"
		printf '          "xmpp_username": "%s@%s", "xmpp_password": "%s",\n' \
			"$user" "$XMPP_DOMAIN" "$XMPP_PASS"
		printf '          "xmpp_host": "%s", "xmpp_port": 5222,\n' "$XMPP_ADDR"
		printf '          "network_ignore_list": ["lxcbr0"]},\n'
		printf '  "Logger": {"controller_logging": "%s"},\n' "$IPOP_LOG"
		printf '  "TincanSender": {"switchmode": %s, "svpn_port": %s%s},\n' "$sw" "$port" "$stunl"
		printf '  "BaseTopologyManager": {"ip4": "%s"},\n' "$ip4"
		printf '  "ipopd": {\n'
		printf '    "tap": "ipop%s", "workers": 1,\n' "$site"
		printf '    "mgmt_socket": "%s/%s.sock", "state_dir": "%s",\n' "$T" "$site" \
			"$(kstate_dir "$site")"
		printf '    "xmpp_ca_file": "%s/xmpp/ca.crt",\n' "$T"
		[ -n "$room" ] && printf '    "muc_room": "%s",\n' "$room"
		[ -n "$group" ] && printf '    "group": "%s",\n' "$group"
		[ -n "$extra" ] && printf '    %s,\n' "$extra"
		printf '    "peers": [%s]\n  }\n}\n' "$peers_json"
	} >"$file.tmp"
	mv "$file.tmp" "$file"
}

# ping_mesh NET SITE...: every site pings every other one's NET.IDX.
ping_mesh()
{
	local net=$1 a b
	shift
	for a in "$@"; do
		for b in "$@"; do
			[ "$a" = "$b" ] || ping_ok "$a" "$net.${SITE_IDX[$b]}"
		done
	done
}

# xmpp_get SOCK EXPR: EXPR over d = the "xmpp" object of `ipopctl xmpp --json`.
xmpp_get() { ctl "$1" xmpp --json | json_get "(lambda d: $2)(d['xmpp'])"; }
# links_up SOCK N: at least N links are up.
links_up()
{
	[ "$(ctl_get "$1" links "sum(1 for l in d['links'] if l['state']=='up')")" -ge "$2" ]
}
