#!/usr/bin/env bash
# A local ipopd overlay in a minute, the IPOP way: a WAN with its own XMPP
# server (prosody, TLS, a throwaway CA) and STUN/TURN server (coturn), two
# "sites" behind home NAT routers, each with an LXC-style lxcbr0 and two
# containers, and ipopd in switch mode on both sites. The gateways are given
# only an XMPP account and the STUN/TURN server: they find each other in the
# overlay's XMPP room, exchange candidates, punch through both NATs, run the
# Noise handshake and bridge the two lxcbr0, so all four containers share one
# 10.0.3.0/24 segment across the encrypted overlay. Shows ipopctl status,
# xmpp and links, pings across sites, and what the WAN sees (ESP only). Waits
# for Enter (or exits at once with --once), then removes everything it
# created.
#
#   sudo ./demo.sh [--once]          env: BUILD_DIR=build
#
# Keys: each gateway creates its X25519 identity on first start and
# advertises the public key in its XMPP presence; the link's ESP keys come
# from the Noise handshake.
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
for c in meson ninja cc pkg-config ip nft tcpdump ping prosody turnserver openssl; do
	command -v "$c" >/dev/null || need+=("$c")
done
for h in intel-ipsec-mb.h jansson.h rte_ring.h openssl/evp.h strophe.h; do
	[ -n "$(find /usr/include -name "${h##*/}" -path "*$h" -print -quit 2>/dev/null)" ] || need+=("$h")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "== installing build dependencies (missing: ${need[*]})"
	DEBIAN_FRONTEND=noninteractive apt-get update &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			build-essential meson ninja-build pkg-config libipsec-mb-dev libjansson-dev \
			libssl-dev dpdk-dev libdpdk-dev libnuma-dev libstrophe-dev iproute2 nftables \
			tcpdump iputils-ping python3 prosody coturn openssl || exit 1
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

say "a WAN (198.18.0.0/24) with its own XMPP server (prosody, TLS) and STUN/TURN server (coturn)"
make_wan
ip -n "$(ns wan)" addr add "$XMPP_ADDR/24" dev br0
ip -n "$(ns wan)" addr add "$STUN_ADDR/24" dev br0
start_prosody wan "$XMPP_ADDR"
xmpp_register gw-a gw-b
start_coturn wan "$STUN_ADDR"
echo "prosody at $XMPP_ADDR:5222 (accounts gw-a, gw-b @$XMPP_DOMAIN), coturn at $STUN_ADDR:3478"

say "two home networks behind NAT routers, an lxcbr0 with two containers on each"
make_home_site a 1
make_home_site b 2
# One L2 segment once bridged: the two lxcbr0 need distinct addresses.
ip -n "$(ns b)" addr del 10.0.3.1/24 dev lxcbr0
ip -n "$(ns b)" addr add 10.0.3.2/24 dev lxcbr0
SITE_GW[b]=10.0.3.2
make_container a a1 10.0.3.11/24 fd00:3::11/64
make_container a a2 10.0.3.12/24 fd00:3::12/64
make_container b b1 10.0.3.21/24 fd00:3::21/64
make_container b b2 10.0.3.22/24 fd00:3::22/64
# IPOP configs: XMPP account, STUN/TURN, switch mode bridged into lxcbr0. No
# peer, no endpoint, no key of the other side: they meet in the XMPP room,
# exchange candidates, punch through both NATs and negotiate their keys.
write_disc_config "$T/site-a.json" site=a switch=1 ip4=10.0.3.101 turn=1 extra='"bridge": "lxcbr0"'
write_disc_config "$T/site-b.json" site=b switch=1 ip4=10.0.3.102 turn=1 extra='"bridge": "lxcbr0"'
sock_a="$T/a.sock"
sock_b="$T/b.sock"
start_ipopd a "$T/site-a.json"
start_ipopd b "$T/site-b.json"
mtu=$(ctl_get "$sock_a" status 'd["mtu"]')
set_container_mtu a "$mtu"
set_container_mtu b "$mtu"
echo "namespaces: $(ip netns list | awk '{print $1}' | grep "^$P-" | tr '\n' ' ')"
echo "config of site a: $T/site-a.json"

say "ipopctl on site a"
show "$IPOPCTL" -s "$sock_a" status
wait_for 20 links_up "$sock_a" 1 || {
	"$IPOPCTL" -s "$sock_a" xmpp
	echo "site a found no link within 20 s"
	exit 1
}
show "$IPOPCTL" -s "$sock_a" xmpp
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

say "what the WAN saw between the two routers (UDP port 5800: ESP, nothing in clear)"
tcpdump -r "$T/wan.pcap" -n -c 2 "host 198.18.0.1 and host 198.18.0.2" 2>/dev/null
if command -v tshark >/dev/null; then
	tshark -r "$T/wan.pcap" -n -d udp.port==5800,udpencap -Y "esp && ip.addr==198.18.0.1 && ip.addr==198.18.0.2" -c 2 2>/dev/null
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
