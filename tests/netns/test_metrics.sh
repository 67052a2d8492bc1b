#!/usr/bin/env bash
# Prometheus metrics: two keyed L3 sites, each with http_listen on its
# namespace's loopback. /metrics passes `promtool check metrics` (HELP and
# TYPE on every family, counter naming), carries the link series (up, state,
# bytes, packets, auth failures, replays, handshakes) and drop series, and
# their values are the ones `ipopctl peers/links/stats --json` report: each
# scrape is taken between two ipopctl snapshots and must lie between them.
# Forged ESP with an unknown SPI shows up as ipopd_drops_total{reason=
# "unknown_spi"}; a POST is refused, an unknown path is 404.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ops.sh"
harness_init
need_cmd curl promtool

PORT=5800
HTTP=127.0.0.1:9474
make_wan
make_site a 1
make_site b 2
write_keyed_config "$T/a.json" site=a port=$PORT peers=b extra="\"http_listen\": \"$HTTP\""
write_keyed_config "$T/b.json" site=b port=$PORT peers=a extra="\"http_listen\": \"$HTTP\""
start_ipopd a "$T/a.json"
start_ipopd b "$T/b.json"
sa=$(config_sock "$T/a.json")
wait_link_up 15 "$sa" b
ping_ok a 10.254.0.2
nsx a ping -q -c 50 -i 0.01 -s 1000 10.254.0.2 >/dev/null

# Forged ESP towards a: unknown SPI (a drop with a name), from b's underlay.
nsx b "$PY" - <<-'PYEOF'
	import socket
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	for i in range(7):
	    s.sendto(bytes.fromhex("8badf00d") + i.to_bytes(4, "big") + bytes(40), ("198.18.0.1", 5800))
PYEOF
wait_for 5 bash -c "[ \"\$(\"$IPOPCTL\" -s '$sa' stats --json | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"total\"][\"drops\"][\"unknown_spi\"])')\" -ge 7 ]" ||
	fail "a did not count the forged packets as unknown_spi"

for i in 1 2; do
	ctl "$sa" peers --json >"$T/peers1.json"
	ctl "$sa" links --json >"$T/links1.json"
	ctl "$sa" stats --json >"$T/stats1.json"
	http_get a "http://$HTTP/metrics" "$T/metrics.txt"
	ctl "$sa" peers --json >"$T/peers2.json"
	ctl "$sa" links --json >"$T/links2.json"
	ctl "$sa" stats --json >"$T/stats2.json"
done
promtool check metrics <"$T/metrics.txt" >"$T/promtool.txt" 2>&1 ||
	fail "promtool check metrics: $(cat "$T/promtool.txt")"
ok "promtool check metrics: clean ($(grep -c '^# TYPE' "$T/metrics.txt") families, $(grep -vc '^#' "$T/metrics.txt") samples)"

$PY - "$T" <<-'PYEOF' || fail "metrics vs ipopctl (above)"
	import json, re, sys
	t = sys.argv[1]
	samples = {}
	for line in open(t + "/metrics.txt"):
	    if line.startswith("#") or not line.strip():
	        continue
	    name, value = line.rsplit(" ", 1)
	    samples[name] = float(value)
	def get(name):
	    if name not in samples:
	        sys.exit("missing series %s" % name)
	    return samples[name]
	def load(kind, n):
	    return json.load(open("%s/%s%d.json" % (t, kind, n)))
	def peer(d, name):
	    return next(p for p in d["peers"] if p["name"] == name)
	def link(d, name):
	    return next(p for p in d["links"] if p["name"] == name)
	checks = 0
	def between(series, lo, hi):
	    global checks
	    v = get(series)
	    if not (lo <= v <= hi):
	        sys.exit("%s = %s, ipopctl said %s .. %s" % (series, v, lo, hi))
	    checks += 1
	    print("%-58s %12g  (ipopctl %g .. %g)" % (series, v, lo, hi))
	p1, p2 = peer(load("peers", 1), "b"), peer(load("peers", 2), "b")
	for js, m in [("tx_packets", "tx_packets_total"), ("tx_bytes", "tx_bytes_total"),
	              ("rx_packets", "rx_packets_total"), ("rx_bytes", "rx_bytes_total"),
	              ("auth_fail", "auth_failures_total"), ("replay", "replays_total")]:
	    between('ipopd_link_%s{peer="b"}' % m, p1[js], p2[js])
	l1, l2 = link(load("links", 1), "b"), link(load("links", 2), "b")
	between('ipopd_link_handshakes_total{peer="b"}', l1["handshakes"], l2["handshakes"])
	between('ipopd_link_rekeys_total{peer="b"}', l1["rekeys"], l2["rekeys"])
	if get('ipopd_link_up{peer="b"}') != 1 or get('ipopd_link_state{peer="b",state="up"}') != 1:
	    sys.exit("link b not reported up")
	s1, s2 = load("stats", 1), load("stats", 2)
	for reason in s1["total"]["drops"]:
	    between('ipopd_drops_total{reason="%s"}' % reason,
	            s1["total"]["drops"][reason], s2["total"]["drops"][reason])
	if get('ipopd_drops_total{reason="unknown_spi"}') < 7:
	    sys.exit("unknown_spi drops not counted")
	for d in ("host_rx", "net_tx"):
	    between('ipopd_worker_packets_total{worker="0",direction="%s"}' % d,
	            s1["workers"][0][d + "_packets"], s2["workers"][0][d + "_packets"])
	between("ipopd_handshake_completed_total", s1["handshake"]["completed"], s2["handshake"]["completed"])
	r = get('ipopd_worker_busy_ratio{worker="0"}')
	if not 0 <= r <= 1:
	    sys.exit("busy ratio %s" % r)
	print("%d series match ipopctl" % checks)
PYEOF
ok "link, drop, worker and handshake series carry the values ipopctl reports"

# Round-trip time: measured by the side whose initiation was answered, which
# at start-up may be either (collisions, retransmissions): at least one of
# the two must report it for its up link, each one that does within 0..1 s
# and as its `ipopctl links` says.
sb=$(config_sock "$T/b.json")
ctl "$sb" links --json >"$T/links_b.json"
http_get b "http://$HTTP/metrics" "$T/metrics_b.txt"
promtool check metrics <"$T/metrics_b.txt" >"$T/promtool_b.txt" 2>&1 ||
	fail "promtool check metrics (b): $(cat "$T/promtool_b.txt")"
$PY - "$T" <<-'PYEOF' || fail "ipopd_link_rtt_seconds (above)"
	import json, sys
	t = sys.argv[1]
	found = 0
	for site, peer, links in (("", "b", "links1"), ("_b", "a", "links_b")):
	    text = open("%s/metrics%s.txt" % (t, site)).read()
	    if "# TYPE ipopd_link_rtt_seconds gauge" not in text or "# HELP ipopd_link_rtt_seconds " not in text:
	        sys.exit("no HELP/TYPE for ipopd_link_rtt_seconds")
	    series = 'ipopd_link_rtt_seconds{peer="%s"} ' % peer
	    vals = [float(l.split(" ")[1]) for l in text.splitlines() if l.startswith(series)]
	    lk = next(l for l in json.load(open("%s/%s.json" % (t, links)))["links"] if l["name"] == peer)
	    if not vals:
	        if lk.get("srtt_ms") is not None:
	            sys.exit("links says srtt_ms %s for %s, /metrics has no series" % (lk["srtt_ms"], peer))
	        print("%-40s not measured (this side answered)" % series)
	        continue
	    v = vals[0]
	    if not 0 <= v < 1:
	        sys.exit("%s= %s, not within 0..1 s" % (series, v))
	    if lk.get("srtt_ms") is None or lk.get("rtt_ms") is None:
	        sys.exit("%s= %s but links has no rtt_ms/srtt_ms" % (series, v))
	    print("%-40s %g s  (links: rtt_ms %s, srtt_ms %s)" % (series, v, lk["rtt_ms"], lk["srtt_ms"]))
	    found += 1
	if not found:
	    sys.exit("neither side reports ipopd_link_rtt_seconds for its up link")
PYEOF
ok "ipopd_link_rtt_seconds: present for the up link, within 0..1 s, as ipopctl links says"
ctl "$sa" links >"$T/links.txt"
grep -q SRTT "$T/links.txt" || fail "ipopctl links has no SRTT column"

code=$(nsx a curl -s -o /dev/null -w '%{http_code}' -X POST "http://$HTTP/metrics")
assert_eq "$code" 405 "POST /metrics"
code=$(nsx a curl -s -o /dev/null -w '%{http_code}' "http://$HTTP/nope")
assert_eq "$code" 404 "GET /nope"
ct=$(nsx a curl -s -o /dev/null -w '%{content_type}' "http://$HTTP/metrics")
assert_contains "$ct" '^text/plain; version=0.0.4' "content type of /metrics"
# Only on the loopback of a's namespace: not reachable from b.
if nsx b curl -s --max-time 2 -o /dev/null "http://198.18.0.1:9474/metrics"; then
	fail "the listener answers on the underlay address"
fi
ok "POST refused (405), unknown path 404, text format 0.0.4, not reachable from the WAN"
exit 0
