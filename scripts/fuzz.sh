#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Builds and runs the libFuzzer targets of tests/fuzz/.
#
#   scripts/fuzz.sh BUILD_DIR [SECONDS]      (make fuzz FUZZ_SECONDS=10)
#
# Each target runs SECONDS (default 60) from its seed corpus
# tests/fuzz/corpus/<target>/; what it learns goes to BUILD_DIR/fuzz/corpus/,
# so the seeds in the tree are never modified. A crash, leak or sanitizer
# report fails the target and leaves the input in BUILD_DIR/fuzz/artifacts/.
# Exit status: 0 when every target passed.
set -u

out=${1:-build}
secs=${2:-}
[ -n "$secs" ] || secs=60
CLANG=${CLANG:-clang}
case $secs in *[!0-9]*|'') echo "fuzz: SECONDS must be a whole number, not '$secs'" >&2; exit 2;; esac

if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "fuzz: $CLANG not found (install clang and libclang-rt-dev, or set CLANG=)" >&2
	exit 2
fi

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
dir=$out/fuzz
mkdir -p "$dir/artifacts" || exit 2

CFLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
-Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE -Iinclude -Isrc"

# target: the src/*.c it needs, then its libraries
sources() {
	case $1 in
	fuzz_capture_read) echo "src/capture_read.c src/capture_field.c src/capture_scan.c src/cgroup.c src/escape.c \
src/netstat_fmt.c src/format_json.c \
src/format_text.c src/outbuf.c src/clock.c -ljson-c";;
	fuzz_procnet) echo "src/procnet.c";;
	fuzz_escape) echo "src/escape.c";;
	esac
}

pass=0 fail=0
for t in fuzz_capture_read fuzz_procnet fuzz_escape; do
	bin=$dir/$t
	log=$dir/$t.log
	# shellcheck disable=SC2046 # the source list is meant to split
	if ! $CLANG $CFLAGS "tests/fuzz/$t.c" $(sources $t) -o "$bin" >"$log" 2>&1; then
		cat "$log" >&2
		echo "fuzz: $t: FAIL (does not build, see above)"
		fail=$((fail + 1))
		continue
	fi
	mkdir -p "$dir/corpus/$t"
	seeds=tests/fuzz/corpus/$t
	dict=
	[ -f "tests/fuzz/$t.dict" ] && dict=-dict=tests/fuzz/$t.dict
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$dir/artifacts/$t-" $dict "$dir/corpus/$t" "$seeds" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	if [ $rc -eq 0 ]; then
		echo "fuzz: $t: PASS (${secs}s, ${runs:-?} runs, ${rate:-?} exec/s)"
		pass=$((pass + 1))
	else
		grep -E 'ERROR: |SUMMARY: |runtime error|==[0-9]+==' "$log" | head -20 >&2
		art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
		echo "fuzz: $t: FAIL (exit $rc; log $log${art:+; input $art})"
		fail=$((fail + 1))
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
