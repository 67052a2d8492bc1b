#!/usr/bin/env bash
# The Debian package, as CI checks it (run-tests.sh step "package"):
#   1. the declared Build-Depends are installed (dpkg-checkbuilddeps);
#   2. dpkg-buildpackage -us -uc -b on a copy of the tree (the .debs land in
#      a temp dir, never next to the worktree);
#   3. lintian: no error and no warning (overrides, if any, say why);
#   4. the .deb holds what it should (binaries, unit, sysusers, man pages,
#      completion, examples, /etc/ipopd) and its maintainer scripts add the
#      account;
#   5. installed into a fresh directory tree (dpkg -x): ipopd --version,
#      ipopctl init writes a config there and ipopd -c ... --check loads it;
#      the man pages render without warnings; the packaged unit passes
#      systemd-analyze verify with the packaged man pages.
# Exit 0 on success; prints "FAIL: ..." and exits 1 otherwise.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d /tmp/ipopd-pkg.XXXXXX)
trap 'rm -rf "$W"' EXIT
fail() { echo "[package] FAIL: $*" >&2; exit 1; }
ok() { echo "[package] ok: $*"; }

cd "$SRC"
dpkg-checkbuilddeps debian/control || fail "Build-Depends missing (above)"
mkdir -p "$W/src"
tar --exclude-vcs --exclude='./build*' --exclude='./obj-*' -cf - . | tar -xf - -C "$W/src"
t0=$SECONDS
(cd "$W/src" && dpkg-buildpackage -us -uc -b -J"$(nproc)") >"$W/build.log" 2>&1 ||
	{ tail -n 30 "$W/build.log"; fail "dpkg-buildpackage"; }
deb=$(ls "$W"/ipopd_*_amd64.deb)
ok "dpkg-buildpackage -us -uc -b in $((SECONDS - t0)) s: $(basename "$deb")"

lintian --fail-on error,warning --display-info "$W"/ipopd_*_amd64.changes >"$W/lintian.txt" 2>&1 ||
	{ cat "$W/lintian.txt"; fail "lintian"; }
ok "lintian: $(grep -cE '^[EWIP]:' "$W/lintian.txt" || true) tags, no error or warning"

dpkg-deb -c "$deb" | awk '{ print $6 }' >"$W/contents.txt"
for f in ./usr/sbin/ipopd ./usr/sbin/ipopctl ./lib/systemd/system/ipopd@.service \
	./usr/lib/sysusers.d/ipopd.conf ./usr/share/man/man8/ipopd.8.gz ./usr/share/man/man8/ipopctl.8.gz \
	./usr/share/man/man5/ipopd.json.5.gz ./usr/share/bash-completion/completions/ipopctl \
	./usr/share/doc/ipopd/examples/switch-site-a.json ./usr/share/doc/ipopd/configuration.md.gz ./usr/share/doc/ipopd/operations.md.gz \
	./usr/share/doc/ipopd/copyright ./etc/ipopd/; do
	grep -qxF "$f" "$W/contents.txt" || fail "the package lacks $f"
done
dpkg-deb -e "$deb" "$W/ctrl"
grep -q 'adduser --system' "$W/ctrl/postinst" || fail "postinst does not add the account"
grep -q '^Depends:.*libjs-d3' "$W/ctrl/control" || fail "no dependency on libjs-d3"
ok "contents: binaries, unit, sysusers, man pages, completion, examples, /etc/ipopd; postinst adds ipopd"

R=$W/root
dpkg -x "$deb" "$R"
v=$("$R/usr/sbin/ipopd" --version) || fail "ipopd --version from the package"
[ "$v" = "ipopd $(dpkg-deb -f "$deb" Version)" ] || fail "ipopd --version says '$v'"
printf 'pw\n' | "$R/usr/sbin/ipopctl" init pkgtest --dir "$R/etc/ipopd" --state-base "$R/var/lib/ipopd" \
	--user root --xmpp-user gw@example.test --xmpp-server 192.0.2.1 --address 10.254.0.1/24 \
	--mode switch --bridge lxcbr0 >"$W/init.txt" || fail "ipopctl init: $(cat "$W/init.txt")"
"$R/usr/sbin/ipopd" -c "$R/etc/ipopd/pkgtest.json" --check >"$W/check.txt" 2>&1 ||
	fail "ipopd --check of the init config: $(cat "$W/check.txt")"
grep -q '^mode: switch' "$W/check.txt" || fail "--check output: $(head -n 5 "$W/check.txt")"
ok "from the unpacked tree: '$v'; ipopctl init + ipopd -c ... --check"

for m in "$R"/usr/share/man/man*/*.gz; do
	w=$(man --warnings -l "$m" 2>&1 >/dev/null) || fail "man $m"
	[ -z "$w" ] || fail "man page warnings in $(basename "$m"): $w"
done
sed "s#^\(ExecStart[A-Za-z]*=\)/usr/sbin/ipopd #\1$R/usr/sbin/ipopd #" \
	"$R/lib/systemd/system/ipopd@.service" >"$W/ipopd@pkgtest.service"
out=$(MANPATH=$R/usr/share/man systemd-analyze verify "$W/ipopd@pkgtest.service" 2>&1) ||
	fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify printed: $out"
ok "man pages render without warnings; the packaged unit passes systemd-analyze verify"
