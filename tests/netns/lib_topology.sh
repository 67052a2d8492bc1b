# shellcheck shell=bash
# The structured overlay's netns tests (sourced after lib.sh; docs/topology.md):
# N gateways directly on the WAN, one prosody (TLS) for the group, the
# BaseTopologyManager keys of the test, short timers.

# topo_group N TOPO_JSON [SWITCH]: WAN + prosody, sites s1..sN at 198.18.0.I,
# overlay 10.254.0.I, configs $T/sI.json with TOPO_JSON merged into
# BaseTopologyManager (e.g. '{"num_successors": 2, "multihop": true}').
# Link timers: $TOPO_LINK_TIMERS (ipopd keys), default keepalive 1 s, link
# timeout 4 s (the tests' short ones).
topo_group()
{
	local n=$1 topo=$2 sw=${3:-0} i users=()
	make_wan
	ip -n "$(ns wan)" addr add "$XMPP_ADDR/24" dev br0
	start_prosody wan "$XMPP_ADDR"
	for ((i = 1; i <= n; i++)); do users+=("gw-s$i"); done
	xmpp_register "${users[@]}"
	for ((i = 1; i <= n; i++)); do
		if [ "$sw" = 1 ]; then
			make_site "s$i" "$i" none
		else
			make_site "s$i" "$i"
		fi
		write_disc_config "$T/s$i.json" site="s$i" stun=0 switch="$sw" \
			extra="${TOPO_LINK_TIMERS:-\"keepalive_interval\": 1, \"link_timeout\": 4}"
		"$PY" - "$T/s$i.json" "$topo" <<-'EOF'
			import json, sys
			f, extra = sys.argv[1], json.loads(sys.argv[2])
			c = json.load(open(f))
			c["BaseTopologyManager"].update(extra)
			json.dump(c, open(f, "w"), indent=1)
		EOF
	done
}

# topo_get SOCK EXPR: EXPR over t = the "topology" object of `ipopctl topology --json`.
topo_get() { ctl "$1" topology --json | json_get "(lambda t: $2)(d['topology'])"; }

# topo_up_peers SOCK: the overlay IPv4s of SOCK's up links, sorted, one line.
topo_up_peers() { topo_get "$1" "' '.join(sorted(l['ip4'] for l in t['links'] if l['state']=='up'))"; }

# topo_linked SOCK IP4 [KIND]: SOCK has an up link to IP4 (with role KIND).
topo_linked()
{
	[ "$(topo_get "$1" "any(l['ip4']=='$2' and l['state']=='up' and ('${3:-}'=='' or '${3:-}' in l['kinds']) for l in t['links'])")" = True ]
}

# topo_has_link SOCK IP4: SOCK's manager holds any link (up or pending) to IP4.
topo_has_link() { [ "$(topo_get "$1" "any(l['ip4']=='$2' for l in t['links'])")" = True ]; }

# topo_converged SOCK MEMBERS SUCC: SOCK sees MEMBERS other members and has
# SUCC successor links up.
topo_converged()
{
	[ "$(topo_get "$1" "t['members_n']==$2 and t['counts']['successor']>=$3")" = True ]
}

# ping_all NET SITE...: every site pings every other site's NET.IDX, the
# pings of one site in parallel (2 answers out of 3 within a second each).
# Fails naming the pairs without an answer.
ping_all()
{
	local net=$1 a b bad="" f
	shift
	for a in "$@"; do
		local pids=() dsts=()
		for b in "$@"; do
			[ "$a" = "$b" ] && continue
			f="$T/ping-$a-$b"
			nsx "$a" ping -c 3 -i 0.3 -W 1 "$net.${SITE_IDX[$b]}" >"$f" 2>&1 &
			pids+=($!)
			dsts+=("$b")
		done
		local k
		for k in "${!pids[@]}"; do
			wait "${pids[$k]}" || true
			grep -qE ' [23] received' "$T/ping-$a-${dsts[$k]}" || bad="$bad $a->${dsts[$k]}"
		done
	done
	[ -z "$bad" ] || fail "pings without answer:$bad"
	ok "every pair of $# gateways pings ($(($# * ($# - 1))) pairs)"
}

# rtt_median FROM DST COUNT [INTERVAL]: the median RTT in ms of COUNT pings
# INTERVAL s apart (default 0.05).
rtt_median()
{
	nsx "$1" ping -c "$3" -i "${4:-0.05}" -W 1 "$2" 2>/dev/null |
		"$PY" -c 'import re,sys,statistics as s
v=[float(m) for m in re.findall(r"time=([0-9.]+)", sys.stdin.read())]
print("%.3f" % s.median(v) if v else "nan")'
}
