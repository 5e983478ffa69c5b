#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# What --metrics costs the ring reader: the CPU time of tcptrail's main
# thread (the one that drains the ring and feeds the counters) per event,
# with and without --metrics, under loadgen's loopback churn. Each run
# traces the same churn with two tracers at once, one plain and one with
# --metrics (a scraper fetches /metrics every SCRAPE seconds meanwhile):
# both see the same events at the same moments on the same loaded
# machine, which separate runs do not (on a shared 2-CPU VM the rate of
# one run differs from the next by 2x, and the reader's CPU per event
# with it). Which tracer starts first alternates from run to run. The
# scrapes are served by libmicrohttpd's thread, counted in the process.
#
#   bench/metrics.sh [BUILD_DIR]        (make bench-metrics; make bench runs it)
#
# Environment: CONTROL=1 (see below), PAIRS runs (6), DUR churn seconds per run (4), THREADS (1),
# SCRAPE seconds between scrapes (1; Prometheus' default is 15), TT_ARGS
# the tracers' output options (--json), RATE connections/s (0: flat out,
# as make bench's churn).
#
# WARM seconds of churn come first, not measured: the socket tables grow to
# their size (and their pages are faulted in) as in a tracer that has been
# running. CPU time is read from /proc/PID/task/TID/schedstat (nanoseconds
# on a CPU, user and system) before and after the measured churn; the
# events are the lines each tracer wrote meanwhile (one per event in a JSON
# stream; the snapshot, of a fresh namespace, comes before), counted once
# its writes are flushed. The tracers take a snapshot, as a user's does:
# without one, --metrics follows every socket in the -s model (see
# src/sockgauge.h). Every run gets a fresh network namespace (as
# bench/fidelity.sh explains: the same TIME_WAIT regime for each run). Loopback only, ports
# 22920 (churn) and 22940 (metrics).
# Appends key=value lines to BUILD_DIR/bench/results-metrics.txt.
set -u

OUT=${1:-build}
TT=$OUT/tcptrail
LOADGEN=$OUT/bench/loadgen
PAIRS=${PAIRS:-6}
DUR=${DUR:-4}
THREADS=${THREADS:-1}
SCRAPE=${SCRAPE:-1}
RATE=${RATE:-0}
PROFILE=${PROFILE:-0}
WARM=${WARM:-2}
RES=$OUT/bench/results-metrics.txt
HERE=$(cd "$(dirname "$0")" && pwd)
PORT=22920
MPORT=22940
# CONTROL=1: B runs without --metrics too (an A/A run): what the method
# itself shows between two identical tracers, the floor of its precision
CONTROL=${CONTROL:-0}
B_ARGS="--metrics $MPORT"
[ "$CONTROL" = 1 ] && B_ARGS=
# PIN=1: both tracers share the last CPU, the churn the others. Unpinned,
# two identical tracers differed by up to 35 % in one run (CONTROL=1,
# 0.66-1.35): each ran where the scheduler put it, beside whatever shared
# its core and cache. Pinned, each run compares them on the same CPU.
PIN=${PIN:-1}
# TT_B=PATH: tracer B is that build (with CONTROL=1: two builds compared,
# same options; e.g. a change to the reader's path)
TT_B=${TT_B:-}
PIN_TT= PIN_LOAD=
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ]; then
	PIN_TT="taskset -c $(($(nproc) - 1))"
	PIN_LOAD="taskset -c 0-$(($(nproc) - 2))"
fi

[ "$(id -u)" = 0 ] || { echo "bench: needs root (BPF, network namespaces)" >&2; exit 1; }
for f in "$TT" "$LOADGEN"; do
	[ -x "$f" ] || { echo "bench: $f missing: run make bench-metrics" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "bench: curl missing: apt-get install curl" >&2; exit 1; }

TMP=$(mktemp -d /tmp/tcptrail-metrics.XXXXXX)
cp "$TT" "$TMP/tcptrail" && cp "$LOADGEN" "$TMP/loadgen" || exit 1
cp "${TT_B:-$TT}" "$TMP/tcptrail-b" || exit 1
TT=$TMP/tcptrail LOADGEN=$TMP/loadgen
NS=ttmet-$$
TA=
TB=
SP=
cleanup() {
	local p
	for p in $SP $TA $TB; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "$*" | tee -a "$RES"; }

# nanoseconds on a CPU: of one thread, and of every thread of the process
thread_ns() { awk '{print $1}' "/proc/$1/task/$1/schedstat"; }
process_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%d\n", s}'; }

# lines A|B: records written so far (flushed at least every second)
lines() { wc -l < "$TMP/$1.out"; }

# start A|B ARGS...: a tracer in the namespace, once it wrote its meta record
start() {
	local name=$1 pid
	shift
	local bin=$TT
	[ "$name" = B ] && bin=$TMP/tcptrail-b
	$PIN_TT ip netns exec "$NS" "$bin" ${TT_ARGS:---json} "$@" > "$TMP/$name.out" 2> "$TMP/$name.err" &
	pid=$!
	if [ "$name" = A ]; then TA=$pid; else TB=$pid; fi
	for _ in $(seq 100); do [ -s "$TMP/$name.out" ] && break; sleep 0.02; done
}

# "SEEN LOST" from the summary line on stderr
seen_of() { grep -h 'events seen' "$TMP/$1.err" | tail -1 | awk '{print $2, $7}'; }

# run ROUND: one churn run traced by both; logs one line
run() {
	local round=$1 first line conns rate ra pa rb pb sa la sb lb scrapes
	ip netns add "$NS" || exit 1
	ip -n "$NS" link set lo up
	if [ $((round % 2)) = 1 ]; then
		first=plain; start A; start B $B_ARGS
	else
		first=metrics; start B $B_ARGS; start A
	fi
	sleep 0.3
	ip netns exec "$NS" sh -c "while :; do curl -s -o /dev/null -w '%{http_code}\n' \
		http://127.0.0.1:$MPORT/metrics; sleep $SCRAPE; done" > "$TMP/scrapes" &
	SP=$!
	PP=
	$PIN_LOAD ip netns exec "$NS" "$LOADGEN" churn -C -t "$THREADS" -d "$WARM" -p "$((PORT + 8))" -r "$RATE" > /dev/null
	sleep 1.2   # flushed: the line counts are the events so far
	ra=$(thread_ns "$TA"); pa=$(process_ns "$TA"); sa=$(lines A)
	rb=$(thread_ns "$TB"); pb=$(process_ns "$TB"); sb=$(lines B)
	if [ "$PROFILE" = 1 ]; then
		perf record -q -e cpu-clock -F 4999 --call-graph dwarf,16384 -t "$TB" \
			-o "$TMP/perf.data" -- sleep "$DUR" > /dev/null 2>&1 &
		PP=$!
	fi
	line=$($PIN_LOAD ip netns exec "$NS" "$LOADGEN" churn -C -t "$THREADS" -d "$DUR" -p "$PORT" -r "$RATE" | tail -1)
	sleep 1.2   # the readers catch up and flush
	ra=$(($(thread_ns "$TA") - ra)); pa=$(($(process_ns "$TA") - pa)); sa=$(($(lines A) - sa))
	rb=$(($(thread_ns "$TB") - rb)); pb=$(($(process_ns "$TB") - pb)); sb=$(($(lines B) - sb))
	kill -TERM "$SP"; wait "$SP" 2>/dev/null; SP=
	share=
	if [ -n "$PP" ]; then
		wait "$PP"
		share=$(perf script -i "$TMP/perf.data" -F ip,sym 2>/dev/null | python3 "$HERE/perfshare.py")
	fi
	kill -INT "$TA" "$TB"; wait "$TA"; wait "$TB"; TA= TB=
	read -r _ la <<< "$(seen_of A)"
	read -r _ lb <<< "$(seen_of B)"
	scrapes=$(grep -c '^200$' "$TMP/scrapes")
	conns=$(echo "$line" | sed -n 's/.*connections=\([0-9]*\).*/\1/p')
	rate=$(echo "$line" | sed -n 's/.*rate=\([0-9]*\).*/\1/p')
	log "round=$round first=$first conns=$conns rate=$rate seen_plain=$sa seen_metrics=$sb lost_plain=$la lost_metrics=$lb scrapes=$scrapes reader_ns_plain=$ra reader_ns_metrics=$rb process_ns_plain=$pa process_ns_metrics=$pb${share:+ metrics_share_pct=$share}"
	rm -f "$TMP"/*.out
	ip netns del "$NS"
	sleep 2   # the namespace's timewait sockets are freed by a kernel worker
}

log "# metrics $(date -u +%FT%TZ) control=$CONTROL pin=$PIN b=${TT_B:-same} pairs=$PAIRS dur=$DUR threads=$THREADS rate=$RATE scrape=${SCRAPE}s $(uname -r) $(git -C "$(dirname "$0")" describe --always --dirty 2>/dev/null)"
for i in $(seq "$PAIRS"); do
	run "$i"
done

python3 - "$RES" <<'EOF'
import statistics, sys
lines = open(sys.argv[1]).read().splitlines()
start = max(i for i, l in enumerate(lines) if l.startswith("# metrics"))
runs = [dict(t.split("=", 1) for t in l.split() if "=" in t) for l in lines[start + 1:]
        if l.startswith("round=")]
if not runs:
    sys.exit("bench: no run")
shares = [float(r["metrics_share_pct"]) for r in runs if "metrics_share_pct" in r]
# perf's sampling (a 16 KiB stack copy per sample) is charged to the sampled
# thread: profiled runs say nothing of CPU time
runs = [r for r in runs if "metrics_share_pct" not in r]
for key, what in (("reader_ns", "ring reader (main thread)"), ("process_ns", "whole process")) * bool(runs):
    p = [int(r[key + "_plain"]) / max(1, int(r["seen_plain"])) for r in runs]
    m = [int(r[key + "_metrics"]) / max(1, int(r["seen_metrics"])) for r in runs]
    ratios = [b / a for a, b in zip(p, m)]
    print("%s CPU ns/event, plain:     %s" % (what, " ".join("%.0f" % x for x in p)))
    print("%s CPU ns/event, --metrics: %s" % (what, " ".join("%.0f" % x for x in m)))
    print("  --metrics / plain per run: %s" % " ".join("%.3f" % x for x in ratios))
    print("  median %.3f (%+.1f %%), mean %.3f, %d runs" % (
        statistics.median(ratios), 100 * (statistics.median(ratios) - 1),
        statistics.mean(ratios), len(ratios)))
if shares:
    print("--metrics tracer, share of the reader's samples in the counters' code: "
          "%s; median %.2f %%" % (" ".join("%.2f" % x for x in shares),
                                                   statistics.median(shares)))

print("rates conn/s: %s" % " ".join(r["rate"] for r in runs))
print("events seen (plain/--metrics when they differ): %s" % " ".join(
    r["seen_plain"] + ("" if r["seen_plain"] == r["seen_metrics"] else "/" + r["seen_metrics"])
    for r in runs))
print("lost: %d; scrapes answered per run: %s" % (
    sum(int(r["lost_plain"] or 0) + int(r["lost_metrics"] or 0) for r in runs),
    " ".join(r["scrapes"] for r in runs)))
EOF
