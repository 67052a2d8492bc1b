#!/usr/bin/env bash
# The seeds' RECURSIVE SETUP ("IPOP recursive": an inner switch-mode overlay
# tunnelled through an outer L3 overlay on the same hosts), built as the seed
# page describes it, with the page's two configs adapted only in credentials
# and addresses.
#
# The configs are taken from the page itself (the test reads the seed text
# file and pulls out its two JSON blocks) and only these keys change:
#   CFx.xmpp_username/xmpp_password/xmpp_host   four separate test accounts
#       (the page: "two independent identities having separate XMPP relations")
#   BaseTopologyManager.ip4                      outer 192.168.1.100/.101,
#       inner 10.0.3.100/.101 (the page's own addresses on its two hosts)
# TincanSender.stun stays the page's "192.168.1.100:19302": already a dummy
# address inside the outer overlay's range, where no STUN server runs.
# Everything else (StatReport enabled, contr_port, ttl_*, ...) is as on the
# page; ipopd must warn that it ignores StatReport and never phone home.
#
# Topology: a WAN namespace (198.18.0.0/24) runs prosody (TLS, test CA) at
# 198.18.0.250. Host s1 sits behind a home router (NAT, unsolicited inbound
# dropped; LAN 172.16.1.0/24 so it does not overlap the outer overlay's
# 192.168.0.0/16), like the page's host with its private eth0; host s2 is on
# the WAN itself. (Both behind NAT cannot work with the page's outer config:
# it has no STUN server.) Each host has a bridge lxcbr0 with one container.
#
# lxcbr0 addresses: the page's host has 10.0.3.1 on lxcbr0, and so would the
# peer machine "with corresponding addresses" - but the inner overlay is a
# switch, so both lxcbr0 end up in ONE Ethernet segment, where two 10.0.3.1
# would answer the same ARP requests and fight over the containers' gateway.
# So the hosts get distinct addresses in that segment: s1 10.0.3.1 (the
# page's), s2 10.0.3.2. Containers: c1 10.0.3.11 on s1, c2 10.0.3.12 on s2
# (clear of the bridges and of the inner nodes' ids .100/.101, which ipopd
# does not put on a switch-mode TAP).
#
# Each host's daemons run as the page starts them - `ipopd -c outer.json
# --tap tunnel-tap`, then `ipopd -c inner.json --tap ipop`, then `ip link set
# ipop master lxcbr0` (the page's `brctl addif lxcbr0 ipop`) - with nothing
# else on the command line: state and sockets are ipopd's defaults
# (/var/lib/ipopd/<tap>, /run/ipopd/<tap>.sock) and the XMPP server's
# certificate is checked against the system trust store. So the two "hosts"
# do not share state, every daemon runs in a private mount namespace (inside
# its host's network namespace) where the host's own directories from the
# temp dir are bind-mounted over /var/lib/ipopd, /run/ipopd and
# /etc/ssl/certs (a store holding only the test CA; OpenSSL's default file
# /usr/lib/ssl/cert.pem points into it). The mounts go away with the process.
#
# Checked: the outer links come up by discovery alone (no endpoint
# anywhere); the inner link comes up and its chosen pair and every candidate
# it was offered are tunnel-tap addresses (192.168.1.100/.101 or the outer
# ULAs), never eth0 or lxcbr0 ones; the containers ping each other over IPv4
# and IPv6 (and reach the other host's lxcbr0), also with full-size frames:
# the seed's inner config says nothing about MTUs, so ipopd sizes the inner
# TAP from the interfaces that give it host candidates - tunnel-tap, with an
# IPv4 address and the outer ULA, so for a 40-byte outer IPv6 header - and
# says so in its start log; a full-size frame then crosses tunnel-tap as one
# ESP packet, never as IP fragments (tcpdump finds none); a capture on tunnel-tap while
# they ping shows ESP-in-UDP between the outer addresses on port 5805 and not
# one clear ICMP of the containers (the pattern is seen on the inner TAP, as a
# control); the WAN shows only UDP 5800 carrying ESP (or handshakes) and
# XMPP's TLS, no 5805, no DNS, no StatReport (port 8080) traffic, from the
# first second on; each daemon logged that StatReport is ignored, and the
# daemons stop cleanly with no error or XMPP warning in their logs.
. "$(dirname "$0")/lib.sh"
harness_init
need_cmd prosody prosodyctl openssl tcpdump tshark unshare mount

# The seed page (plain text). Outside the project's workspace it is not
# there: then the verbatim copies of its two configs in tests/data are used
# (when it is there, they are checked to be the page's).
SEED=${SEED:-$SRCDIR/../shared/seeds/000_fa9bbc8f32dede73.txt}
SEED_COPIES=("$SRCDIR/tests/data/seed-outer-gvpn.json" "$SRCDIR/tests/data/seed-inner-switch.json")
if [ ! -f "$SEED" ]; then
	log "seed page $SEED not found: using ${SEED_COPIES[*]##*/}"
	SEED=$T/seed-page.txt
	cat "${SEED_COPIES[@]}" >"$SEED"
	SEED_COPIES=()
fi

OUT_IP=(192.168.1.100 192.168.1.101) # outer overlay (tunnel-tap), per site
IN_IP=(10.0.3.100 10.0.3.101)        # inner overlay ids, per site
BR_IP=(10.0.3.1 10.0.3.2)            # lxcbr0, per site
CT_IP=(10.0.3.11 10.0.3.12)          # containers, per site
CT_IP6=(fd00:3::11 fd00:3::12)
STUN_DUMMY_PORT=19302

# --- mount points the private namespaces bind over (created if missing,
# removed again at exit if we created them) ---
MADE_DIRS=()
for d in /var/lib/ipopd /run/ipopd; do
	if [ ! -d "$d" ]; then
		mkdir -p "$d"
		MADE_DIRS+=("$d")
	fi
done
DAEMONS=()
rec_cleanup()
{
	local rc=$? pid n d
	set +eE
	trap - ERR
	for pid in "${DAEMONS[@]}"; do
		stop_pid "$pid"
	done
	for d in "${MADE_DIRS[@]}"; do rmdir "$d" 2>/dev/null; done
	(exit "$rc")
	cleanup
}
trap rec_cleanup EXIT

# --- the configs, from the seed page ---
mkdir -p "$T/seed"
"$PY" - "$SEED" "$T/seed" "${SEED_COPIES[@]}" <<-'EOPY' || fail "cannot take the configs from the seed page $SEED"
	import json, sys
	text = open(sys.argv[1], encoding="utf-8").read()
	dec = json.JSONDecoder()
	blocks, i = [], 0
	while True:
	    i = text.find("{", i)
	    if i < 0:
	        break
	    try:
	        obj, end = dec.raw_decode(text, i)
	    except ValueError:
	        i += 1
	        continue
	    if isinstance(obj, dict) and "CFx" in obj:
	        blocks.append(obj)
	    i = end
	if len(blocks) != 2:
	    sys.exit("expected 2 IPOP configs on the page, found %d" % len(blocks))
	outer, inner = blocks
	ts_o, ts_i = outer["TincanSender"], inner["TincanSender"]
	checks = [
	    (ts_o["svpn_port"], 5800), (ts_o["switchmode"], 0),
	    (outer["CFx"]["network_ignore_list"], ["ipop", "lxcbr0"]),
	    (ts_i["svpn_port"], 5805), (ts_i["switchmode"], 1),
	    (inner["CFx"]["network_ignore_list"], ["eth0", "lxcbr0"]),
	    (ts_i["stun"], ["192.168.1.100:19302"]),
	    (outer["StatReport"]["enabled"], True), (inner["StatReport"]["enabled"], True),
	]
	for got, want in checks:
	    if got != want:
	        sys.exit("seed page: expected %r, got %r" % (want, got))
	for copy, block in zip(sys.argv[3:], blocks):
	    if json.load(open(copy)) != block:
	        sys.exit("%s is not the page's config any more" % copy)
	json.dump(outer, open(sys.argv[2] + "/outer.json", "w"), indent=2)
	json.dump(inner, open(sys.argv[2] + "/inner.json", "w"), indent=2)
EOPY
ok "two IPOP configs taken from ${SEED##*/} (outer: L3, port 5800; inner: switch, port 5805)"

# adapt SEEDJSON OUT key=value...: the seed config with only the given keys
# changed (dotted paths), and a check that nothing else differs.
adapt()
{
	"$PY" - "$@" <<-'EOPY'
		import json, sys
		src, dst = sys.argv[1], sys.argv[2]
		orig = json.load(open(src))
		cfg = json.load(open(src))
		allowed = set()
		for kv in sys.argv[3:]:
		    k, v = kv.split("=", 1)
		    sec, key = k.split(".")
		    assert key in cfg[sec], k  # only keys the page has
		    cfg[sec][key] = json.loads(v)
		    allowed.add(k)
		def flat(d, p=""):
		    for k, v in d.items():
		        if isinstance(v, dict):
		            yield from flat(v, p + k + ".")
		        else:
		            yield p + k, v
		a, b = dict(flat(orig)), dict(flat(cfg))
		assert a.keys() == b.keys()
		changed = {k for k in a if a[k] != b[k]}
		assert changed <= allowed, changed - allowed
		json.dump(cfg, open(dst, "w"), indent=2)
	EOPY
}

# --- WAN, XMPP server, hosts, containers ---
make_wan
ip -n "$(ns wan)" addr add "$XMPP_ADDR/24" dev br0
start_prosody wan "$XMPP_ADDR"
xmpp_register outer-s1 outer-s2 inner-s1 inner-s2

make_home_site s1 1 172.16.1
make_site s2 2 "${BR_IP[1]}"
make_container s1 c1 "${CT_IP[0]}/24" "${CT_IP6[0]}/64"
make_container s2 c2 "${CT_IP[1]}/24" "${CT_IP6[1]}/64"

# cred USER: the credentials keys of a config, as adapt arguments.
cred()
{
	printf 'CFx.xmpp_username="%s@%s" CFx.xmpp_password="%s" CFx.xmpp_host="%s"' \
		"$1" "$XMPP_DOMAIN" "$XMPP_PASS" "$XMPP_ADDR"
}
for i in 0 1; do
	s=s$((i + 1))
	h="$T/host-$s"
	mkdir -p "$h/lib" "$h/run" "$h/certs"
	chmod 0700 "$h/lib"
	cp "$T/xmpp/ca.crt" "$h/certs/ca-certificates.crt"
	# shellcheck disable=SC2046 # cred's words are separate arguments
	adapt "$T/seed/outer.json" "$h/outer.json" $(cred "outer-$s") \
		"BaseTopologyManager.ip4=\"${OUT_IP[i]}\""
	# shellcheck disable=SC2046
	adapt "$T/seed/inner.json" "$h/inner.json" $(cred "inner-$s") \
		"BaseTopologyManager.ip4=\"${IN_IP[i]}\""
done
diff <("$PY" -m json.tool --sort-keys "$T/seed/inner.json") \
	<("$PY" -m json.tool --sort-keys "$T/host-s2/inner.json") >"$T/inner.diff" || true
log "inner config on s2 vs the seed page:"
sed -n '/^[<>]/p' "$T/inner.diff"

# Every packet from the start: the WAN, and s1's own LAN link (behind NAT).
start_capture wan br0 "$T/wan.pcap"
wan_cap=$CAP_PID
start_capture s1 eth0 "$T/s1-eth0.pcap"
eth0_cap=$CAP_PID

# site_ipopd SITE CONFIG TAP: `ipopd -c CONFIG --tap TAP` on SITE, as on the
# page, in a private mount namespace with the host's own /var/lib/ipopd,
# /run/ipopd and trust store. Waits for its default socket to answer.
site_ipopd()
{
	local site=$1 cfg=$2 tap=$3 h="$T/host-$1" i pid
	# shellcheck disable=SC2016 # expanded by the inner sh
	spawn ip netns exec "$(ns "$site")" unshare -m --propagation private sh -c '
		mount --bind "$1/lib" /var/lib/ipopd &&
		mount --bind "$1/run" /run/ipopd &&
		mount --bind "$1/certs" /etc/ssl/certs || exit 111
		shift
		exec "$@"' sh "$h" "$IPOPD" -c "$cfg" --tap "$tap" >>"$T/ipopd-$site-$tap.log" 2>&1
	pid=$SPAWN_PID
	DAEMONS+=("$pid")
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || fail "ipopd $tap on $site exited during start-up"
		ctl "$h/run/$tap.sock" status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "ipopd $tap on $site did not answer on $h/run/$tap.sock within 10 s"
}
osock() { printf '%s/host-%s/run/tunnel-tap.sock' "$T" "$1"; }
isock() { printf '%s/host-%s/run/ipop.sock' "$T" "$1"; }

# --- OuterIPoP first, on both hosts ---
t0=$SECONDS
site_ipopd s1 "$T/host-s1/outer.json" tunnel-tap
site_ipopd s2 "$T/host-s2/outer.json" tunnel-tap
for s in s1 s2; do
	[ -f "$T/host-$s/lib/tunnel-tap/node.key" ] ||
		fail "$s: the outer identity is not in the host's own /var/lib/ipopd/tunnel-tap"
	addr=$(nsx "$s" ip -4 -o addr show dev tunnel-tap | awk '{print $4}')
	want=${OUT_IP[${s#s} - 1]}/16
	assert_eq "$addr" "$want" "$s tunnel-tap IPv4 (the page's ip4/ip4_mask)"
done
ok "tunnel-tap up on both hosts with the page's addresses, state in each host's own directory"
wait_link_up 20 "$(osock s1)" "xmpp-${OUT_IP[1]}"
wait_link_up 10 "$(osock s2)" "xmpp-${OUT_IP[0]}"
ping_ok s1 "${OUT_IP[1]}"
for s in s1 s2; do
	[ "$(ctl_get "$(osock $s)" links "d['links'][0]['pair']['remote_type']")" != configured ] ||
		fail "$s: the outer link's endpoint came from a config"
done
# What the outer offered: eth0 only (network_ignore_list: ipop, lxcbr0).
assert_eq "$(ctl_get "$(osock s2)" links "[c['addr'] for c in d['links'][0]['candidates']]")" \
	"['172.16.1.2:5800']" "s1's outer candidates as s2 got them"
assert_eq "$(ctl_get "$(osock s1)" links "[c['addr'] for c in d['links'][0]['candidates']]")" \
	"['198.18.0.2:5800']" "s2's outer candidates as s1 got them"
ok "outer link up by discovery alone ($((SECONDS - t0)) s): $(ctl_get "$(osock s2)" links \
	"next(l['pair']['remote'] + ' (' + l['pair']['why'] + ')' for l in d['links'])")"

# The outer ULAs (the inner overlay may as well pick those: tunnel-tap's too).
declare -A OUTER_ADDR=()
for s in s1 s2; do
	for a in $(nsx "$s" ip -o addr show dev tunnel-tap scope global | awk '{print $4}'); do
		OUTER_ADDR[${a%/*}]=$s
	done
done
[ ${#OUTER_ADDR[@]} -ge 2 ] || fail "tunnel-tap addresses: ${!OUTER_ADDR[*]}"

# --- InnerIPoP, then the bridge ---
t1=$SECONDS
for s in s1 s2; do
	site_ipopd "$s" "$T/host-$s/inner.json" ipop
	nsx "$s" ip link set ipop master lxcbr0 # brctl addif lxcbr0 ipop
	[ -z "$(nsx "$s" ip -o addr show dev ipop scope global)" ] ||
		fail "$s: the switch-mode TAP has an address: $(nsx "$s" ip -o addr show dev ipop)"
	[ -f "$T/host-$s/lib/ipop/node.key" ] || fail "$s: no inner identity in /var/lib/ipopd/ipop"
done
inner_mtu=$(nsx s1 cat /sys/class/net/ipop/mtu)
# The inner TAP's MTU comes from tunnel-tap, the one interface the inner
# overlay's candidates come from (eth0 and lxcbr0 are in its ignore list):
# a full-size frame plus Ethernet header, ESP-in-UDP overhead (42) and an
# outer IPv6 header (the inner pair may be the outer ULAs) fits in it.
tt_mtu=$(nsx s1 cat /sys/class/net/tunnel-tap/mtu)
assert_eq "$(nsx s2 cat /sys/class/net/ipop/mtu)" "$inner_mtu" "s2's inner TAP MTU"
if [ $((inner_mtu + 14 + 42 + 40)) -gt "$tt_mtu" ] || [ $((inner_mtu + 14 + 42 + 40 + 4)) -le "$tt_mtu" ]; then
	fail "inner TAP MTU $inner_mtu is not the largest that fits tunnel-tap's $tt_mtu with 96 bytes of Ethernet, ESP-in-UDP and IPv6 headers"
fi
for s in s1 s2; do
	grep -q "ipop: MTU $inner_mtu: underlay MTU $tt_mtu of interface tunnel-tap, IPv6 outer header" \
		"$T/ipopd-$s-ipop.log" ||
		fail "$s: the inner daemon's log does not say its MTU came from tunnel-tap: $(grep -h 'MTU' "$T/ipopd-$s-ipop.log")"
done
ok "inner TAP MTU $inner_mtu from tunnel-tap's $tt_mtu (a 1500-byte underlay would have given 1424)"
set_container_mtu s1 "$inner_mtu"
set_container_mtu s2 "$inner_mtu"
cmp -s "$T/host-s1/lib/tunnel-tap/node.key" "$T/host-s1/lib/ipop/node.key" &&
	fail "inner and outer share an identity"
wait_link_up 20 "$(isock s1)" "xmpp-${IN_IP[1]}"
wait_link_up 10 "$(isock s2)" "xmpp-${IN_IP[0]}"
ok "inner link up ($((SECONDS - t1)) s after the inner daemons started)"

# The inner link runs over the outer overlay: its pair and every candidate
# either side was offered are tunnel-tap addresses, on port 5805.
for s in s1 s2; do
	o=$([ $s = s1 ] && echo s2 || echo s1)
	peer="xmpp-${IN_IP[${o#s} - 1]}"
	ctl_get "$(isock $s)" links "next(l for l in d['links'] if l['name']=='$peer')" >"$T/inner-link-$s.txt"
	"$PY" - "$T/inner-link-$s.txt" "$s" "$o" "${!OUTER_ADDR[@]}" "${OUTER_ADDR[@]}" <<-'EOPY' ||
		import ast, sys
		link = ast.literal_eval(open(sys.argv[1]).read())
		me, other = sys.argv[2], sys.argv[3]
		rest = sys.argv[4:]
		owner = dict(zip(rest[:len(rest) // 2], rest[len(rest) // 2:]))
		def split(ep):
		    host, port = ep.rsplit(":", 1)
		    return host.strip("[]"), int(port)
		pair = link["pair"]
		for what, ep, who in (("remote", pair["remote"], other), ("local", pair["local"], me)):
		    h, p = split(ep)
		    if owner.get(h) != who or p != 5805:
		        sys.exit("%s: pair %s %s is not %s's tunnel-tap address on 5805" % (me, what, ep, who))
		cands = link["candidates"] or []
		if not cands:
		    sys.exit("%s: no candidates from the peer" % me)
		for c in cands:
		    h, p = split(c["addr"])
		    if owner.get(h) != other or p != 5805 or c["type"] != "host":
		        sys.exit("%s: candidate %s (%s) is not a tunnel-tap host address" % (me, c["addr"], c["type"]))
		print("%s: pair %s -> %s (%s, %s); candidates %s" % (me, pair["local"], pair["remote"],
		      pair["remote_type"], pair["why"], ", ".join(c["addr"] for c in cands)))
	EOPY
		fail "$s: the inner link does not run over tunnel-tap: $(cat "$T/inner-link-$s.txt")"
done
ok "inner pairs and candidates are tunnel-tap addresses (never eth0 or lxcbr0)"

# The dummy STUN server never answers, so no server-reflexive address.
for s in s1 s2; do
	assert_eq "$(xmpp_get "$(isock $s)" "d['stun'][0]['server'] + ' ' + str(d['stun'][0]['mapped'])")" \
		"192.168.1.100:$STUN_DUMMY_PORT None" "$s inner STUN (dummy)"
	assert_eq "$(xmpp_get "$(isock $s)" "d['secured']")" True "$s inner XMPP over TLS (test CA from the system store)"
	assert_eq "$(xmpp_get "$(osock $s)" "d['account']")" "outer-$s@$XMPP_DOMAIN" "$s outer account"
	assert_eq "$(xmpp_get "$(isock $s)" "d['account']")" "inner-$s@$XMPP_DOMAIN" "$s inner account"
done
[ "$(xmpp_get "$(osock s1)" "d['room']")" != "$(xmpp_get "$(isock s1)" "d['room']")" ] ||
	fail "inner and outer overlays share a MUC room"

# --- containers across the sites, with captures on tunnel-tap ---
start_capture s1 tunnel-tap "$T/s1-tt.pcap"
tt1_cap=$CAP_PID
start_capture s2 tunnel-tap "$T/s2-tt.pcap"
tt2_cap=$CAP_PID
start_capture s1 ipop "$T/s1-ipop.pcap" # the clear side, as a control
ipop_cap=$CAP_PID

ping_ok c1 "${CT_IP[1]}"
ping_ok c2 "${CT_IP[0]}"
ping_ok c1 "${CT_IP6[1]}"
ping_ok c2 "${CT_IP6[0]}"
ping_ok c1 "${BR_IP[1]}" # s2's lxcbr0 is in the same segment
nsx c1 ping -c 10 -i 0.1 -W 2 -p deadbeef -s 200 "${CT_IP[1]}" >"$T/ping.txt" 2>&1 ||
	fail "ping -p deadbeef c1 -> c2 failed: $(cat "$T/ping.txt")"
nsx c2 ping -c 10 -i 0.1 -W 2 -p deadbeef -s 200 "${CT_IP6[0]}" >"$T/ping6.txt" 2>&1 ||
	fail "ping -p deadbeef c2 -> c1 (IPv6) failed: $(cat "$T/ping6.txt")"
# Full-size frames (the containers' MTU is the inner TAP's), both families:
# checked below to cross tunnel-tap unfragmented.
nsx c1 ping -c 3 -i 0.2 -W 2 -M "do" -s $((inner_mtu - 28)) "${CT_IP[1]}" >"$T/pingbig.txt" 2>&1 ||
	fail "full-size ping (DF, $inner_mtu bytes) c1 -> c2 failed: $(cat "$T/pingbig.txt")"
nsx c2 ping -c 3 -i 0.2 -W 2 -M "do" -s $((inner_mtu - 48)) "${CT_IP6[0]}" >"$T/pingbig6.txt" 2>&1 ||
	fail "full-size IPv6 ping ($inner_mtu bytes) c2 -> c1 failed: $(cat "$T/pingbig6.txt")"
ok "containers on the two sites reach each other (IPv4 and IPv6) through the inner overlay"
for pid in $tt1_cap $tt2_cap $ipop_cap; do stop_capture "$pid"; done

# Not one IP fragment on tunnel-tap (IPv4: MF or an offset; IPv6: a
# fragment header), while the full-size frames did cross it: 12 inner
# packets (6 pings and their replies) at least as big as a full-size frame
# in ESP-in-UDP over IPv4, seen on each side.
for s in s1 s2; do
	frags=$(tcpdump -n -r "$T/$s-tt.pcap" '(ip and ip[6:2] & 0x3fff != 0) or (ip6 and ip6[6] == 44)' \
		2>/dev/null | wc -l)
	big=$(tcpdump -n -r "$T/$s-tt.pcap" "udp port 5805 and greater $((14 + inner_mtu + 14 + 42 + 20))" \
		2>/dev/null | wc -l)
	assert_eq "$frags" 0 "$s: IP fragments on tunnel-tap"
	assert_gt "$big" 11 "$s: full-size ESP packets on tunnel-tap"
	log "$s tunnel-tap: $big full-size ESP packets, $frags fragments"
done
ok "full-size inner frames ($inner_mtu bytes) cross tunnel-tap ($tt_mtu) without fragmentation"

has_pattern() { $PY -c 'import sys; sys.exit(0 if b"\xde\xad\xbe\xef" * 4 in open(sys.argv[1], "rb").read() else 1)' "$1"; }
has_pattern "$T/s1-ipop.pcap" ||
	fail "control capture on the inner TAP does not show the pattern: the checks below would prove nothing"

# pcap_ip PCAP: one line per IPv4/IPv6 packet (Ethernet link type):
# "SRC DST PROTO SPORT DPORT PAYLOAD_HEX" (ports 0 when not UDP/TCP).
pcap_ip()
{
	"$PY" - "$1" <<-'EOPY'
		import ipaddress, struct, sys
		data = open(sys.argv[1], "rb").read()
		e = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
		if struct.unpack(e + "I", data[20:24])[0] & 0xffff != 1:
		    sys.exit("pcap_ip: not Ethernet")
		off = 24
		while off + 16 <= len(data):
		    incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
		    f = data[off + 16:off + 16 + incl]
		    off += 16 + incl
		    et, ip = f[12:14], f[14:]
		    if et == b"\x08\x00" and len(ip) >= 20:
		        hl, proto = (ip[0] & 15) * 4, ip[9]
		        src, dst = ipaddress.ip_address(ip[12:16]), ipaddress.ip_address(ip[16:20])
		        if struct.unpack(">H", ip[6:8])[0] & 0x1fff:
		            proto = -proto  # a non-first fragment: no ports
		    elif et == b"\x86\xdd" and len(ip) >= 40:
		        hl, proto = 40, ip[6]
		        src, dst = ipaddress.ip_address(ip[8:24]), ipaddress.ip_address(ip[24:40])
		        if proto == 44 and len(ip) >= 48:  # fragment header
		            proto, hl = ip[40], 48
		            if struct.unpack(">H", ip[42:44])[0] >> 3:
		                proto = -proto  # a non-first fragment: no ports
		    else:
		        continue
		    l4 = ip[hl:]
		    sp = dp = 0
		    if proto in (6, 17) and len(l4) >= 4:
		        sp, dp = struct.unpack(">HH", l4[:4])
		    pl = l4[8:] if proto == 17 else l4
		    print(src, dst, proto, sp, dp, pl[:24].hex() or "-")
	EOPY
}

# On tunnel-tap: the inner traffic is ESP-in-UDP between the outer addresses,
# port 5805 at both ends; the only other UDP is the inner overlay's STUN
# requests to the dummy address (and ICMP saying nobody listens there).
# spis SOCK: the current inbound and outbound SPI of the instance's one link.
spis() { ctl_get "$1" links "' '.join(str(int(d['links'][0][k], 16)) for k in ('spi_in', 'spi_out'))"; }
inner_spis=$(spis "$(isock s1)")
for s in s1 s2; do
	pcap_ip "$T/$s-tt.pcap" >"$T/$s-tt.txt"
	"$PY" - "$T/$s-tt.txt" "$inner_spis" "${!OUTER_ADDR[@]}" <<-'EOPY' || fail "$s: tunnel-tap capture (see above)"
		import ipaddress, sys
		inner_spis = set(map(int, sys.argv[2].split()))
		outer = set(sys.argv[3:])
		esp = stun = icmp = frags = 0
		spis = set()
		for line in open(sys.argv[1]):
		    src, dst, proto, sp, dp, pl = line.split()
		    proto, sp, dp = int(proto), int(sp), int(dp)
		    a, b = ipaddress.ip_address(src), ipaddress.ip_address(dst)
		    if a.version == 6 and (a.is_link_local or a.is_unspecified or b.is_multicast):
		        continue  # neighbour discovery / MLD on the TAP
		    if src not in outer or dst not in outer:
		        sys.exit("packet %s -> %s (proto %d) on tunnel-tap: not between outer addresses" % (src, dst, proto))
		    if proto == 17 and sp == 5805 and dp == 5805:
		        spi = int(pl[:8], 16)
		        if spi >= 0x80000000:
		            esp += 1
		            spis.add(spi)
		        elif spi != 0:
		            sys.exit("UDP 5805 datagram neither ESP nor a handshake: %s" % pl)
		    elif proto == 17 and 19302 in (sp, dp):
		        stun += 1
		    elif proto in (1, 58):
		        icmp += 1  # port unreachable from the dummy STUN address
		    elif proto == -17:
		        frags += 1  # the rest of a fragmented inner packet: must not happen
		    else:
		        sys.exit("unexpected packet on tunnel-tap: %s" % line.strip())
		if esp < 40:
		    sys.exit("only %d ESP packets on port 5805" % esp)
		if frags:
		    sys.exit("%d IP fragments of ESP packets on tunnel-tap" % frags)
		if not inner_spis <= spis:
		    sys.exit("the inner link's SPIs %s are not among those on tunnel-tap %s" %
		             (sorted(map(hex, inner_spis)), sorted(map(hex, spis))))
		print("ESP-in-UDP 5805: %d packets (%d more fragments), SPIs %s; dummy STUN %d, ICMP %d" %
		      (esp, frags, " ".join("0x%08x" % s for s in sorted(spis)), stun, icmp))
	EOPY
	has_pattern "$T/$s-tt.pcap" && fail "$s: the containers' ping pattern is in clear on tunnel-tap"
	grep -Eq "^(${CT_IP[0]//./\\.}|${CT_IP[1]//./\\.}|fd00:3::) " "$T/$s-tt.txt" &&
		fail "$s: a container's packet in clear on tunnel-tap"
done
log "tunnel-tap on s1, decoded as the page's tcpdump shows it (ESP in UDP 5805):"
tshark -n -r "$T/s1-tt.pcap" -d udp.port==5805,udpencap -c 6 \
	-Y 'esp && udp.srcport == 5805 && udp.dstport == 5805' 2>/dev/null | sed 's/^/    /'
ok "tunnel-tap carries the inner traffic only as ESP between the outer addresses on port 5805"

# --- stop, then what crossed the WAN and s1's LAN during the whole run ---
# The inner first (the page's order reversed), clean exits.
outer_spis=$(spis "$(osock s1)")
for i in 3 2 1 0; do stop_ipopd "${DAEMONS[i]}"; done
DAEMONS=()
stop_capture "$wan_cap"
stop_capture "$eth0_cap"
pcap_ip "$T/wan.pcap" >"$T/wan.txt"
"$PY" - "$T/wan.txt" "$XMPP_ADDR" "$outer_spis" "$inner_spis" <<-'EOPY' || fail "WAN capture (see above)"
	import sys
	xmpp = sys.argv[2]
	outer_spis, inner_spis = (set(map(int, a.split())) for a in sys.argv[3:5])
	esp = hs = tls = 0
	spis = set()
	for line in open(sys.argv[1]):
	    src, dst, proto, sp, dp, pl = line.split()
	    proto, sp, dp = int(proto), int(sp), int(dp)
	    if proto == 6 and ((dst == xmpp and dp == 5222) or (src == xmpp and sp == 5222)):
	        tls += 1
	    elif proto == 17 and 5800 in (sp, dp) and src.startswith("198.18.0.") and dst.startswith("198.18.0."):
	        if sp != 5800 or dp != 5800:
	            sys.exit("UDP %s:%d -> %s:%d: not 5800 at both ends" % (src, sp, dst, dp))
	        spi = int(pl[:8], 16)
	        if spi >= 0x80000000:
	            esp += 1
	            spis.add(spi)
	        elif spi == 0:
	            hs += 1
	        else:
	            sys.exit("UDP 5800 datagram neither ESP nor a handshake: %s" % pl)
	    elif ":" in src and (src == "::" or src.startswith("fe80:") or dst.startswith("ff")):
	        continue  # IPv6 neighbour discovery / MLD of the veths
	    elif proto == 2 and dst.startswith("224."):
	        continue  # IGMP of the bridge
	    else:
	        sys.exit("unexpected on the WAN: %s" % line.strip())
	if esp < 40:
	    sys.exit("only %d ESP packets on port 5800" % esp)
	if not outer_spis <= spis or spis & inner_spis:
	    sys.exit("SPIs on the WAN %s: expected the outer link's %s, none of the inner's %s" %
	             (sorted(map(hex, spis)), sorted(map(hex, outer_spis)), sorted(map(hex, inner_spis))))
	print("WAN: ESP-in-UDP 5800 %d, handshakes %d, XMPP (TCP 5222) %d; nothing else" % (esp, hs, tls))
EOPY
has_pattern "$T/wan.pcap" && fail "the containers' ping pattern is in clear on the WAN"
ok "the WAN saw only the outer overlay (UDP 5800, ESP) and XMPP: no 5805, no DNS, no StatReport"
pcap_ip "$T/s1-eth0.pcap" >"$T/s1-eth0.txt"
bad=$(awk '($3 == 17 && !($4 == 5800 && $5 == 5800)) || ($3 == 6 && $4 != 5222 && $5 != 5222)' \
	"$T/s1-eth0.txt")
[ -z "$bad" ] || fail "s1's eth0 carried other traffic than the outer overlay and XMPP: $bad"
ok "s1's eth0 (behind the NAT) carried only UDP 5800 and XMPP"

for f in "$T"/ipopd-*.log; do
	grep -q "StatReport.enabled: ignored: ipopd never phones home" "$f" ||
		fail "${f##*/}: no warning that StatReport is ignored"
done
ok "every daemon warned that StatReport is ignored (ipopd never phones home)"
bad=$(grep -h "ERROR\|WARNING xmpp" "$T"/ipopd-*.log || true)
[ -z "$bad" ] || fail "errors or XMPP warnings in the daemon logs: $bad"
log "total $SECONDS s"
