# XMPP servers for the signalling tests (sourced after lib.sh, bash): ejabberd
# (Debian's 23.01, run as root in the foreground with its own config, spool,
# log, cookie and node name under the test's temp dir; several nodes may form
# a cluster), prosody (lib.sh's start_prosody), and what an admin does on
# either: accounts, shared roster groups, relations made and removed at run
# time.
#
# ejabberd is not started through ejabberdctl, which switches to the
# "ejabberd" user when run as root: erl runs ejabberd directly
# (`erl -name ejabberd@ADDR -s ejabberd`, what `ejabberdctl foreground`
# execs), with EJABBERD_CONFIG_PATH/EJABBERD_LOG_PATH pointing into $T and
# its own epmd started first in the same namespace (so the harness owns its
# PID), and admin commands go through a hidden erl node calling ejabberd_ctl
# (what `ejabberdctl COMMAND` execs), with the node's cookie.

EJ_COOKIE=ipopd-netns-$$
declare -A EJ_PID=()  # node address -> PID of its beam
declare -A EJ_NS=()   # node address -> namespace short name
declare -A EPMD_PID=() # namespace short name -> PID of its epmd

# make_xmpp_ca: the test CA ($T/xmpp/ca.crt, what write_disc_config
# configures) and a certificate for $XMPP_DOMAIN and conference.$XMPP_DOMAIN
# ($T/xmpp/certs/$XMPP_DOMAIN.{crt,key}, also as one PEM for ejabberd).
make_xmpp_ca()
{
	local d="$T/xmpp"
	[ -f "$d/ca.crt" ] && return 0
	mkdir -p "$d/certs"
	(
		cd "$d"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout ca.key -out ca.crt -days 2 -subj /CN=ipopd-netns-ca
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "certs/$XMPP_DOMAIN.key" -out srv.csr -subj "/CN=$XMPP_DOMAIN"
		printf 'subjectAltName=DNS:%s,DNS:conference.%s\n' "$XMPP_DOMAIN" "$XMPP_DOMAIN" >ext.cnf
		openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
			-out "certs/$XMPP_DOMAIN.crt" -days 2 -extfile ext.cnf
		cat "certs/$XMPP_DOMAIN.crt" "certs/$XMPP_DOMAIN.key" >"certs/$XMPP_DOMAIN.pem"
	) >"$d/openssl.out" 2>&1 || fail "cannot make the test CA: $(cat "$d/openssl.out")"
}

# ej_env ADDR: the environment of ejabberd's node at ADDR (and of ctl calls).
ej_env()
{
	local d="$T/ejabberd-$1"
	printf '%s\n' "HOME=$d" "EJABBERD_CONFIG_PATH=$d/ejabberd.yml" \
		"EJABBERD_LOG_PATH=$d/ejabberd.log" "ERL_CRASH_DUMP=$d/erl_crash.dump" \
		"ERL_LIBS=/usr/lib/x86_64-linux-gnu" "ERL_EPMD_ADDRESS=$1,127.0.0.1"
}

# start_ejabberd NS ADDR: an ejabberd node "ejabberd@ADDR" for $XMPP_DOMAIN
# (MUC at conference.$XMPP_DOMAIN, shared roster groups, mod_admin_extra for
# the srg_*/roster commands) listening for clients on ADDR:5222 inside
# namespace NS, STARTTLS required, certificate from make_xmpp_ca. Erlang
# distribution listens on ADDR, ports 4370-4379 (epmd on 4369), cookie
# $EJ_COOKIE. A second call for the same ADDR restarts it on the same spool
# (accounts and groups kept). Waits until clients can connect.
start_ejabberd()
{
	local n=$1 addr=$2 d="$T/ejabberd-$2" i
	need_cmd erl epmd openssl
	[ -d /usr/lib/x86_64-linux-gnu/ejabberd-23.01 ] || ls -d /usr/lib/x86_64-linux-gnu/ejabberd-* >/dev/null 2>&1 ||
		skip "ejabberd is not installed"
	make_xmpp_ca
	EJ_NS[$addr]=$n
	if [ ! -f "$d/ejabberd.yml" ]; then
		mkdir -p "$d/spool"
		cat >"$d/ejabberd.yml" <<-EOC
			loglevel: info
			hosts:
			  - $XMPP_DOMAIN
			certfiles:
			  - "$T/xmpp/certs/$XMPP_DOMAIN.pem"
			ca_file: "$T/xmpp/ca.crt"
			listen:
			  -
			    port: 5222
			    ip: "$addr"
			    module: ejabberd_c2s
			    starttls_required: true
			auth_method: internal
			auth_password_format: scram
			acl:
			  local:
			    user_regexp: ""
			access_rules:
			  local:
			    allow: local
			  c2s:
			    allow: all
			  muc_create:
			    allow: local
			api_permissions:
			  "console commands":
			    from:
			      - ejabberd_ctl
			    who: all
			    what: "*"
			modules:
			  mod_admin_extra: {}
			  mod_disco: {}
			  mod_ping: {}
			  mod_roster: {}
			  mod_shared_roster: {}
			  mod_muc:
			    host: conference.$XMPP_DOMAIN
			    access_create: muc_create
			    default_room_options:
			      persistent: false
			      mam: false
		EOC
	fi
	if [ -z "${EPMD_PID[$n]:-}" ]; then
		spawn nsx "$n" env ERL_EPMD_ADDRESS="$addr,127.0.0.1" epmd >>"$T/epmd-$n.log" 2>&1
		EPMD_PID[$n]=$SPAWN_PID
		wait_for 5 nsx "$n" bash -c "exec 3<>/dev/tcp/$addr/4369" || fail "epmd did not start in $n"
	fi
	# shellcheck disable=SC2046 # one word per line of ej_env
	spawn nsx "$n" env $(ej_env "$addr") erl -name "ejabberd@$addr" -setcookie "$EJ_COOKIE" \
		-noinput -kernel inet_dist_use_interface "{${addr//./,}}" \
		-kernel inet_dist_listen_min 4370 -kernel inet_dist_listen_max 4379 \
		-mnesia dir "\"$d/spool\"" -s ejabberd >>"$d/erl.log" 2>&1
	EJ_PID[$addr]=$SPAWN_PID
	for ((i = 0; i < 300; i++)); do
		kill -0 "${EJ_PID[$addr]}" 2>/dev/null || fail "ejabberd at $addr exited at start (see $d/)"
		nsx "$n" bash -c "exec 3<>/dev/tcp/$addr/5222" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "ejabberd did not listen on $addr:5222 within 30 s: $(tail -n 5 "$d/ejabberd.log")"
}

# stop_ejabberd ADDR [SIGNAL]: SIGKILL by default (a crash: no goodbye to
# clients, the kernel resets their connections); TERM is a clean stop.
stop_ejabberd()
{
	local addr=$1 sig=${2:-KILL} pid=${EJ_PID[$1]} i
	kill "-$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# ejctl ADDR COMMAND ARGS...: `ejabberdctl COMMAND ARGS` against the node at
# ADDR (from its own namespace). Prints the command's output.
ejctl()
{
	local addr=$1
	shift
	# shellcheck disable=SC2046
	nsx "${EJ_NS[$addr]}" env $(ej_env "$addr") erl -name "ctl$$-$RANDOM@$addr" \
		-setcookie "$EJ_COOKIE" -hidden -noinput \
		-kernel inet_dist_use_interface "{${addr//./,}}" \
		-kernel inet_dist_listen_min 4370 -kernel inet_dist_listen_max 4379 \
		-s ejabberd_ctl -extra "ejabberd@$addr" "$@"
}

# ejctl_ok ADDR COMMAND ARGS...: ejctl that must succeed.
ejctl_ok()
{
	local out
	out=$(ejctl "$@" 2>&1) || fail "ejabberdctl $2 ${*:3} failed: $out"
	printf '%s' "$out"
}

# --- what an admin does, on either server ($XMPP_SERVER = prosody|ejabberd) ---

# srv_register USER...: accounts USER@$XMPP_DOMAIN with password $XMPP_PASS.
srv_register()
{
	local u i
	if [ "$XMPP_SERVER" = prosody ]; then
		xmpp_register "$@"
		return
	fi
	# (A node that has just opened its c2s port may not have created its
	# auth table yet on a fresh spool: no_exists,passwd. Retried.)
	for u in "$@"; do
		for ((i = 0; i < 20; i++)); do
			ejctl "$XMPP_ADDR" register "$u" "$XMPP_DOMAIN" "$XMPP_PASS" >"$T/ejctl.out" 2>&1 && break
			sleep 0.5
		done
		[ "$i" -lt 20 ] || fail "ejabberdctl register $u failed: $(cat "$T/ejctl.out")"
	done
}

# xmpp_raw USER RESOURCE [ADDR]: logs in as USER@$XMPP_DOMAIN/RESOURCE (STARTTLS
# verified against the test CA, SASL PLAIN inside TLS) from the WAN namespace,
# as an admin's client would, and sends the stanzas on stdin (one per line);
# returns once a ping to the server has come back, i.e. once the server has
# routed them all.
xmpp_raw()
{
	nsx wan "$PY" - "${3:-$XMPP_ADDR}" "$XMPP_DOMAIN" "$1" "$XMPP_PASS" "$T/xmpp/ca.crt" "$2" \
		3<&0 >>"$T/xmpp_raw.log" 2>&1 <<-'EOPY' || fail "raw XMPP client $1/$2 failed: $(tail -n 5 "$T/xmpp_raw.log")"
		import base64, os, re, socket, ssl, sys
		addr, domain, user, pw, ca, res = sys.argv[1:7]
		sock = socket.create_connection((addr, 5222), timeout=10)
		buf = b""

		def send(s):
		    sock.sendall(s.encode())

		def expect(pat):
		    global buf
		    while not re.search(pat, buf):
		        d = sock.recv(65536)
		        if not d:
		            sys.exit("closed waiting for %r; got %r" % (pat, buf[-300:]))
		        buf += d
		    m = re.search(pat, buf)
		    out, buf = buf[:m.end()], buf[m.end():]
		    return out

		def stream():
		    send("<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' "
		         "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>" % domain)
		    expect(rb"</stream:features>")

		stream()
		send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
		expect(rb"<proceed[^>]*/>")
		sock = ssl.create_default_context(cafile=ca).wrap_socket(sock, server_hostname=domain)
		stream()
		cred = base64.b64encode(("\0%s\0%s" % (user, pw)).encode()).decode()
		send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>" % cred)
		expect(rb"<success[^>]*(/>|</success>)")
		stream()
		send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
		     "<resource>%s</resource></bind></iq>" % res)
		expect(rb"</iq>")
		for line in os.fdopen(3):
		    if line.strip():
		        print("%s/%s sends %s" % (user, res, line.strip()))
		        send(line.strip())
		send("<iq type='get' id='p1' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>" % domain)
		expect(rb"id=['\"]p1['\"]")
		send("</stream:stream>")
	EOPY
}

# srv_relate A B: A's admin adds B as a contact (A's side of the relation
# only; the relation is whole once srv_relate B A ran too). ejabberd: the
# admin command (`add_rosteritem`, subscription "both" on A's side);
# prosody: from a client of A's account, a roster item, a subscription
# request and a pre-approval.
srv_relate()
{
	local a=$1 b=$2
	if [ "$XMPP_SERVER" = ejabberd ]; then
		ejctl_ok "$XMPP_ADDR" add_rosteritem "$a" "$XMPP_DOMAIN" "$b" "$XMPP_DOMAIN" "$b" overlay both >/dev/null
		return
	fi
	xmpp_raw "$a" admin <<-EOF
		<iq type='set' id='ra'><query xmlns='jabber:iq:roster'><item jid='$b@$XMPP_DOMAIN'/></query></iq>
		<presence to='$b@$XMPP_DOMAIN' type='subscribe'/>
		<presence to='$b@$XMPP_DOMAIN' type='subscribed'/>
	EOF
}

# srv_unrelate A B: A's admin removes B from A's roster (ejabberd:
# `delete_rosteritem`; prosody: a roster remove from a client, which also
# cancels both subscriptions).
srv_unrelate()
{
	local a=$1 b=$2
	if [ "$XMPP_SERVER" = ejabberd ]; then
		ejctl_ok "$XMPP_ADDR" delete_rosteritem "$a" "$XMPP_DOMAIN" "$b" "$XMPP_DOMAIN" >/dev/null
		return
	fi
	echo "<iq type='set' id='rr'><query xmlns='jabber:iq:roster'><item jid='$b@$XMPP_DOMAIN' subscription='remove'/></query></iq>" |
		xmpp_raw "$a" admin
}

# links_named SOCK: the sorted names of the links of the gateway at SOCK.
links_named() { ctl_get "$1" links "sorted(l['name'] for l in d['links'])"; }
# members_ip4 SOCK: the sorted ip4 of its XMPP members.
members_ip4() { xmpp_get "$1" "sorted(m['ip4'] for m in d['members'])"; }
