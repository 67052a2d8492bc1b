#!/usr/bin/env bash
# A local ipopd overlay in a minute: two "sites" (network namespaces joined by
# a WAN bridge, each with an LXC-style lxcbr0 and NAT), two containers on each,
# and ipopd in switch mode on both sites, so all four containers share one
# 10.0.3.0/24 segment across the encrypted overlay. Shows ipopctl status and
# peers, pings across sites, and what the WAN sees (ESP only). Waits for Enter
# (or exits at once with --once), then removes everything it created.
#
#   sudo ./demo.sh [--once]          env: BUILD_DIR=build
#
# Keys: each gateway gets an X25519 identity; the generated configs name the
# peer by public key and endpoint, and the links negotiate their ESP keys with
# the Noise handshake. XMPP discovery (no endpoints at all) comes with a later step.
set -uo pipefail
cd "$(dirname "$0")" || exit 1
ONCE=0
[ "${1:-}" = --once ] && ONCE=1
BUILD_DIR=${BUILD_DIR:-build}

if [ "$(id -u)" -ne 0 ]; then
	echo "the demo creates network namespaces: run it as root (sudo ./demo.sh)" >&2
	exit 1
fi
need=()
for c in meson ninja cc pkg-config ip nft tcpdump ping; do
	command -v "$c" >/dev/null || need+=("$c")
done
for h in intel-ipsec-mb.h jansson.h rte_ring.h openssl/evp.h; do
	[ -n "$(find /usr/include -name "${h##*/}" -path "*$h" -print -quit 2>/dev/null)" ] || need+=("$h")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "== installing build dependencies (missing: ${need[*]})"
	DEBIAN_FRONTEND=noninteractive apt-get update &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			build-essential meson ninja-build pkg-config libipsec-mb-dev libjansson-dev \
			libssl-dev dpdk-dev libdpdk-dev libnuma-dev iproute2 nftables tcpdump \
			iputils-ping python3 || exit 1
fi
echo "== building ($BUILD_DIR)"
[ -f "$BUILD_DIR/build.ninja" ] || meson setup "$BUILD_DIR" >/dev/null || exit 1
ninja -C "$BUILD_DIR" ipopd ipopctl >/dev/null || exit 1

export IPOPD="$PWD/$BUILD_DIR/ipopd" IPOPCTL="$PWD/$BUILD_DIR/ipopctl"
. tests/netns/lib.sh
TEST_NAME=demo
harness_init

say() { printf '\n== %s\n' "$*"; }
show() {
	printf '$ %s\n' "$*"
	"$@"
}

say "building two sites on a WAN (198.18.0.0/24) with two containers each"
make_wan
make_site a 1 10.0.3.1
make_site b 2 10.0.3.2 # one L2 segment once bridged: the gateways need distinct addresses
make_container a a1 10.0.3.11/24 fd00:3::11/64
make_container a a2 10.0.3.12/24 fd00:3::12/64
make_container b b1 10.0.3.21/24 fd00:3::21/64
make_container b b2 10.0.3.22/24 fd00:3::22/64
# Keyed links: each gateway has its own X25519 identity; the configs name the
# other side by public key and the gateways negotiate their ESP SAs (Noise).
write_keyed_config "$T/site-a.json" site=a mode=switch tap=ipop net=10.0.3 hostoff=99 bridge=lxcbr0 peers=b
write_keyed_config "$T/site-b.json" site=b mode=switch tap=ipop net=10.0.3 hostoff=99 bridge=lxcbr0 peers=a
sock_a=$(config_sock "$T/site-a.json")
sock_b=$(config_sock "$T/site-b.json")
start_ipopd a "$T/site-a.json"
start_ipopd b "$T/site-b.json"
mtu=$(ctl_get "$sock_a" status 'd["mtu"]')
set_container_mtu a "$mtu"
set_container_mtu b "$mtu"
echo "namespaces: $(ip netns list | awk '{print $1}' | grep "^$P-" | tr '\n' ' ')"
echo "config of site a: $T/site-a.json"

say "ipopctl on site a"
show "$IPOPCTL" -s "$sock_a" status
show "$IPOPCTL" -s "$sock_a" key
wait_link_up 15 "$sock_a" b
show "$IPOPCTL" -s "$sock_a" links

say "capturing the WAN while containers ping across sites"
spawn nsx wan tcpdump -i br0 --immediate-mode -U -n -w "$T/wan.pcap" udp >"$T/tcpdump.txt" 2>&1
cap=$SPAWN_PID
wait_for 5 grep -q "listening on" "$T/tcpdump.txt"
rc=0
printf '$ ip netns exec %s ping -c 3 10.0.3.21\n' "$(ns a1)"
wait_for 10 nsx a1 ping -c 1 -W 1 10.0.3.21
nsx a1 ping -c 3 -i 0.3 10.0.3.21 || rc=1
printf '$ ip netns exec %s ping -c 3 fd00:3::12\n' "$(ns b2)"
nsx b2 ping -c 3 -i 0.3 fd00:3::12 || rc=1
kill -INT "$cap"
wait "$cap" 2>/dev/null

say "what the WAN saw (UDP port 5800: ESP, nothing in clear)"
tcpdump -r "$T/wan.pcap" -n -c 2 2>/dev/null
if command -v tshark >/dev/null; then
	tshark -r "$T/wan.pcap" -n -d udp.port==5800,udpencap -Y esp -c 2 2>/dev/null
fi

say "ipopctl links on site b after the pings"
show "$IPOPCTL" -s "$sock_b" links

if [ $rc -ne 0 ]; then
	echo "some pings failed: see the logs above"
	exit 1
fi
if [ $ONCE -eq 0 ]; then
	say "the overlay is up; try for instance:"
	echo "  sudo ip netns exec $(ns a2) ping 10.0.3.22"
	echo "  sudo $IPOPCTL -s $sock_a stats"
	read -r -p "press Enter to tear everything down " _ || true
fi
say "cleaning up"
exit 0
