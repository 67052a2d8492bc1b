#!/usr/bin/env bash
# The live overlay page: three keyed L3 sites in a full mesh; a's page
# (http_listen on its namespace's loopback) is loaded in headless Chromium,
# which runs the page's scripts (d3 served by ipopd from libjs-d3, no other
# origin) and dumps the DOM. It must show the three members and a's two
# links up, with a's endpoints. Then c stops: the page must show the link to
# c in the state ipopctl reports for it (not up). Screenshots are kept in
# ARTIFACT_DIR (build/artifacts): page-up.png, page-c-down.png.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ops.sh"
harness_init
need_cmd curl chromium

PORT=5800
HTTP=127.0.0.1:9474
ART=${ARTIFACT_DIR:-$T}
mkdir -p "$ART"
make_wan
make_site a 1
make_site b 2
make_site c 3
for s in a b c; do
	peers=$(echo a b c | tr ' ' '\n' | grep -v "^$s$" | tr '\n' ' ')
	write_keyed_config "$T/$s.json" site=$s port=$PORT peers="$peers" link_timeout=3 keepalive=1 \
		extra="\"http_listen\": \"$HTTP\""
done
start_ipopd a "$T/a.json"
start_ipopd b "$T/b.json"
start_ipopd c "$T/c.json"
pid_c=$IPOPD_PID
sa=$(config_sock "$T/a.json")
wait_link_up 15 "$sa" b
wait_link_up 15 "$sa" c
ping_ok a 10.254.0.2
ping_ok a 10.254.0.3

# Every asset comes from ipopd itself.
http_get a "http://$HTTP/" "$T/index.html"
if grep -Eo '(src|href)="[^"]*"' "$T/index.html" | grep -v '="/'; then
	fail "the page references another origin"
fi
http_get a "http://$HTTP/d3.min.js" "$T/d3.js"
cmp -s "$T/d3.js" /usr/share/javascript/d3/d3.min.js || fail "/d3.min.js is not Debian's libjs-d3"
ok "page and assets served by ipopd, d3 from libjs-d3"

# render NAME: DOM after the scripts ran (virtual time: two polls), and a screenshot.
render()
{
	local name=$1
	nsx a chromium --headless=new --no-sandbox --disable-gpu --user-data-dir="$T/chrome" \
		--virtual-time-budget=4000 --dump-dom "http://$HTTP/" >"$T/$name.html" 2>"$T/chrome-$name.log" ||
		fail "chromium --dump-dom failed: $(tail -n 3 "$T/chrome-$name.log")"
	nsx a chromium --headless=new --no-sandbox --disable-gpu --user-data-dir="$T/chrome" \
		--hide-scrollbars --window-size=1280,800 --virtual-time-budget=4000 \
		--screenshot="$ART/$name.png" "http://$HTTP/" >>"$T/chrome-$name.log" 2>&1 ||
		fail "chromium --screenshot failed: $(tail -n 3 "$T/chrome-$name.log")"
	[ -s "$ART/$name.png" ] || fail "no screenshot $ART/$name.png"
}

# check_dom FILE EXPECT: EXPECT = "member:state ..." for every member drawn
# and "link:peer:state" for every link drawn.
check_dom()
{
	"$PY" - "$@" <<-'PYEOF'
		import sys
		from html.parser import HTMLParser
		members, links, rows = {}, {}, set()
		class P(HTMLParser):
		    def handle_starttag(self, tag, attrs):
		        a = dict(attrs)
		        cls = (a.get("class") or "").split()
		        if tag == "g" and "member" in cls:
		            members[a.get("data-name")] = a.get("data-state")
		        if tag == "line" and "link" in cls:
		            links[a.get("data-peer")] = (a.get("data-state"), a.get("data-kind"))
		        if tag == "tr" and a.get("data-peer"):
		            rows.add(a["data-peer"])
		P().feed(open(sys.argv[1]).read())
		want_members, want_links = {}, {}
		for w in sys.argv[2].split():
		    p = w.split(":")
		    if p[0] == "link":
		        want_links[p[1]] = p[2]
		    else:
		        want_members[p[0]] = p[1]
		print("members drawn: %s; links drawn: %s" % (members, links))
		if len(members) != len(want_members):
		    sys.exit("%d members drawn, expected %d" % (len(members), len(want_members)))
		for m, s in want_members.items():
		    if members.get(m) != s:
		        sys.exit("member %s drawn as %s, expected %s" % (m, members.get(m), s))
		for l, s in want_links.items():
		    if l not in links or links[l][0] != s or links[l][1] != "direct":
		        sys.exit("link to %s drawn as %s, expected %s/direct" % (l, links.get(l), s))
		    if l not in rows:
		        sys.exit("no table row for link %s" % l)
		if set(links) != set(want_links):
		    sys.exit("links drawn %s, expected %s" % (sorted(links), sorted(want_links)))
	PYEOF
}

render page-up
tap=$(ctl_get "$sa" status 'd["tap"]')
check_dom "$T/page-up.html" "$tap:self b:up c:up link:b:up link:c:up" || fail "page with all links up (above)"
grep -q '198.18.0.2:5800' "$T/page-up.html" || fail "the page does not show b's endpoint"
ok "the page shows 3 members and a's links to b and c up, with endpoints"

stop_ipopd "$pid_c"
wait_for 15 bash -c "[ \"\$(\"$IPOPCTL\" -s '$sa' links --json | $PY -c 'import json,sys; print(next(l[\"state\"] for l in json.load(sys.stdin)[\"links\"] if l[\"name\"]==\"c\"))')\" != up ]" ||
	fail "a still reports c up 15 s after c stopped"
state_c=$(link_state "$sa" c)
render page-c-down
check_dom "$T/page-c-down.html" "$tap:self b:up c:$state_c link:b:up link:c:$state_c" ||
	fail "page after c stopped (above)"
ok "after c stopped the page shows the link to c $state_c (as ipopctl does), b still up"
ok "screenshots: $ART/page-up.png $ART/page-c-down.png"
exit 0
