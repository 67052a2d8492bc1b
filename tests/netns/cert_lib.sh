# Certificate helpers of the netns tests (test_certs.sh,
# test_certs_discovery.sh): the README's openssl commands for an overlay CA,
# node certificates over ipopd's X25519 key, revocation and CRLs, and
# backdated certificates (python3-cryptography). Needs lib.sh and $PKI.

# ca DIR CN: an Ed25519 CA and the files `openssl ca` keeps for revocations.
ca()
{
	mkdir -p "$1"
	openssl req -x509 -newkey ed25519 -nodes -keyout "$1/ca.key" -out "$1/ca.pem" \
		-subj "/CN=$2" -days 3650 -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign \
		-addext "sbgp-ipAddrBlock=critical,IPv4:10.254.0.0/16,IPv4:10.20.0.0/16" 2>"$1/err" ||
		fail "CA: $(cat "$1/err")"
	printf '[ca]\ndefault_ca = overlay\n[overlay]\ndatabase = %s/index.txt\ncrlnumber = %s/crlnumber\ndefault_md = default\ndefault_crl_days = 30\n' \
		"$1" "$1" >"$1/ca.cnf"
	: >"$1/index.txt"
	echo 01 >"$1/crlnumber"
}
crl() { openssl ca -config "$1/ca.cnf" -keyfile "$1/ca.key" -cert "$1/ca.pem" -gencrl -out "$1/crl.pem" 2>/dev/null || fail "gencrl"; }
revoke() { openssl ca -config "$1/ca.cnf" -keyfile "$1/ca.key" -cert "$1/ca.pem" -revoke "$2" 2>/dev/null || fail "revoke $2"; }

# pubpem B64 OUT: ipopd's base64 X25519 public key as a PEM public key.
pubpem()
{
	{
		printf '\x30\x2a\x30\x05\x06\x03\x2b\x65\x6e\x03\x21\x00'
		base64 -d <<<"$1"
	} | openssl pkey -pubin -inform DER -out "$2" || fail "pubpem"
}

# sign CADIR NAME IP PUB_B64 OUT [SUBNET]: a node certificate, valid for 30
# days, with SUBNET (IPv4 prefix) as its routed subnet.
sign()
{
	local dir=$1 name=$2 ip=$3 pub=$4 out=$5 subnet=${6:-}
	pubpem "$pub" "$out.pub"
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,keyAgreement\nsubjectAltName=IP:%s,DNS:%s\n' \
		"$ip" "$name" >"$out.ext"
	[ -n "$subnet" ] && printf 'sbgp-ipAddrBlock=critical,IPv4:%s\n' "$subnet" >>"$out.ext"
	openssl x509 -new -subj "/CN=$name" -force_pubkey "$out.pub" -CA "$dir/ca.pem" \
		-CAkey "$dir/ca.key" -days 30 -extfile "$out.ext" -out "$out" 2>"$out.err" ||
		fail "sign $name: $(cat "$out.err")"
}

# sign_dated CADIR NAME IP PUB_B64 OUT FROM_S TO_S: validity relative to now
# (openssl x509 cannot backdate: python3-cryptography does it).
sign_dated()
{
	$PY - "$@" <<-'EOF' || fail "sign_dated"
		import base64, datetime, ipaddress, sys
		from cryptography import x509
		from cryptography.hazmat.primitives import serialization
		from cryptography.hazmat.primitives.asymmetric import x25519
		from cryptography.x509.oid import NameOID
		d, name, ip, pub, out, f, t = sys.argv[1:8]
		key = serialization.load_pem_private_key(open(d + "/ca.key", "rb").read(), None)
		ca = x509.load_pem_x509_certificate(open(d + "/ca.pem", "rb").read())
		now = datetime.datetime.now(datetime.timezone.utc)
		c = (x509.CertificateBuilder()
		     .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
		     .issuer_name(ca.subject)
		     .public_key(x25519.X25519PublicKey.from_public_bytes(base64.b64decode(pub)))
		     .serial_number(x509.random_serial_number())
		     .not_valid_before(now + datetime.timedelta(seconds=int(f)))
		     .not_valid_after(now + datetime.timedelta(seconds=int(t)))
		     .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
		     .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), False)
		     .sign(key, None))
		open(out, "wb").write(c.public_bytes(serialization.Encoding.PEM))
	EOF
}

