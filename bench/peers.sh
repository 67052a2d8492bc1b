#!/usr/bin/env bash
# Side-by-side benchmark of ipopd and the VPN daemons people compare it with
# (issue #9): two site namespaces joined by one veth pair (the underlay), and
# over it, all at once, on distinct ports and subnets:
#
#   veth          the bare underlay (the baseline every ratio refers to)
#   ipopd-l3      ipopd, L3 mode, keyed links (Noise), gateway to gateway
#   ipopd-switch  ipopd, switch mode, keyed links, container to container through lxcbr0
#   ipopd-busy    ipopd L3 with `idle: busy`: RTT only, started for its own
#                 measurement and stopped after it (two spinning workers would
#                 take both CPUs from every other path)
#   ipopd-base    ipopd L3 from another build (BASE_BUILD=DIR): before/after
#   wireguard-go  userspace WireGuard (TUN), configured through its UAPI socket
#   fastd         fastd v22, TAP, method aes128-gcm
#   tinc          tinc 1.0, router mode (TUN), aes-256-cbc + sha256
#   openvpn       OpenVPN 2.6, p2p static key (TUN), AES-256-CBC + SHA256 (no DCO)
#   nebula        nebula, AES-256-GCM (TUN), static host map, no lighthouse
#
# The underlay is configured as a real host's NIC would be (docs/offloads.md):
# GRO on at both ends of the veth, as a NIC has it. A veth only does GRO in
# NAPI, which `gro on` enables, and even then it passes a datagram from a
# local socket through GRO only when the receiving veth also has
# rx-udp-gro-forwarding (or rx-gro-list) on (veth_skb_is_eligible_for_gro),
# so that is set too. UDP segmentation offload stays as the veth has it by
# default: a UDP_SEGMENT send crosses whole, as a NIC with USO cuts it in
# hardware. UNDERLAY_GSO=0 turns tx-udp-segmentation off: the kernel cuts
# each send in software and the receiver's GRO glues the datagrams back. TOPO=bridge puts a bridge between
# the two sites instead (the tests' WAN of tests/netns/lib.sh: bridge, NAT
# masquerade and conntrack on the sites, tx-udp-segmentation off).
#
# Interleaved rounds (ROUNDS, default 3): in each round every path in turn gets
# iperf3 TCP with 1 and 4 streams in both directions (DURATION s each), a
# 64-byte UDP flood (iperf3 -u -l 64 -b 0; packets per second at the receiver
# and loss), and RTT (median of 200 pings at 10 ms). CPU: user+system seconds
# of the path's daemons (both gateways) over the two 1-stream TCP tests,
# divided by the Gbit they moved. Medians over rounds; ratios to the veth of
# the same run.
#
#   sudo bench/peers.sh [BUILD_DIR]             (default: build)
#   env: ROUNDS=3 DURATION=4 PATHS="veth ipopd-l3 ..." OUT=bench/results
#        TESTS="tcp udp rtt" (any of them) PROFILE=DIR (perf record -a -g of round 1)
#        TOPO=veth|bridge UNDERLAY_GSO=1 BASE_BUILD=DIR BASE_LABEL=TEXT (ipopd-base)
#        INSTALL=1: apt-get install the peer daemons and gnuplot first
#
# Writes OUT/peers.md (table), OUT/peers.json (every sample and the medians)
# and OUT/peers.png (gnuplot). Exit 0 when every path was measured, 77 without
# namespaces, 1 on failure. Everything it creates is removed on exit.
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
case $build in /*) ;; *) build="$here/../$build" ;; esac
app="$build/app"
[ -x "$app/ipopd" ] || app="$build" # before the layered tree (issue #8)
export IPOPD="$app/ipopd" IPOPCTL="$app/ipopctl"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-4}
PATHS=${PATHS:-veth ipopd-l3 ipopd-switch ipopd-busy wireguard-go fastd tinc openvpn nebula}
TOPO=${TOPO:-veth}
UNDERLAY_GSO=${UNDERLAY_GSO:-1}
BASE_BUILD=${BASE_BUILD:-}
TESTS=${TESTS:-tcp udp rtt}
OUT=${OUT:-$here/results}
BENCH_PACKAGES=(wireguard-go fastd tinc openvpn nebula gnuplot-nox iperf3)

if [ "${INSTALL:-0}" = 1 ]; then
	apt-get install -y --no-install-recommends "${BENCH_PACKAGES[@]}" || exit 1
fi
. "$here/../tests/netns/lib.sh"
# shellcheck disable=SC2034 # read by lib.sh
TEST_NAME=peers
harness_init
need_cmd iperf3 ping gnuplot
mkdir -p "$OUT"

# make_pair: sites a and b, eth0 of each one end of the same veth pair
# (198.18.0.1 and .2), an lxcbr0 on each for switch mode's containers; no
# bridge, no NAT, no conntrack on the underlay.
make_pair()
{
	local s
	new_ns a
	new_ns b
	SITE_IDX["a"]=1 SITE_IDX["b"]=2
	ip -n "$(ns a)" link add eth0 type veth peer name eth0 netns "$(ns b)"
	for s in a b; do
		ip -n "$(ns $s)" addr add "198.18.0.${SITE_IDX[$s]}/24" dev eth0
		ip -n "$(ns $s)" link set eth0 up
		ip -n "$(ns $s)" link add lxcbr0 type bridge forward_delay 0 stp_state 0
		ip -n "$(ns $s)" addr add "10.0.3.${SITE_IDX[$s]}/24" dev lxcbr0
		ip -n "$(ns $s)" link set lxcbr0 up
		# shellcheck disable=SC2034 # read by lib.sh (make_container)
		SITE_GW[$s]=10.0.3.${SITE_IDX[$s]}
	done
}

# underlay_offloads: GRO on the veth (NAPI, and UDP from local sockets
# eligible), UDP segmentation as UNDERLAY_GSO says.
underlay_offloads()
{
	local s seg=on k="gro on rx-udp-gro-forwarding on"
	[ "$UNDERLAY_GSO" = 1 ] || seg=off
	for s in a b; do
		# shellcheck disable=SC2086 # $k is several words on purpose
		nsx $s ethtool -K eth0 $k tx-udp-segmentation $seg >/dev/null ||
			fail "ethtool -K eth0 $k tx-udp-segmentation $seg in $s"
	done
}

case $TOPO in
veth)
	make_pair
	underlay_offloads
	;;
bridge)
	make_wan
	make_site a 1 10.0.3.1
	make_site b 2 10.0.3.2
	;;
*) fail "TOPO must be veth or bridge, not $TOPO" ;;
esac
make_container a a1 10.0.3.11/24
make_container b b1 10.0.3.21/24

declare -A client=() server=() dst=() rdst=() label=() pids=() lazy=() only=()
add_path() { client[$1]=$2 server[$1]=$3 dst[$1]=$4 rdst[$1]=$5 label[$1]=$6; }

# x25519 key pairs (base64 for wireguard's UAPI it is hex): "private public"
x25519_hex()
{
	$PY -c 'import os
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives import serialization as s
k = X25519PrivateKey.generate()
raw = lambda b: b.hex()
print(raw(k.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption())),
      raw(k.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)))'
}

uapi_set()
{
	$PY - "$1" "$2" <<-'EOF'
		import socket, sys
		s = socket.socket(socket.AF_UNIX)
		s.connect(sys.argv[1])
		s.sendall(sys.argv[2].encode() + b"\n")
		r = s.recv(4096).decode()
		if "errno=0" not in r:
		    sys.exit("uapi: " + r)
	EOF
}

daemon_pid() { pids[$1]+="$2 "; }

up_veth() { add_path veth a b 198.18.0.2 198.18.0.1 "veth (no VPN)"; }

# l3_pair PATH TAP PORT NET [extra=JSON]: two ipopd in L3 mode, keyed, on
# overlay NET.0/24 (the binary is $IPOPD).
l3_pair()
{
	local p=$1 tap=$2 port=$3 net=$4 extra=${5:-}
	write_keyed_config "$T/$p-a.json" site=a tap="$tap" port="$port" net="$net" peers=b \
		id="$p" ${extra:+extra="$extra"}
	write_keyed_config "$T/$p-b.json" site=b tap="$tap" port="$port" net="$net" peers=a \
		id="$p" ${extra:+extra="$extra"}
	start_ipopd a "$T/$p-a.json"
	daemon_pid "$p" "$IPOPD_PID"
	start_ipopd b "$T/$p-b.json"
	daemon_pid "$p" "$IPOPD_PID"
	wait_for 30 nsx a ping -c1 -W1 -q "$net.2" >/dev/null || fail "$p not up: $(ctl "$(config_sock "$T/$p-a.json")" links 2>&1 | head -c 400)"
}

up_ipopd_l3()
{
	l3_pair ipopd-l3 ipl3 5800 10.254.0
	add_path ipopd-l3 a b 10.254.0.2 10.254.0.1 "ipopd L3, keyed (AES-256-GCM)"
}

# Started and stopped around its own measurement (start_lazy, stop_lazy).
up_ipopd_busy()
{
	lazy[ipopd-busy]=1 only[ipopd-busy]=rtt
	add_path ipopd-busy a b 10.251.0.2 10.251.0.1 "ipopd L3, idle policy busy"
}
start_ipopd_busy() { l3_pair ipopd-busy ipbz 5830 10.251.0 '"idle": "busy"'; }

up_ipopd_base()
{
	[ -x "$BASE_BUILD/ipopd" ] || fail "ipopd-base: no $BASE_BUILD/ipopd (set BASE_BUILD)"
	local saved=$IPOPD
	IPOPD="$BASE_BUILD/ipopd"
	l3_pair ipopd-base ipbs 5820 10.252.0
	IPOPD=$saved
	add_path ipopd-base a b 10.252.0.2 10.252.0.1 "ipopd L3, ${BASE_LABEL:-$BASE_BUILD}"
}

start_lazy() { "start_${1//-/_}"; }
stop_lazy()
{
	local pid keep=() q
	for pid in ${pids[$1]:-}; do
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		# and out of lib.sh's cleanup list: the PID may belong to another
		# process by the time the script exits
		keep=()
		for q in "${PIDS[@]}"; do [ "$q" = "$pid" ] || keep+=("$q"); done
		PIDS=("${keep[@]}")
	done
	pids[$1]=""
}

up_ipopd_switch()
{
	write_keyed_config "$T/sw-a.json" site=a mode=switch tap=ipsw port=5810 net=10.0.3 \
		hostoff=100 bridge=lxcbr0 peers=b id=sw
	write_keyed_config "$T/sw-b.json" site=b mode=switch tap=ipsw port=5810 net=10.0.3 \
		hostoff=100 bridge=lxcbr0 peers=a id=sw
	start_ipopd a "$T/sw-a.json"
	daemon_pid ipopd-switch "$IPOPD_PID"
	start_ipopd b "$T/sw-b.json"
	daemon_pid ipopd-switch "$IPOPD_PID"
	local mtu
	mtu=$(ctl_get "$(config_sock "$T/sw-a.json")" status 'd["mtu"]')
	set_container_mtu a "$mtu"
	set_container_mtu b "$mtu"
	wait_for 15 nsx a1 ping -c1 -W1 -q 10.0.3.21 >/dev/null || fail "ipopd-switch not up"
	add_path ipopd-switch a1 b1 10.0.3.21 10.0.3.11 "ipopd switch, keyed (AES-256-GCM)"
}

up_wireguard_go()
{
	local ka kb s i n ip
	read -r -a ka < <(x25519_hex)
	read -r -a kb < <(x25519_hex)
	for s in a b; do
		spawn nsx $s env WG_PROCESS_FOREGROUND=1 wireguard-go -f "wg$s$$" >"$T/wg-$s.log" 2>&1
		daemon_pid wireguard-go "$SPAWN_PID"
	done
	for s in a b; do
		wait_for 5 test -S "/var/run/wireguard/wg$s$$.sock" || fail "wireguard-go $s: $(cat "$T/wg-$s.log")"
	done
	uapi_set "/var/run/wireguard/wga$$.sock" "set=1
private_key=${ka[0]}
listen_port=51820
public_key=${kb[1]}
endpoint=198.18.0.2:51820
allowed_ip=10.201.0.0/24
"
	uapi_set "/var/run/wireguard/wgb$$.sock" "set=1
private_key=${kb[0]}
listen_port=51820
public_key=${ka[1]}
endpoint=198.18.0.1:51820
allowed_ip=10.201.0.0/24
"
	i=1
	for s in a b; do
		nsx $s ip addr add 10.201.0.$i/24 dev "wg$s$$"
		nsx $s ip link set "wg$s$$" mtu 1420 up
		i=$((i + 1))
	done
	wait_for 10 nsx a ping -c1 -W1 -q 10.201.0.2 >/dev/null || fail "wireguard-go not up"
	add_path wireguard-go a b 10.201.0.2 10.201.0.1 "wireguard-go (ChaCha20-Poly1305)"
}

up_fastd()
{
	local s o i=1 sec pub
	declare -A fsec=() fpub=()
	for s in a b; do
		read -r sec pub < <(fastd --generate-key 2>/dev/null | awk '/Secret/ {s = $2} /Public/ {p = $2} END {print s, p}')
		fsec[$s]=$sec fpub[$s]=$pub
	done
	for s in a b; do
		[ $s = a ] && o=b || o=a
		cat >"$T/fastd-$s.conf" <<-EOF
			interface "fd$s$$";
			mode tap;
			method "aes128-gcm";
			bind 198.18.0.${SITE_IDX[$s]}:10000;
			secret "${fsec[$s]}";
			mtu 1406;
			peer "$o" { key "${fpub[$o]}"; remote 198.18.0.${SITE_IDX[$o]}:10000; }
		EOF
		spawn nsx $s fastd -c "$T/fastd-$s.conf" >"$T/fastd-$s.log" 2>&1
		daemon_pid fastd "$SPAWN_PID"
		wait_for 5 nsx $s ip link show "fd$s$$" >/dev/null || fail "fastd $s: no interface"
		nsx $s ip addr add 10.202.0.$i/24 dev "fd$s$$"
		nsx $s ip link set "fd$s$$" up
		i=$((i + 1))
	done
	wait_for 15 nsx a ping -c1 -W1 -q 10.202.0.2 >/dev/null || fail "fastd not up: $(tail -n 5 "$T/fastd-a.log")"
	add_path fastd a b 10.202.0.2 10.202.0.1 "fastd (aes128-gcm, TAP)"
}

up_tinc()
{
	local s o i=1 d
	for s in a b; do
		d="$T/tinc-$s"
		mkdir -p "$d/hosts"
		[ $s = a ] && o=b || o=a
		printf 'Name = %s\nInterface = tc%s%s\nMode = router\nConnectTo = %s\nAddressFamily = ipv4\n' \
			$s $s $$ $o >"$d/tinc.conf"
		printf 'Address = 198.18.0.%s\nPort = 655\nSubnet = 10.203.0.%s/32\nCipher = aes-256-cbc\nDigest = sha256\n' \
			"${SITE_IDX[$s]}" $i >"$d/hosts/$s"
		printf '#!/bin/sh\nip addr add 10.203.0.%s/24 dev $INTERFACE\nip link set $INTERFACE up\n' $i >"$d/tinc-up"
		chmod +x "$d/tinc-up"
		tincd -c "$d" -K 2048 </dev/null >/dev/null 2>&1 || fail "tincd -K"
		i=$((i + 1))
	done
	cp "$T/tinc-a/hosts/a" "$T/tinc-b/hosts/a"
	cp "$T/tinc-b/hosts/b" "$T/tinc-a/hosts/b"
	for s in a b; do
		spawn nsx $s tincd -c "$T/tinc-$s" -D -d0 --pidfile="$T/tinc-$s.pid" >"$T/tinc-$s.log" 2>&1
		daemon_pid tinc "$SPAWN_PID"
	done
	wait_for 20 nsx a ping -c1 -W1 -q 10.203.0.2 >/dev/null || fail "tinc not up: $(tail -n 5 "$T/tinc-a.log")"
	add_path tinc a b 10.203.0.2 10.203.0.1 "tinc 1.0 (aes-256-cbc + sha256)"
}

up_openvpn()
{
	openvpn --genkey secret "$T/ovpn.key" >/dev/null 2>&1 || fail "openvpn --genkey"
	local s o i=1 dir
	for s in a b; do
		[ $s = a ] && o=b dir=0 || o=a dir=1
		spawn nsx $s openvpn --dev "ov$s$$" --dev-type tun --proto udp --port 1194 \
			--remote 198.18.0.${SITE_IDX[$o]} --ifconfig 10.204.0.$i 10.204.0.$((3 - i)) \
			--secret "$T/ovpn.key" $dir --cipher AES-256-CBC --auth SHA256 --disable-dco \
			--verb 1 >"$T/ovpn-$s.log" 2>&1
		daemon_pid openvpn "$SPAWN_PID"
		i=$((i + 1))
	done
	wait_for 20 nsx a ping -c1 -W1 -q 10.204.0.2 >/dev/null || fail "openvpn not up: $(tail -n 5 "$T/ovpn-a.log")"
	add_path openvpn a b 10.204.0.2 10.204.0.1 "OpenVPN 2.6 static key (AES-256-CBC, no DCO)"
}

up_nebula()
{
	local s o i=1 d="$T/nebula"
	mkdir -p "$d"
	nebula-cert ca -name bench -out-crt "$d/ca.crt" -out-key "$d/ca.key" >/dev/null || fail "nebula-cert ca"
	for s in a b; do
		nebula-cert sign -name $s -ip 10.205.0.$i/24 -ca-crt "$d/ca.crt" -ca-key "$d/ca.key" \
			-out-crt "$d/$s.crt" -out-key "$d/$s.key" >/dev/null || fail "nebula-cert sign"
		i=$((i + 1))
	done
	i=1
	for s in a b; do
		[ $s = a ] && o=2 || o=1
		cat >"$d/$s.yml" <<-EOF
			pki: {ca: $d/ca.crt, cert: $d/$s.crt, key: $d/$s.key}
			static_host_map: {"10.205.0.$o": ["198.18.0.$o:4242"]}
			lighthouse: {am_lighthouse: false, hosts: []}
			listen: {host: 0.0.0.0, port: 4242}
			punchy: {punch: false}
			cipher: aes
			tun: {dev: nb$s$$, mtu: 1300}
			logging: {level: warning}
			firewall:
			  outbound: [{port: any, proto: any, host: any}]
			  inbound: [{port: any, proto: any, host: any}]
		EOF
		spawn nsx $s nebula -config "$d/$s.yml" >"$T/nebula-$s.log" 2>&1
		daemon_pid nebula "$SPAWN_PID"
		i=$((i + 1))
	done
	wait_for 20 nsx a ping -c1 -W1 -q 10.205.0.2 >/dev/null || fail "nebula not up: $(tail -n 5 "$T/nebula-a.log")"
	add_path nebula a b 10.205.0.2 10.205.0.1 "nebula (AES-256-GCM)"
}

order=()
for p in $PATHS; do
	case $p in
	veth | ipopd-l3 | ipopd-switch | ipopd-busy | ipopd-base | wireguard-go | fastd | tinc | openvpn | nebula) ;;
	*) fail "unknown path $p" ;;
	esac
	"up_${p//-/_}"
	order+=("$p")
	log "$p: up"
done

cpu_ticks()
{
	local t=0 pid
	for pid in $1; do
		[ -r "/proc/$pid/stat" ] || continue
		t=$((t + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
	done
	echo $t
}

iperf()
{
	local p=$1 port=$2
	shift 2
	spawn nsx "${server[$p]}" iperf3 -s -1 -p "$port" >/dev/null 2>&1
	local spid=$SPAWN_PID
	wait_for 5 nsx "${server[$p]}" sh -c "ss -ltn | grep -q :$port" 2>/dev/null ||
		wait_for 5 nsx "${server[$p]}" sh -c "ss -lun | grep -q :$port"
	nsx "${client[$p]}" iperf3 -c "${dst[$p]}" -p "$port" -t "$DURATION" -J "$@" >"$W/iperf.json" 2>&1 || true
	wait "$spid" 2>/dev/null || true
	cat "$W/iperf.json"
}

hz=$(getconf CLK_TCK)
has_test() { case " $TESTS " in *" $1 "*) return 0 ;; esac; return 1; }
# PROFILE=DIR: a system-wide `perf record -g` over round 1's first TCP and
# 64-byte UDP test of every path, DIR/PATH.TEST.data (perf report -i ...);
# PROFILE_ARGS replaces -g (e.g. "-e sched:sched_switch -e sched:sched_wakeup").
prof_pid=
profile_start()
{
	[ -n "${PROFILE:-}" ] && [ "$2" = 1 ] || return 0
	mkdir -p "$PROFILE"
	# shellcheck disable=SC2086 # PROFILE_ARGS is a list of perf options
	perf record -q -a ${PROFILE_ARGS:--g} -o "$PROFILE/$1.$3.data" -- sleep "$DURATION" >/dev/null 2>&1 &
	prof_pid=$!
}
profile_stop() { [ -z "$prof_pid" ] || wait "$prof_pid" 2>/dev/null; prof_pid=; }
load0=$(cut -d' ' -f1-3 /proc/loadavg)
# Round data in OUT (kept: the raw samples), not in the harness's temp dir.
W="$OUT/.work.$$"
mkdir -p "$W"
samples="$W/samples.txt" # path round metric value (peers.json keeps them)
: >"$samples"
log "$ROUNDS rounds x ${#order[@]} paths, ${DURATION} s per test, $(nproc) CPUs"
gbps() { $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["end"]["sum_received"]["bits_per_second"]/1e9)' 2>/dev/null || echo 0; }
for ((r = 1; r <= ROUNDS; r++)); do
	for p in "${order[@]}"; do
		port=$((5400 + r))
		[ -n "${lazy[$p]:-}" ] && start_lazy "$p"
		tcp1=null tcp1r=null tcp4=null tcp4r=null pps=null loss=null cpu=null cpu_pkt=null
		if [ "${only[$p]:-}" != rtt ] && has_test tcp; then
			c0=$(cpu_ticks "${pids[$p]:-}")
			profile_start "$p" $r tcp1
			tcp1=$(iperf "$p" $port | gbps)
			profile_stop
			tcp1r=$(iperf "$p" $port -R | gbps)
			c1=$(cpu_ticks "${pids[$p]:-}")
			tcp4=$(iperf "$p" $port -P 4 | gbps)
			tcp4r=$(iperf "$p" $port -P 4 -R | gbps)
			gbit=$(awk -v a="$tcp1" -v b="$tcp1r" -v d="$DURATION" 'BEGIN {print (a + b) * d}')
			cpu=$(awk -v t=$((c1 - c0)) -v hz="$hz" -v g="$gbit" -v has="${pids[$p]:-}" \
				'BEGIN {if (has == "" || g <= 0) print "null"; else printf "%.4f", t / hz / g}')
		fi
		if [ "${only[$p]:-}" != rtt ] && has_test udp; then
			c2=$(cpu_ticks "${pids[$p]:-}")
			profile_start "$p" $r udp64
			read -r pps loss < <(iperf "$p" $port -u -l 64 -b 0 | $PY -c 'import json,sys
d = json.load(sys.stdin)["end"]["sum"]
print((d["packets"] - d["lost_packets"]) / d["seconds"], d["lost_percent"])' 2>/dev/null || echo "0 100")
			profile_stop
			c3=$(cpu_ticks "${pids[$p]:-}")
			cpu_pkt=$(awk -v t=$((c3 - c2)) -v hz="$hz" -v pps="$pps" -v d="$DURATION" -v has="${pids[$p]:-}" \
				'BEGIN {if (has == "" || pps <= 0) print "null"; else printf "%.3f", t / hz / (pps * d) * 1e6}')
		fi
		rtt=null rtt_awake=null
		if has_test rtt; then
			rtt=$(nsx "${client[$p]}" ping -c 200 -i 0.01 -W 1 "${dst[$p]}" 2>/dev/null |
				sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | sort -g |
				awk '{v[NR] = $1} END {if (NR) print ((NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) * 1000; else print 0}')
			# With every CPU awake (a ping each 0.2 ms keeps them from halting):
			# what the path itself adds, without the wake-up of idle CPUs.
			rtt_awake=$(nsx "${client[$p]}" ping -c 1000 -i 0.0002 -W 1 "${dst[$p]}" 2>/dev/null |
				sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | sort -g |
				awk '{v[NR] = $1} END {if (NR) print ((NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) * 1000; else print 0}')
		fi
		[ -n "${lazy[$p]:-}" ] && stop_lazy "$p"
		for kv in tcp1="$tcp1" tcp1r="$tcp1r" tcp4="$tcp4" tcp4r="$tcp4r" pps="$pps" loss="$loss" \
			rtt_us="$rtt" rtt_awake_us="$rtt_awake" cpu_s_per_gbit="$cpu" cpu_us_per_pkt="$cpu_pkt"; do
			printf '%s %s %s %s\n' "$p" $r "${kv%%=*}" "${kv#*=}"
		done >>"$samples"
		log "round $r $p: tcp1 $tcp1/$tcp1r tcp4 $tcp4/$tcp4r Gbit/s, 64B $pps pps ($loss % loss), rtt $rtt us, rtt awake $rtt_awake us, cpu $cpu s/Gbit $cpu_pkt us/pkt (load $(cut -d' ' -f1-3 /proc/loadavg))"
	done
done

labels="$W/labels.txt"
for p in "${order[@]}"; do printf '%s\t%s\n' "$p" "${label[$p]}"; done >"$labels"
$PY - "$samples" "$labels" "$OUT" "$ROUNDS" "$DURATION" "$TOPO" "$UNDERLAY_GSO" "$load0" "$(cut -d' ' -f1-3 /proc/loadavg)" <<-'EOF' || fail "report"
	import json, statistics, sys, os
	samples, labels, out, rounds, dur, topo, ugso, load0, load1 = sys.argv[1:10]
	lab = dict(l.rstrip("\n").split("\t") for l in open(labels))
	order = list(lab)
	data = {}
	for line in open(samples):
	    p, r, m, v = line.split()
	    data.setdefault(p, {}).setdefault(m, []).append(None if v == "null" else float(v))
	med = {p: {m: (statistics.median([x for x in v if x is not None]) if any(x is not None for x in v) else None)
	           for m, v in ms.items()} for p, ms in data.items()}
	base = med.get("veth", {})
	def ratio(p, m):
	    b = base.get(m)
	    return med[p][m] / b if b and med[p][m] is not None else None
	json.dump({"rounds": int(rounds), "duration_s": int(dur), "cpus": os.cpu_count(), "labels": lab,
	           "topology": topo, "underlay_udp_segmentation": ugso == "1",
	           "loadavg_start": load0, "loadavg_end": load1,
	           "samples": data, "medians": med,
	           "ratios_to_veth": {p: {m: ratio(p, m) for m in ("tcp1", "tcp1r", "tcp4", "tcp4r", "pps")} for p in order}},
	          open(os.path.join(out, "peers.json"), "w"), indent=1)
	f = lambda v, fmt: "-" if v is None else fmt % v
	rows = ["| path | TCP 1 a→b | TCP 1 b→a | TCP 4 a→b | TCP 4 b→a | TCP 1 × veth | 64-B UDP kpps | × veth | loss | RTT µs | RTT − veth µs | RTT awake µs | CPU-s/Gbit | CPU-µs/pkt |",
	        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
	for p in order:
	    m = med[p]
	    drtt = m["rtt_us"] - base["rtt_us"] if p != "veth" and m["rtt_us"] and base.get("rtt_us") else None
	    rows.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
	        lab[p], f(m["tcp1"], "%.2f"), f(m["tcp1r"], "%.2f"), f(m["tcp4"], "%.2f"), f(m["tcp4r"], "%.2f"),
	        f(ratio(p, "tcp1"), "%.2f"), f(m["pps"] / 1e3 if m["pps"] is not None else None, "%.0f"),
	        f(ratio(p, "pps"), "%.2f"), f(m["loss"], "%.1f %%"), f(m["rtt_us"], "%.0f"),
	        f(drtt, "%+.0f"), f(m["rtt_awake_us"], "%.0f"), f(m["cpu_s_per_gbit"], "%.2f"),
	        f(m["cpu_us_per_pkt"], "%.2f")))
	note = ("\nTCP in Gbit/s, medians of %s interleaved rounds of %s s per test on %d CPUs; "
	        "ratios to the bare veth of the same run; CPU = user+system seconds of both gateways' "
	        "daemons per Gbit moved in the 1-stream tests; CPU-µs/pkt = the same per packet received in the "
	        "64-B UDP test; RTT = median of 200 pings 10 ms apart (idle CPUs halt between them), RTT awake = "
	        "median of 1000 pings 0.2 ms apart (CPUs kept awake). Underlay: %s; load average %s at the start, "
	        "%s at the end.\n" % (rounds, dur, os.cpu_count(),
	        "one veth pair, gro and rx-udp-gro-forwarding on, tx-udp-segmentation %s" % ("on" if ugso == "1" else "off")
	        if topo == "veth" else "two veths through a bridge, NAT and conntrack on the sites", load0, load1))
	open(os.path.join(out, "peers.md"), "w").write("\n".join(rows) + "\n" + note)
	with open(os.path.join(out, "peers.dat"), "w") as d:
	    for p in order:
	        m = med[p]
	        if m["tcp1"] is not None: # RTT-only paths are not plotted
	            d.write('"%s" %s %s %s\n' % (p, m["tcp1"], m["tcp4"] or 0, (m["pps"] or 0) / 1e6))
	print("\n".join(rows) + "\n" + note)
EOF
gnuplot <<-EOF || fail "gnuplot"
	set terminal pngcairo size 1100,500 font "sans,10"
	set output "$OUT/peers.png"
	set multiplot layout 1,2 title "ipopd and peer VPNs, underlay $([ "$TOPO" = veth ] && echo "one veth" || echo "veths and a bridge") (medians of $ROUNDS rounds)"
	set style data histograms
	set style histogram clustered gap 1
	set style fill solid 0.8 border -1
	set xtics rotate by -30
	set ylabel "Gbit/s"
	set yrange [0:*]
	set title "TCP"
	plot "$OUT/peers.dat" using 2:xtic(1) title "1 stream", '' using 3 title "4 streams"
	set ylabel "Mpps at the receiver"
	set yrange [0:*]
	set title "64-byte UDP"
	plot "$OUT/peers.dat" using 4:xtic(1) title "64-B UDP" lc rgb "#4a7"
	unset multiplot
EOF
rm -f "$OUT/peers.dat"
rm -rf "$W"
log "wrote $OUT/peers.md, $OUT/peers.json, $OUT/peers.png"
exit 0
