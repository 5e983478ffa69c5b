#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# scripts/test-kernels.sh: the integration suite on every kernel of
# scripts/kernels.list, each booted under qemu (scripts/kernel-vm.sh) with
# the current build; "host" runs it here, on the running kernel. Prints the
# kernel x test table and writes it to build/kernels/matrix.md.
#
#   KERNELS="6.1-cloud 6.12-cloud"   kernels to run (default: the whole list)
#   KERNEL_TESTS=ci                  the CI subset below (default: all tests)
#   TT_ONLY=01,14                    tests by name substring (overrides KERNEL_TESTS)
#   TT_VM_TIMEOUT=1800               seconds one VM may run before it is stopped
#   KERNEL_DEMO=0                    without the README's demonstration
#
# Exits 0 when every test passed or was skipped (skips are reported with
# their reason, never silent) and the demonstration matched the host's.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD:-$root/build}
out=$root/build/kernels

die() { echo "test-kernels: $*" >&2; exit 2; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }

# The CI subset: the whole conversation (01-06, 09), SYN timeout and
# half-open expiry (07, 08), owners (10 fork handoff, 11 attribution) and the
# TIME_WAIT expiry (14, 60 s, runs alongside the others), daemons' listeners
# whose owner exits (60, 64).
CI_TESTS="01_,02_,02b_,03_,04a_,04b_,05_,06_,07_,08_,09_,10_,11_,14_,60_,64_"

[ "$(id -u)" = 0 ] || die "must run as root (it loads BPF programs and boots VMs): sudo make test-kernels"
[ -x "$build/tcptrail" ] || die "$build/tcptrail is missing: run make test-kernels (it builds first)"
[ -x "$build/bench/loadgen" ] || die "$build/bench/loadgen is missing: run make test-kernels (it builds first)"
case ${KERNEL_TESTS:-all} in
all) ;;
ci) [ -n "${TT_ONLY:-}" ] || TT_ONLY=$CI_TESTS ;;
*) die "KERNEL_TESTS=$KERNEL_TESTS: use all or ci" ;;
esac
export TT_ONLY=${TT_ONLY:-}

all=$(awk '!/^#/ && NF >= 2 { print $1 }' "$here/kernels.list")
kernels=${KERNELS:-$all}
for k in $kernels; do
	echo "$all" | grep -qx -- "$k" || die "no kernel named '$k' in scripts/kernels.list (it has: $(echo $all))"
done

# One snapshot of the build and the tests for every kernel: a rebuild during
# the run must not change what the later kernels test.
stage=$out/stage
rm -rf "$stage"
mkdir -p "$stage/build/bench" "$stage/tests"
cp "$build/tcptrail" "$stage/build/"
cp "$build/bench/loadgen" "$stage/build/bench/"
# the integration tests' own helper programs (tests/helpers/)
[ -d "$build/helpers" ] && cp -r "$build/helpers" "$stage/build/"
cp -r "$root/tests/integration" "$stage/tests/"
mkdir -p "$stage/scripts"
cp "$root/scripts/demo.sh" "$stage/scripts/"
cp "$root/VERSION" "$stage/" 2>/dev/null || true
# tests 54, 54b run docs/fleet.md's rsyslog recipe as written
mkdir -p "$stage/docs"
cp "$root/docs/fleet.md" "$stage/docs/"
tests=$(python3 -B "$here/kernel-matrix.py" --list "$stage/tests/integration") || die "cannot list the integration tests"
[ -n "$tests" ] || die "TT_ONLY=$TT_ONLY matches no integration test"
echo "test-kernels: $(echo "$tests" | wc -l) tests on: $(echo $kernels)"

results=$out/results
rm -rf "$results"
mkdir -p "$results"

# kernel-vm.sh runs the suite in the guest from its own copy of the stage,
# in the VM's shared directory: the guest sees that one even when the
# repository is under a directory the guest has its own of (/tmp...).
# A guest kernel panic is retried once: qemu's TCG has been seen to run a
# stale int3 of the kernel's own code patching (text_poke_bp), a fault of the
# emulator; a second panic stands, and both are in the table's notes.
run_vm() {
	local k=$1 r=$2 vmdir=$out/vm/$1 rc=0 start end started
	rm -rf "$vmdir/stage" "$vmdir/demo.log"
	mkdir -p "$vmdir"
	cp -r "$stage" "$vmdir/stage"
	local cmd=(tests/integration/run.sh "$vmdir/stage/build")
	[ "$demo" = 0 ] || cmd=(sh -c 'scripts/demo.sh build > "$TT_VM_DIR/demo.log" 2>&1; exec "$@"' sh "${cmd[@]}")
	(cd "$vmdir/stage" && TT_VM_DIR=$vmdir TT_VM_TIMEOUT=${TT_VM_TIMEOUT:-3600} \
		"$here/kernel-vm.sh" "$k" "${cmd[@]}") < /dev/null 2> "$r/vm.err" || rc=$?
	cp "$vmdir/demo.log" "$r/demo.log" 2>/dev/null || true
	cat "$r/vm.err" >&2
	cp "$vmdir/out.log" "$r/out.log" 2>/dev/null || : > "$r/out.log"
	for f in console.log dmesg.log; do cp "$vmdir/$f" "$r/$f" 2>/dev/null || true; done
	read -r start end < "$vmdir/time" 2>/dev/null || start= end=
	started=$(stat -c %.3Y "$vmdir/started" 2>/dev/null || echo)
	{
		echo "kernel=$(basename "$("$here/kernel-fetch.sh" "$k")")"
		[ -n "$started" ] && echo "boot=$(sub "$started" "$start")"
		[ -n "$started" ] && echo "suite=$(sub "$end" "$started")"
		case $rc in
		124) echo "note=the VM was stopped after TT_VM_TIMEOUT=${TT_VM_TIMEOUT:-3600}s" ;;
		125) echo "note=$(grep -m1 '^kernel-vm' "$r/vm.err" || echo "the VM failed: see $r/console.log")" ;;
		esac
	} > "$r/info"
	grep -E '^\[ *[0-9.]+\] (BUG|WARNING|Oops|general protection|Kernel panic)' "$r/console.log" \
		2>/dev/null | sed "s|^|test-kernels: $k kernel log: |" | head -n 10 || true
	return $rc
}

# The README's demonstration (scripts/demo.sh, a few seconds) runs first on
# every kernel, within "suite": the table compares its normalized
# transitions with the host's. KERNEL_DEMO=0 leaves it out.
demo=${KERNEL_DEMO:-1}

failed_kernels=""
for k in $kernels; do
	r=$results/$k
	mkdir -p "$r"
	echo "=== $k"
	rc=0
	if [ "$k" = host ]; then
		t0=$(date +%s.%N)
		[ "$demo" = 0 ] || (cd "$stage" && scripts/demo.sh build > "$r/demo.log" 2>&1 < /dev/null) || true
		# "|| echo": under set -e a failing suite would end the subshell before
		# its status is written
		{ "$stage/tests/integration/run.sh" "$stage/build" < /dev/null && echo 0 > "$r/rc" ||
			echo $? > "$r/rc"; } 2>&1 | tee "$r/out.log"
		rc=$(cat "$r/rc")
		t1=$(date +%s.%N)
		printf 'kernel=%s\nboot=\nsuite=%s\n' "$(uname -r)" "$(sub "$t1" "$t0")" > "$r/info"
	else
		run_vm "$k" "$r" || rc=$?
		if [ "$rc" = 125 ] && grep -q 'Kernel panic' "$r/console.log" 2>/dev/null; then
			first=$(grep -m1 -E '(Oops|BUG|Kernel panic)' "$r/console.log" | sed 's/^\[ *[0-9.]*\] //')
			mkdir -p "$r/panic"
			mv "$r"/*.log "$r/vm.err" "$r/panic/"
			echo "test-kernels: $k: the guest kernel panicked ($first); once more"
			rc=0
			run_vm "$k" "$r" || rc=$?
			echo "event=the first run's guest kernel panicked: $first (its logs: $r/panic/); this is the second run" >> "$r/info"
		fi
	fi
	[ "$rc" = 0 ] || failed_kernels="$failed_kernels $k"
done

version=$(cat "$root/VERSION" 2>/dev/null || echo ?)
commit=$(git -C "$root" describe --always --dirty 2>/dev/null || echo ?)
{
	echo "Kernel matrix: tcptrail $version ($commit), $(date -u +%Y-%m-%d)," \
		"tests: ${TT_ONLY:-all}; qemu TCG, $(nproc) host cores."
	echo
	echo "$tests" | python3 "$here/kernel-matrix.py" --counts "$results/counts" "$results" $kernels
} > "$out/matrix.md"
echo
cat "$out/matrix.md"
echo "test-kernels: the table is in $out/matrix.md, each kernel's output in $results/"
# the plain closing line counts cells: a test that did not run has failed
read -r p f s < "$results/counts"
if [ -n "$failed_kernels" ]; then
	echo "test-kernels: failures on:$failed_kernels"
	[ "$f" != 0 ] || f=1
fi
echo "test-kernels: $p passed, $f failed, $s skipped"
[ -z "$failed_kernels" ] && [ "$f" = 0 ]
