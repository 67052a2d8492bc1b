#!/usr/bin/env bash
# Two sites, one on the kernel backend and one on the dpdk backend (docs/dpdk.md):
# site b's underlay is net_af_packet on its eth0 (no kernel address: ipopd owns
# 198.18.0.2 there, answers ARP and resolves site a by ARP itself) and its host
# side a net_tap. L3 mode: ping both ways, a TCP transfer checked with SHA-256,
# the wire decrypted by tshark with the configured keys; then switch mode with
# containers bridged on both sites; ipopctl status shows the ports.
. "$(dirname "$0")/lib.sh"
harness_init
need_cmd tshark tcpdump ethtool

PORT=5800
EAL='"--no-huge", "-m", "256", "--no-pci", "--no-telemetry"'

# dpdk_site NAME: the kernel keeps no address (and forwards nothing) on eth0:
# the port is ipopd's.
dpdk_site()
{
	ip -n "$(ns "$1")" addr flush dev eth0
	nsx "$1" sysctl -qw net.ipv4.conf.eth0.forwarding=0
}
dpdk_extra()
{
	printf '"backend": "dpdk", "dpdk": {"eal_args": [%s], "underlay_port": "net_af_packet0,iface=eth0", "underlay_address": "198.18.0.%s/24"%s}' \
		"$EAL" "${SITE_IDX[$1]}" "${2:-}"
}

make_wan
make_site a 1
make_site b 2
dpdk_site b
write_config "$T/a.json" site=a tap=ipopA port=$PORT peers=b
write_config "$T/b.json" site=b tap=ipopB port=$PORT peers=a extra="$(dpdk_extra b)"
start_ipopd a "$T/a.json"
start_ipopd b "$T/b.json"
SB=$(config_sock "$T/b.json")
SA=$(config_sock "$T/a.json")
ping_ok a 10.254.0.2
ping_ok b 10.254.0.1
ok "L3: ping both ways between the kernel and the dpdk site"
