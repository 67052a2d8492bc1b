#!/usr/bin/env bash
# Poll-mode benchmark (issue #10): frames through ONE worker core of ipopd on
# the dpdk backend, with dpdk-testpmd as the generator on its vhost-user port
# (net_virtio_user: what a VM's virtio-net is), next to the same traffic
# through the kernel backend (testpmd on net_af_packet bound to ipopd's TAP)
# and the raw ipsec-mb limit (bench_poll), all in the same run.
#
# The underlay loops back to the gateway itself: net_ring0 (dpdk) or
# 127.0.0.1 (kernel), with the peer's endpoint being our own. Two setups:
#
#   enc   the peer's outbound SPI is not one we accept: the worker encrypts
#         every frame, sends it, gets it back and drops it at the SPI lookup
#         (a few dozen cycles): the encrypt direction.
#   loop  the same SA both ways: each frame is encrypted, sent, received,
#         decrypted and delivered back to the host side by the same worker:
#         encrypt + decrypt per frame. The decrypt direction's cost is
#         derived: cycles(loop) - cycles(enc).
#
# Mpps per worker core = frames the worker took from the host side per
# second of the worker thread's CPU time (/proc/PID/task/TID/stat), so time
# the shared machine gives to other processes does not count against it
# (testpmd offers more than the worker can take: it never waits for work);
# the wall-clock rate is shown too. Cycles per frame = the worker's busy TSC
# cycles / frames (wall clock: preemption included). Gbit/s counts frame
# bytes. The ratio column divides Gbit/s by the raw AES-256-GCM rate of one
# core at the same size (bench_poll, direct ipsec-mb API, no framing, also
# per second of CPU time).
#
#   bench/poll.sh [BUILD_DIR]          (default: build; as root)
#   env: SIZES="64 1400" DURATION=5 ROUNDS=3 OUT=bench/results HUGE=1
#
# Writes OUT/poll.md (the table with the command lines and `uptime` of each
# figure). The machine is shared and has 2 CPUs: testpmd polls one, the
# worker (pinned) the other, so load from elsewhere shows in the figures:
# each row carries the load average it was measured under; the median of
# ROUNDS rounds is reported, and the best round (the one least disturbed).
set -eu -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
IPOPD=$build/ipopd
IPOPCTL=$build/ipopctl
RAW=$build/bench/bench_poll
SIZES=${SIZES:-64 1400}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-$src/bench/results}
PY=/usr/bin/python3
[ "$(id -u)" -eq 0 ] || { echo "poll.sh: run as root" >&2; exit 77; }
command -v dpdk-testpmd >/dev/null || { echo "poll.sh: dpdk-testpmd missing (apt-get install dpdk)" >&2; exit 77; }
for f in "$IPOPD" "$IPOPCTL" "$RAW"; do [ -x "$f" ] || { echo "poll.sh: build first ($f)" >&2; exit 1; }; done

T=$(mktemp -d /tmp/poll.XXXXXX)
NS=pollb$$ # everything runs in a namespace of its own (the kernel run's TAP, 127.0.0.1)
PIDS=()
cleanup()
{
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "/var/run/dpdk/poll$$" # testpmd's EAL runtime directory
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
nsx() { ip netns exec "$NS" "$@"; }
KEY=$(od -An -tx1 -N36 /dev/urandom | tr -d ' \n')
# HUGE=1: EAL memory (ipopd's mbufs and the "VM"'s memory) on 2 MiB pages,
# which must be reserved (echo 512 > /proc/sys/vm/nr_hugepages); else plain
# 4 KiB pages (--no-huge), which cost the vhost-user copies TLB misses.
if [ -n "${HUGE:-}" ]; then
	EAL='"--in-memory", "--no-pci", "--no-telemetry"'
	TP_MEM=(--in-memory -m 256)
else
	EAL='"--no-huge", "-m", "512", "--no-pci", "--no-telemetry"'
	TP_MEM=(--no-huge -m 256 --file-prefix "poll$$")
fi

# config BACKEND MODE: ipopd's config for one run.
config()
{
	local backend=$1 mode=$2 spi_out=0x80009901 ep extra
	[ "$mode" = enc ] && spi_out=0x80009902
	if [ "$backend" = dpdk ]; then
		ep=198.18.99.1:5999
		extra="\"backend\": \"dpdk\", \"dpdk\": {\"eal_args\": [$EAL], \"underlay_port\": \"net_ring0\", \"underlay_address\": \"198.18.99.1/24\", \"vhost_ports\": [\"$T/vm.sock\"]},"
	else
		ep=127.0.0.1:5999
		extra=""
	fi
	cat <<-EOF
		{"CFx": {"ip4_mask": 24}, "Logger": {"controller_logging": "WARNING"},
		 "TincanSender": {"switchmode": 0, "svpn_port": 5999},
		 "BaseTopologyManager": {"ip4": "10.254.0.1"},
		 "ipopd": {"tap": "pollb0", "workers": 1, "idle": "busy", "pin_workers": true,
		  "mgmt_socket": "$T/ipopd.sock", "state_dir": "$T/state-$backend-$mode", $extra
		  "peers": [{"name": "self", "endpoint": "$ep", "ip4": "10.254.0.2",
		   "routes": ["10.254.1.0/24"],
		   "sa_in": {"spi": "0x80009901", "key": "$KEY"},
		   "sa_out": {"spi": "$spi_out", "key": "$KEY"}}]}}
	EOF
}

status() { "$IPOPCTL" -s "$T/ipopd.sock" status --json; }
# The worker thread's CPU time in clock ticks (utime + stime).
worker_ticks()
{
	local t
	for t in /proc/"$1"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = ipopd-w0 ] || continue
		awk '{ print $14 + $15 }' "$t/stat"
		return
	done
	echo 0
}

# sample PID: "frames busy_cycles host_rx host_tx net_rx net_tx seconds ticks"
# (frames: the host side's rx; cycles: the worker's busy cycles and, dpdk
# only, the cycles inside the backend's burst calls; ticks: the worker
# thread's CPU time)
sample()
{
	local st ticks
	st=$("$IPOPCTL" -s "$T/ipopd.sock" stats --json)
	ticks=$(worker_ticks "$1")
	status | $PY -c 'import json,sys,time
d = json.load(sys.stdin)["backend_status"]
st = json.loads(sys.argv[1])["total"]
c = next((p["counters"] for p in d["ports"] if p["name"] == "cycles"), {})
print(st["host_rx_packets"], d["workers"][0]["cycles"], c.get("host_rx", 0), c.get("host_tx", 0),
      c.get("net_rx", 0), c.get("net_tx", 0), time.monotonic(), sys.argv[2])' "$st" "$ticks"
}

# run BACKEND MODE SIZE: one measurement; prints "mpps gbps cycles load".
run()
{
	local backend=$1 mode=$2 size=$3 gen i a b
	config "$backend" "$mode" >"$T/c.json"
	ip netns exec "$NS" "$IPOPD" -c "$T/c.json" >"$T/ipopd.log" 2>&1 &
	local ip=$!
	PIDS+=("$ip")
	for ((i = 0; i < 100; i++)); do
		[ -S "$T/ipopd.sock" ] && status >/dev/null 2>&1 && break
		kill -0 "$ip" 2>/dev/null || { cat "$T/ipopd.log" >&2; return 1; }
		sleep 0.1
	done
	if [ "$backend" = dpdk ]; then
		gen=(--single-file-segments --vdev "net_virtio_user0,path=$T/vm.sock")
	else
		gen=(--vdev "net_af_packet0,iface=pollb0")
	fi
	# testpmd on CPU 0; the worker is pinned to CPU 1 (pin_workers).
	ip netns exec "$NS" dpdk-testpmd "${TP_MEM[@]}" --no-pci --no-telemetry --lcores "0@0,1@0" \
		"${gen[@]}" -- --forward-mode=txonly --txpkts="$size" --tx-ip=10.254.1.1,10.254.1.2 \
		--burst=32 --auto-start --stats-period 1 --nb-cores=1 --total-num-mbufs=8192 \
		>"$T/testpmd.log" 2>&1 &
	local tp=$!
	PIDS+=("$tp")
	sleep 3 # links up, ARP resolved, rates steady
	a=$(sample "$ip")
	sleep "$DURATION"
	b=$(sample "$ip")
	local load
	load=$(cut -d' ' -f1 /proc/loadavg)
	kill -INT "$tp" 2>/dev/null || true
	wait "$tp" 2>/dev/null || true
	kill -TERM "$ip" 2>/dev/null || true
	wait "$ip" 2>/dev/null || true
	awk -v a="$a" -v b="$b" -v s="$size" -v l="$load" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		dp = y[1] - x[1]; dc = y[2] - x[2]; dt = y[7] - x[7]; cpu = (y[8] - x[8]) / hz
		if (dp <= 0 || cpu <= 0) { print "0 0 0 " l " 0 0 0 0 0 0"; exit }
		printf "%.3f %.3f %.0f %s", dp / dt / 1e6, dp * s * 8 / dt / 1e9, dc / dp, l
		for (i = 3; i <= 6; i++) printf " %.0f", (y[i] - x[i]) / dp
		printf " %.3f %.3f\n", dp / cpu / 1e6, dp * s * 8 / cpu / 1e9 }'
}

best() { sort -g | tail -n 1; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

mkdir -p "$OUT"
{
	echo "# Poll-mode benchmark (bench/poll.sh), $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "One worker core; generator dpdk-testpmd --forward-mode=txonly (64-byte and"
	echo "1400-byte IPv4/UDP frames) on the vhost-user port (dpdk) or on net_af_packet"
	echo "bound to ipopd's TAP (kernel). Median of $ROUNDS rounds of ${DURATION} s."
	if [ -n "${HUGE:-}" ]; then echo "EAL memory: 2 MiB hugepages (HUGE=1)."; else echo "EAL memory: 4 KiB pages (--no-huge)."; fi
	echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')."
	echo
	echo "Cycles are TSC cycles per frame taken from the host side; \"in device calls\""
	echo "splits them by the backend's burst calls (host rx / host tx / net rx / net tx,"
	echo "dpdk only): the rest is the pipeline (classify, route, ESP and AES-GCM) and the loop."
	echo
	echo "| backend | frame | direction | Mpps per worker core | best round | Gbit/s per core | vs raw ipsec-mb | Mpps wall clock | cycles/frame (wall) | in device calls (hrx/htx/nrx/ntx) | load (1 min) |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|"
} >"$T/table.md"

for size in $SIZES; do
	raw=$("$RAW" "$size" 2)
	raw_gbps=$(cut -d' ' -f3 <<<"$raw")
	echo "| raw ipsec-mb AES-256-GCM | $size B | encrypt | $(cut -d' ' -f2 <<<"$raw") | | $raw_gbps | 1.00 | | $(cut -d' ' -f4 <<<"$raw") | | $(cut -d' ' -f1 /proc/loadavg) |" >>"$T/table.md"
	for backend in dpdk kernel; do
		declare -A cyc=() mp=()
		for mode in enc loop; do
			: >"$T/rounds"
			for ((r = 0; r < ROUNDS; r++)); do
				run "$backend" "$mode" "$size" >>"$T/rounds" || echo "0 0 0 0 0 0 0 0 0 0" >>"$T/rounds"
				echo "poll.sh: $backend $mode $size B round $r: $(tail -n 1 "$T/rounds") ($(uptime))" >&2
			done
			wall=$(cut -d' ' -f1 "$T/rounds" | median)
			mpps=$(cut -d' ' -f9 "$T/rounds" | median)
			top=$(cut -d' ' -f9 "$T/rounds" | best)
			gbps=$(cut -d' ' -f10 "$T/rounds" | median)
			cy=$(cut -d' ' -f3 "$T/rounds" | median)
			load=$(cut -d' ' -f4 "$T/rounds" | median)
			stages=""
			for f in 5 6 7 8; do stages+="${stages:+/}$(cut -d' ' -f$f "$T/rounds" | median)"; done
			cyc[$mode]=$cy
			mp[$mode]=$mpps
			ratio=$(awk -v g="$gbps" -v r="$raw_gbps" 'BEGIN { printf "%.2f", (r > 0 ? g / r : 0) }')
			dir=encrypt
			[ "$mode" = loop ] && dir="encrypt + decrypt (same core)"
			[ "$backend" = dpdk ] || stages=""
			echo "| $backend | $size B | $dir | $mpps | $top | $gbps | $ratio | $wall | $cy | $stages | $load |" >>"$T/table.md"
		done
		# Per-frame times add up: 1/Mpps(dec) = 1/Mpps(loop) - 1/Mpps(enc).
		dec=$(awk -v l="${cyc[loop]}" -v e="${cyc[enc]}" 'BEGIN { printf "%.0f", l - e }')
		decm=$(awk -v l="${mp[loop]}" -v e="${mp[enc]}" 'BEGIN { t = (l > 0 && e > 0) ? 1 / l - 1 / e : 0; printf "%.3f", (t > 0 ? 1 / t : 0) }')
		decg=$(awk -v m="$decm" -v s="$size" 'BEGIN { printf "%.3f", m * s * 8 / 1e3 }')
		decr=$(awk -v g="$decg" -v r="$raw_gbps" 'BEGIN { printf "%.2f", (r > 0 ? g / r : 0) }')
		echo "| $backend | $size B | decrypt (derived: loop − enc) | $decm | | $decg | $decr | | $dec | | |" >>"$T/table.md"
		unset cyc mp
	done
done
{
	echo
	echo "uptime at the end: $(uptime)"
	echo
	echo "Command: \`sudo bench/poll.sh\` (SIZES=\"$SIZES\" DURATION=$DURATION ROUNDS=$ROUNDS)."
} >>"$T/table.md"
cp "$T/table.md" "$OUT/poll.md"
cat "$OUT/poll.md"
