#!/usr/bin/env bash
# The whole test run, exactly as CI does it (.ci/run calls this script):
#   1. installs the Debian packages the build and tests use, if any is missing
#      (always asks apt when CI=true);
#   2. release build with -Werror, unit tests;
#   3. ASan/UBSan build, unit tests again; TSan build, the threaded unit tests;
#   4. integration tests in network namespaces (root; they skip otherwise);
#   5. the Debian package: built from a copy of the tree, lintian, unpacked
#      into a fresh tree and run from there (tests/package/test_package.sh);
#   6. a short libFuzzer run of every fuzz target when clang is installed.
# Ends with one line "N passed, N failed"; exits non-zero if anything failed.
#
#   sudo ./run-tests.sh
#   env: BUILD_DIR=build  FUZZ_SECONDS=20  SKIP_ASAN=1  SKIP_TSAN=1  SKIP_FUZZ=1  SKIP_NETNS=1
#        SKIP_PACKAGE=1
#        FUZZ_LONG=1: every fuzz target to 10 million executions (tests/fuzz/run_fuzz.sh)
set -uo pipefail
cd "$(dirname "$0")" || exit 1
BUILD_DIR=${BUILD_DIR:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
passed=0
failed=0
skipped=0
failures=()
t0=$SECONDS

step() { printf '\n=== %s (%ds) ===\n' "$*" $((SECONDS - t0)); }
step_failed()
{
	failed=$((failed + 1))
	failures+=("$1")
	printf 'FAILED: %s\n' "$1"
}

# What the build, the tests and the fuzzers use (a subset of ENVIRONMENT.md's list).
PACKAGES=(build-essential meson ninja-build pkg-config clang llvm
	libipsec-mb-dev libjansson-dev libssl-dev libcmocka-dev libstrophe-dev
	dpdk dpdk-dev libdpdk-dev libnuma-dev libbpf-dev libxdp-dev bpftool
	prosody ejabberd coturn openssl python3-scapy python3-cryptography
	iperf3 tcpdump tshark python3 iproute2 nftables iputils-ping conntrack bc
	libmicrohttpd-dev libsystemd-dev libjs-d3 systemd curl prometheus chromium man-db
	debhelper dpkg-dev lintian ethtool libmnl-dev)

install_deps()
{
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ] && [ "${CI:-}" != true ]; then
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages: ${missing[*]} (run as root to install them)"
		return 0
	fi
	step "installing packages${missing:+: ${missing[*]}}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update && apt-get install -y --no-install-recommends "${PACKAGES[@]}" ||
		step_failed "apt-get install"
}

# keep_failed_logs DIR LOG: names every test meson reported as failed (from
# its console LOG) and keeps the tail of each one's output from
# DIR/meson-logs/testlog.txt, to be printed again in the summary: CI may
# show only the end of the output.
failed_logs=$(mktemp)
keep_failed_logs()
{
	local dir=$1 log=$2 name
	grep -E '^ *[0-9]+/[0-9]+ .* (FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS) ' "$log" |
		sed -E 's/^ *[0-9]+\/[0-9]+ +//; s/ +(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS) .*//' |
		while read -r name; do
			printf '\n--- %s: %s (last 40 lines of its output) ---\n' "$dir" "$name"
			awk -v want="test:         $name" '
				/^=+ [0-9]+\/[0-9]+ =+$/ { on = 0 }
				$0 == want { on = 1 }
				on' "$dir/meson-logs/testlog.txt" | tail -n 40
		done >>"$failed_logs"
}

# run_meson_test DIR ARGS...: runs meson test, adds its Ok/Fail counts.
run_meson_test()
{
	local dir=$1 log
	shift
	log=$(mktemp)
	meson test -C "$dir" --print-errorlogs "$@" 2>&1 | tee "$log"
	local ok fail skip
	read -r ok fail skip < <(awk '
		/^Ok:/ || /^Expected Fail:/ { ok += $NF }
		/^Fail:/ || /^Unexpected Pass:/ || /^Timeout:/ { fail += $NF }
		/^Skipped:/ { skip += $NF }
		END { print ok + 0, fail + 0, skip + 0 }' "$log")
	if [ "$ok" -eq 0 ] && [ "$fail" -eq 0 ] && [ "$skip" -eq 0 ]; then
		# meson itself failed (no summary): count it as one failure.
		fail=1
		failures+=("meson test -C $dir $*")
	elif [ "$fail" -gt 0 ]; then
		failures+=("meson test -C $dir $* ($fail failed)")
		keep_failed_logs "$dir" "$log"
	fi
	passed=$((passed + ok))
	failed=$((failed + fail))
	skipped=$((skipped + skip))
	rm -f "$log"
}

# build DIR MESON_SETUP_ARGS...: configures (once) and builds; 0 on success.
build()
{
	local dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" || {
			step_failed "meson setup $dir"
			return 1
		}
	fi
	ninja -C "$dir" || {
		step_failed "ninja -C $dir"
		return 1
	}
}

install_deps

step "build ($BUILD_DIR, -Werror)"
if build "$BUILD_DIR" -Dwerror=true; then
	step "unit tests"
	run_meson_test "$BUILD_DIR" --suite unit
fi

if [ -z "${SKIP_ASAN:-}" ]; then
	step "ASan/UBSan build ($BUILD_DIR-asan)"
	if build "$BUILD_DIR-asan" -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
		-Dnetns_tests=false; then
		step "unit tests under ASan/UBSan"
		run_meson_test "$BUILD_DIR-asan" --suite unit
	fi
fi

# ThreadSanitizer over the unit tests that start real threads (workers and
# the table handoff, replay window, ESP SAs, inject ring). clang; DPDK's ring
# in its C11 model so TSan sees its acquire/release (tests/unit/tsan.supp
# says why that and the one suppression are sound). Only these tests are built.
TSAN_TESTS=(publish table replay esp worker_inject)
if [ -z "${SKIP_TSAN:-}" ] && command -v clang >/dev/null; then
	step "ThreadSanitizer build ($BUILD_DIR-tsan, clang)"
	tsan_ok=1
	if [ ! -f "$BUILD_DIR-tsan/build.ninja" ]; then
		CC=clang meson setup "$BUILD_DIR-tsan" -Dwerror=true -Db_sanitize=thread -Db_lundef=false \
			-Dnetns_tests=false -Dc_args=-DRTE_USE_C11_MEM_MODEL || tsan_ok=0
	fi
	if [ "$tsan_ok" = 1 ] && ninja -C "$BUILD_DIR-tsan" "${TSAN_TESTS[@]/#/tests/unit/test_}"; then
		step "threaded unit tests under TSan: ${TSAN_TESTS[*]}"
		TSAN_OPTIONS="halt_on_error=1 suppressions=$PWD/tests/unit/tsan.supp" \
			run_meson_test "$BUILD_DIR-tsan" --no-rebuild --suite unit "${TSAN_TESTS[@]}"
	else
		step_failed "TSan build ($BUILD_DIR-tsan)"
	fi
fi

if [ -z "${SKIP_NETNS:-}" ] && { [ -f "$BUILD_DIR/ipopd" ] || [ -f "$BUILD_DIR/app/ipopd" ]; }; then
	step "integration tests in network namespaces"
	[ "$(id -u)" -eq 0 ] || echo "not root: the namespace tests will skip"
	run_meson_test "$BUILD_DIR" --suite netns
fi

if [ -z "${SKIP_PACKAGE:-}" ]; then
	step "Debian package: dpkg-buildpackage, lintian, unpack, run"
	if tests/package/test_package.sh; then
		passed=$((passed + 1))
	else
		step_failed "Debian package (tests/package/test_package.sh)"
	fi
fi

if [ -z "${SKIP_FUZZ:-}" ] && command -v clang >/dev/null; then
	step "fuzz build ($BUILD_DIR-fuzz, clang)"
	# No -Werror here: this build exists to find crashes, and clang's warning
	# set differs from gcc's, which the -Werror build above already checks.
	if CC=clang build "$BUILD_DIR-fuzz" -Dfuzz=true -Db_lundef=false -Dnetns_tests=false -Dtests=disabled; then
		# Each target from its seed corpus and dictionary; prints its
		# executions and covered edges, fails below tests/fuzz/floors.txt.
		for f in "$BUILD_DIR-fuzz"/tests/fuzz/fuzz_*; do
			[ -f "$f" ] && [ -x "$f" ] || continue
			name=${f##*/}
			step "fuzzing $name for ${FUZZ_SECONDS}s"
			if tests/fuzz/run_fuzz.sh "$BUILD_DIR-fuzz" "$name" "$FUZZ_SECONDS"; then
				passed=$((passed + 1))
			else
				step_failed "fuzz target $name"
			fi
		done
	fi
fi

if [ -s "$failed_logs" ]; then
	printf '\n=== output of the failed tests ===\n'
	cat "$failed_logs"
fi
rm -f "$failed_logs"
printf '\n=== summary (%ds) ===\n' $((SECONDS - t0))
for f in "${failures[@]}"; do printf 'failed: %s\n' "$f"; done
[ "$skipped" -gt 0 ] && printf '%d skipped\n' "$skipped"
printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
