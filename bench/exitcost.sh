#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# What the sched_process_exit program (tt_proc_exit, bpf/tt_lsn.bpf.h)
# costs per run for processes that own no listener, from the kernel's own
# statistics (kernel.bpf_stats_enabled: run_time_ns and run_cnt), while
# tcptrail runs:
#   - N single-threaded processes (/bin/true) exit: the whole group exits,
#     then one hash lookup in the table of listener owners, which misses;
#   - a process whose T threads exit before it: a thread of a living group,
#     two loads.
#
#   bench/exitcost.sh [BUILD_DIR]   (ROUNDS=5 N=2000 T=2000)
#
# Prints per round and kind: runs, ns per run; then the medians. The
# statistics add their own ~40 ns to every run (as in progcost.sh). Every
# exit on the host runs the program too: the figures are averages over
# them as well, which the large N makes small.
set -u

BUILD=${1:-build}
ROUNDS=${ROUNDS:-5}
N=${N:-2000}
T=${T:-2000}

[ "$(id -u)" = 0 ] || { echo "exitcost: needs root (BPF)" >&2; exit 1; }
[ -x "$BUILD/tcptrail" ] || { echo "exitcost: $BUILD/tcptrail is missing: run make" >&2; exit 1; }

TMP=$(mktemp -d /tmp/tcptrail-exitcost.XXXXXX)
TP=
OLD_STATS=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
	[ -n "$TP" ] && kill -INT "$TP" 2>/dev/null && wait "$TP" 2>/dev/null
	sysctl -qw kernel.bpf_stats_enabled="$OLD_STATS"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run_time_ns run_cnt of the tt_proc_exit program
stats() {
	bpftool prog show -j | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("name") == "tt_proc_exit":
        print(p.get("run_time_ns", 0), p.get("run_cnt", 0))'
}

# measure KIND COMMAND...: prints "KIND runs ns/run"
measure() {
	local kind=$1 b a
	shift
	b=$(stats)
	"$@"
	a=$(stats)
	python3 -c 'import sys
b = [int(x) for x in sys.argv[2].split()]
a = [int(x) for x in sys.argv[3].split()]
runs = a[1] - b[1]
print(sys.argv[1], runs, "%.1f" % ((a[0] - b[0]) / runs if runs else 0))' "$kind" "$b" "$a"
}

procs() { for _ in $(seq "$N"); do /bin/true; done; }
threads() {
	python3 -c 'import threading, sys
ts = [threading.Thread(target=lambda: None) for _ in range(int(sys.argv[1]))]
for t in ts: t.start()
for t in ts: t.join()' "$T"
}

cp "$BUILD/tcptrail" "$TMP/tcptrail" || exit 1
sysctl -qw kernel.bpf_stats_enabled=1
"$TMP/tcptrail" --json --no-snapshot -q -o "$TMP/cap.jsonl" 2> "$TMP/tt.err" &
TP=$!
for _ in $(seq 100); do [ -s "$TMP/cap.jsonl" ] && break; sleep 0.02; done
[ -n "$(stats)" ] || { echo "exitcost: tt_proc_exit is not loaded" >&2; exit 1; }
for r in $(seq "$ROUNDS"); do
	measure process procs
	measure thread threads
done | tee "$TMP/rounds"
python3 -c 'import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for kind in ("process", "thread"):
    v = [float(r[2]) for r in rows if r[0] == kind]
    print("median %s exit: %.1f ns per run (%d rounds)" % (kind, statistics.median(v), len(v)))' "$TMP/rounds"
