# Helpers of the operations tests (metrics, live page, privileges, systemd),
# sourced after lib.sh.

# http_get NS URL [OUT]: GET from inside namespace NS (curl, 5 s budget).
http_get()
{
	local n=$1 url=$2 out=${3:-/dev/stdout}
	nsx "$n" curl -fsS --max-time 5 -o "$out" "$url"
}

# metric FILE NAME LABELS: the value of the sample NAME{LABELS} in an
# exposition file ("" when absent). LABELS as written: peer="b"
metric()
{
	awk -v want="$2{$3}" '$1 == want { print $2; exit }' "$1"
}

# caps_of PID FIELD: the hex capability mask FIELD (CapEff, CapPrm, CapBnd,
# CapInh, CapAmb) of PID's main thread.
caps_of() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# CAP_NET_ADMIN alone (bit 12).
CAPS_NET_ADMIN=0000000000001000
