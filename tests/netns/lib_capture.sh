# Packet capture helpers of the namespace integration tests (sourced by
# lib.sh, bash): tcpdump started and stopped in a namespace, and a pcap reader
# that lists the UDP datagrams of a capture without tshark.

# pcap_udp PCAP: one line per IPv4/UDP datagram of a capture (Ethernet, Linux
# cooked v1/v2): "TIME SRC SPORT DST DPORT PAYLOAD_HEX".
pcap_udp()
{
	"$PY" - "$1" <<-'EOPY'
		import struct, sys
		data = open(sys.argv[1], "rb").read()
		if len(data) < 24:
		    sys.exit(0)
		magic = data[:4]
		if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
		    e = "<"
		elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
		    e = ">"
		else:
		    sys.exit("pcap_udp: not a pcap file: %s" % sys.argv[1])
		nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
		linktype = struct.unpack(e + "I", data[20:24])[0] & 0xffff
		off = 24
		while off + 16 <= len(data):
		    sec, frac, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
		    frame = data[off + 16:off + 16 + incl]
		    off += 16 + incl
		    if linktype == 1:
		        l2, et = 14, frame[12:14]
		        while et == b"\x81\x00" and len(frame) >= l2 + 4:
		            et, l2 = frame[l2 + 2:l2 + 4], l2 + 4
		    elif linktype == 113:
		        l2, et = 16, frame[14:16]
		    elif linktype == 276:
		        l2, et = 20, frame[0:2]
		    else:
		        sys.exit("pcap_udp: link type %d not supported" % linktype)
		    if et != b"\x08\x00" or len(frame) < l2 + 20:
		        continue
		    ip = frame[l2:]
		    ihl = (ip[0] & 15) * 4
		    if ip[9] != 17 or len(ip) < ihl + 8:
		        continue
		    src = ".".join(map(str, ip[12:16]))
		    dst = ".".join(map(str, ip[16:20]))
		    sport, dport, ulen = struct.unpack(">HHH", ip[ihl:ihl + 6])
		    payload = ip[ihl + 8:ihl + ulen]
		    t = sec + frac / (1e9 if nano else 1e6)
		    print("%.6f %s %d %s %d %s" % (t, src, sport, dst, dport, payload.hex() or "-"))
	EOPY
}

# start_capture NS IFACE PCAP [FILTER...]: tcpdump in the background; waits until
# it listens. Its PID is in CAP_PID; stop_capture PID ends it (the file is complete).
start_capture()
{
	local n=$1 ifc=$2 pcap=$3
	shift 3
	spawn nsx "$n" tcpdump -i "$ifc" --immediate-mode -U -n -s 0 -w "$pcap" "$@" >"$pcap.txt" 2>&1
	# shellcheck disable=SC2034 # read by the tests
	CAP_PID=$SPAWN_PID
	wait_for 5 grep -q "listening on" "$pcap.txt" || fail "tcpdump on $ifc did not start: $(cat "$pcap.txt")"
}
stop_capture()
{
	sleep 0.3 # the last packets reach the file
	kill -INT "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
