#!/usr/bin/env bash
# vhost-user: a VM on the dpdk gateway reaches a container on another site.
# Site b runs ipopd on the dpdk backend in switch mode with one vhost-user
# port and no TAP; dpdk-testpmd with net_virtio_user (an independent virtio
# driver, what a VM's virtio-net is to QEMU's vhost-user) attaches to it and
# answers ARP and ICMP echo (--forward-mode=icmpecho) for 10.0.3.50. Container
# a1 on site a (kernel backend) pings 10.0.3.50: its requests cross the
# overlay into the "VM", the VM's replies come back. Counted on both ends:
# ping's own count in a1, testpmd's port statistics, ipopd's port counters.
# Site b also has a net_tap in its lxcbr0 with container b1: b1 reaches the
# VM through ipopd's own switch between its host ports, not the overlay.
. "$(dirname "$0")/lib.sh"
harness_init
need_cmd dpdk-testpmd

PORT=5800
EAL='"--no-huge", "-m", "256", "--no-pci", "--no-telemetry"'
make_wan
make_site a 1 10.0.3.1
make_site b 2 none
ip -n "$(ns b)" addr flush dev eth0
nsx b sysctl -qw net.ipv4.conf.eth0.forwarding=0
make_container a a1 10.0.3.11/24
make_container b b1 10.0.3.21/24
VSOCK="$T/vm1.sock"
write_config "$T/a.json" site=a mode=switch net=10.0.3 hostoff=100 tap=ipopA bridge=lxcbr0 port=$PORT peers=b
write_config "$T/b.json" site=b mode=switch net=10.0.3 hostoff=100 tap=ipopB bridge=lxcbr0 port=$PORT peers=a \
	extra="\"backend\": \"dpdk\", \"dpdk\": {\"eal_args\": [$EAL], \"underlay_port\": \"net_af_packet0,iface=eth0\", \"underlay_address\": \"198.18.0.2/24\", \"host_port\": \"net_tap0,iface=ipopB\", \"vhost_ports\": [\"$VSOCK\"]}"
start_ipopd a "$T/a.json"
start_ipopd b "$T/b.json"
PID_B=$IPOPD_PID
SB=$(config_sock "$T/b.json")
[ -S "$VSOCK" ] || fail "no vhost-user socket at $VSOCK"
mtu=$(ctl_get "$SB" status 'd["mtu"]')
set_container_mtu a "$mtu"
set_container_mtu b "$mtu"

# The VM: testpmd on a virtio-user port connected to ipopd's socket.
spawn nsx b dpdk-testpmd --no-huge -m 256 --no-pci --no-telemetry --single-file-segments \
	--file-prefix "$P-vm" --vdev "net_virtio_user0,path=$VSOCK" -- \
	--forward-mode=icmpecho --auto-start --stats-period 1 --nb-cores=1 \
	--total-num-mbufs=4096 >"$T/testpmd.txt" 2>&1
VM=$SPAWN_PID
wait_for 15 grep -q "Port 0: link state change event\|Forward statistics for port 0\|icmpecho packet forwarding" "$T/testpmd.txt" ||
	fail "testpmd did not start: $(tail -n 20 "$T/testpmd.txt")"
wait_for 10 sh -c "[ \"\$('$IPOPCTL' -s '$SB' status --json | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"backend_status\"][\"ports\"][2][\"counters\"][\"link_up\"])')\" = 1 ]" ||
	fail "the vhost-user port did not come up: $(ctl "$SB" status)"
ok "testpmd attached to the vhost-user port (link up)"

ping_ok a1 10.0.3.50
nsx a1 ping -c 20 -i 0.05 -W 2 10.0.3.50 >"$T/ping.txt" 2>&1 || fail "ping a1 -> VM: $(tail -n 3 "$T/ping.txt")"
got=$(awk '/packets transmitted/ { print $4 }' "$T/ping.txt")
assert_eq "$got" 20 "echo replies from the VM counted by ping in a1"
vm_mac=$(nsx a1 ip neigh show 10.0.3.50 | awk '{ print $5 }')
[ -n "$vm_mac" ] || fail "a1 learned no MAC for the VM"
ok "container a1 -> VM behind the vhost-user port: 20 of 20 echoes answered, the VM's MAC $vm_mac learned by ARP"

# The far end's counters: ipopd's vhost port and testpmd's own.
rx=$(ctl_get "$SB" status 'd["backend_status"]["ports"][2]["counters"]["rx_packets"]')
tx=$(ctl_get "$SB" status 'd["backend_status"]["ports"][2]["counters"]["tx_packets"]')
assert_gt "$rx" 23 "ipopd's vhost port: frames from the VM"
assert_gt "$tx" 23 "ipopd's vhost port: frames to the VM"
# b1 on the same site: through ipopd's switch between the TAP and the VM.
ping_ok b1 10.0.3.50
sw=$(ctl_get "$SB" status 'd["backend_status"]["ports"][1]["counters"]["local_switched"]')
cp=$(ctl_get "$SB" status 'd["backend_status"]["ports"][1]["counters"]["host_copies"]')
assert_gt "$sw" 3 "frames switched between the TAP and the vhost-user port"
assert_gt "$cp" 0 "broadcast copies between host ports (b1's ARP request)"
ok "b1 (TAP side) <-> VM (vhost-user side) on site b: $sw frames switched locally, $cp flood copies"
kill -INT "$VM"
wait_for 10 sh -c "! kill -0 $VM" || fail "testpmd did not stop"
rm -rf "/var/run/dpdk/$P-vm" # testpmd's EAL runtime directory (ipopd removes its own)
vm_rx=$(awk '/Accumulated forward statistics/ { f = 1 } f && /RX-packets/ { print $2; exit }' "$T/testpmd.txt")
vm_tx=$(awk '/Accumulated forward statistics/ { f = 1 } f && /TX-packets/ { print $2; exit }' "$T/testpmd.txt")
assert_gt "${vm_rx:-0}" 23 "testpmd RX-packets (echo requests and ARP from a1)"
assert_gt "${vm_tx:-0}" 23 "testpmd TX-packets (its replies)"
ok "counted on both ends: a1 got 24 replies; testpmd rx $vm_rx / tx $vm_tx; ipopd's vhost port rx $rx / tx $tx"

stop_ipopd "$PID_B"
[ -e "$VSOCK" ] && fail "the vhost-user socket outlived ipopd"
ok "vhost-user socket removed at exit"
exit 0
