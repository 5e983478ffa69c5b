#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# What each BPF program costs, from the kernel's own statistics
# (kernel.bpf_stats_enabled: run_time_ns and run_cnt per program), beside
# libbpf-tools' tcpstates in the same load: both are attached while one
# client thread makes CONNS loopback connections (bench/loadgen), so every
# program, ours and tcpstates' handler, sees the same events.
#
#   bench/progcost.sh [BUILD_DIR...]  (part of make bench; ROUNDS=5 CONNS=40000)
#
# Prints per program: runs per connection, ns per run, us per connection,
# the median of ROUNDS runs; then ns per state change for tcptrail's state
# programs and tcpstates'. kernel.bpf_stats_enabled is set for the runs and
# restored after; it adds its own ~40 ns to every run of every program, so
# absolute figures are a little high, and the same for both tools.
#
# With several build directories (a change against the one before it), the
# builds take turns within each round, in rotated order, and each gets its
# own table: on these machines the speed drifts by tens of percent between
# runs, so only interleaved runs compare.
#
# Tracer: tcptrail --json --no-snapshot -q -o FILE (TT_ARGS to change).
# Every run is in a fresh network namespace. Loopback only, port 22950.
set -u

BUILDS=("$@")
[ ${#BUILDS[@]} = 0 ] && BUILDS=(build)
ROUNDS=${ROUNDS:-5}
CONNS=${CONNS:-40000}
TT_ARGS=${TT_ARGS:---json --no-snapshot -q}
PORT=22950
HERE=$(cd "$(dirname "$0")" && pwd)
LOADGEN=${BUILDS[0]}/bench/loadgen
TCPSTATES=$(command -v tcpstates || { [ -x /usr/sbin/tcpstates ] && echo /usr/sbin/tcpstates; })

[ "$(id -u)" = 0 ] || { echo "progcost: needs root (BPF, network namespaces)" >&2; exit 1; }
for f in "$LOADGEN" "${BUILDS[@]/%//tcptrail}"; do
	[ -x "$f" ] || { echo "progcost: $f is missing: run make bench" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/tcptrail-cost.XXXXXX)
NS=ttcost-$$
TP= SP= TRACEFS=
OLD_STATS=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
	[ -n "$TP" ] && kill -INT "$TP" 2>/dev/null && wait "$TP" 2>/dev/null
	[ -n "$SP" ] && kill -INT "$SP" 2>/dev/null && wait "$SP" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	sysctl -qw kernel.bpf_stats_enabled="$OLD_STATS"
	[ -n "$TRACEFS" ] && umount "$TRACEFS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# measure copies: a rebuild during the run must not swap the binaries
for i in "${!BUILDS[@]}"; do
	cp "${BUILDS[$i]}/tcptrail" "$TMP/tcptrail.$i" || exit 1
done
cp "$LOADGEN" "$TMP/loadgen" || exit 1

# tcpstates attaches a classic tracepoint, which needs tracefs
if [ -n "$TCPSTATES" ] && [ ! -e /sys/kernel/tracing/events ] && [ ! -e /sys/kernel/debug/tracing/events ]; then
	mount -t tracefs nodev /sys/kernel/tracing && TRACEFS=/sys/kernel/tracing
fi

# id name run_time_ns run_cnt, for the programs of the processes PID...
# (found through their fdinfo: other tracers on the host load programs of
# the same names, and Debian's bpftool has no pid column)
prog_stats() {
	bpftool prog show -j | python3 -c '
import json, os, sys
ids = set()
for pid in sys.argv[1:]:
    d = "/proc/%s/fdinfo" % pid
    for fd in os.listdir(d) if os.path.isdir(d) else []:
        try:
            ids |= {int(l.split()[1]) for l in open(os.path.join(d, fd)) if l.startswith("prog_id:")}
        except OSError:
            pass
for p in json.load(sys.stdin):
    if p["id"] in ids:
        print(p["id"], p.get("name", "?"), p.get("run_time_ns", 0), p.get("run_cnt", 0))' "$@"
}

# one_run ROUND BUILD_INDEX: one churn run; its deltas go to rounds.INDEX
one_run() {
	local r=$1 bi=$2 line conns
	ip netns add "$NS" || exit 1
	ip -n "$NS" link set lo up
	ip netns exec "$NS" "$TMP/tcptrail.$bi" $TT_ARGS -o "$TMP/cap.jsonl" 2> "$TMP/tt.err" &
	TP=$!
	if [ -n "$TCPSTATES" ]; then
		# in this namespace: ip netns exec remounts /sys, without tracefs
		"$TCPSTATES" > /dev/null 2> "$TMP/ts.err" &
		SP=$!
	fi
	for _ in $(seq 100); do [ -s "$TMP/cap.jsonl" ] && break; sleep 0.02; done
	sleep 0.5
	if [ -n "$SP" ] && ! kill -0 "$SP" 2>/dev/null; then
		echo "progcost: tcpstates did not start: $(tail -1 "$TMP/ts.err")" >&2
		SP=
	fi
	prog_stats $TP $SP > "$TMP/before"
	line=$(ip netns exec "$NS" "$TMP/loadgen" churn -t 1 -n "$CONNS" -p "$PORT" | tail -1)
	prog_stats $TP $SP > "$TMP/after"
	kill -INT "$TP"; wait "$TP"; TP=
	[ -n "$SP" ] && { kill -INT "$SP"; wait "$SP"; SP=; }
	rm -f "$TMP/cap.jsonl"
	ip netns del "$NS"
	conns=$(echo "$line" | sed -n 's/.*connections=\([0-9]*\).*/\1/p')
	echo "round $r, ${BUILDS[$bi]}: $line; $(grep -h 'events seen' "$TMP/tt.err" | tail -1)" >&2
	python3 "$HERE/progcost.py" delta "$TMP/before" "$TMP/after" "$conns" >> "$TMP/rounds.$bi"
	# timewait sockets of the namespace are freed by a kernel worker
	sleep 2
}

sysctl -qw kernel.bpf_stats_enabled=1
n=${#BUILDS[@]}
for r in $(seq "$ROUNDS"); do
	for j in $(seq 0 $((n - 1))); do
		one_run "$r" $(((r + j) % n))
	done
done
sysctl -qw kernel.bpf_stats_enabled="$OLD_STATS"

for i in "${!BUILDS[@]}"; do
	[ "$n" -gt 1 ] && echo "== ${BUILDS[$i]}"
	python3 "$HERE/progcost.py" report "$TMP/rounds.$i"
done
