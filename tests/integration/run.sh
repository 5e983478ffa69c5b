#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Real-BPF integration tests: tests/integration/run.sh BUILD_DIR
# Needs root and a kernel where tcptrail loads; fails loudly otherwise.
# TT_ONLY=01,13 runs only the tests whose names contain one of the words.
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
case $build in /*) ;; *) build=$root/$build ;; esac

fail() {
	echo "integration: $*" >&2
	echo "integration: 0 passed, 1 failed"
	exit 1
}

[ "$(id -u)" = 0 ] || fail "must run as root (the tests load BPF and create network namespaces): sudo make integration"
[ -x "$build/tcptrail" ] || fail "$build/tcptrail is missing: run make first"
for tool in ip nft netstat python3 head; do
	command -v $tool >/dev/null 2>&1 || fail "$tool is not installed: sudo scripts/install-deps.sh test"
done

tmp=$(mktemp -d /tmp/tt-integration.XXXXXX) || fail "cannot create a temporary directory"
trap 'rm -rf "$tmp"' EXIT INT TERM
# test a copy: a rebuild during the run must not swap the binary under test
cp "$build/tcptrail" "$tmp/tcptrail" || fail "cannot copy $build/tcptrail"

if ! err=$("$tmp/tcptrail" --snapshot-only -P 1 2>&1 >/dev/null); then
	echo "$err" >&2
	fail "tcptrail cannot load its BPF programs here (see above): the integration tests need a kernel with BTF and BPF enabled"
fi

start=$(date +%s)
[ -x "$build/bench/loadgen" ] || fail "$build/bench/loadgen is missing: run make integration"
cp "$build/bench/loadgen" "$tmp/loadgen" || fail "cannot copy $build/bench/loadgen"
TT_TCPTRAIL=$tmp/tcptrail TT_LOADGEN=$tmp/loadgen TT_HELPERS=$build/helpers \
	python3 "$here/main.py" "$tmp/counts"
status=$?
end=$(date +%s)
skipped=0
if [ -s "$tmp/counts" ]; then
	read -r passed failed skipped < "$tmp/counts"
else
	passed=0 failed=1
	echo "integration: the test runner died before reporting (status $status)" >&2
fi
[ "$status" = 0 ] || [ "$failed" != 0 ] || failed=1
echo "integration: $((end - start))s"
# a skip names its reason on its own SKIP line above
if [ "${skipped:-0}" != 0 ]; then
	echo "integration: $passed passed, $failed failed, $skipped skipped"
else
	echo "integration: $passed passed, $failed failed"
fi
[ "$failed" = 0 ] && [ "$status" = 0 ]
