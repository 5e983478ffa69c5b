#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# What the fidelity hooks cost: connection throughput with the full tool
# against the core tool alone (--state-only: inet_sock_set_state only, no
# timer or send/receive hooks), in interleaved rounds. A third mode prices
# the floor: --state-only beside empty programs on timer_start and
# timer_cancel (bench/hookcost), the two tracepoints that TIME_WAIT and
# half-open sockets cannot do without here.
#
#   bench/fidelity.sh [BUILD_DIR]        (make bench-fidelity)
#
# Environment: PAIRS rounds (10), DUR churn seconds per run (4), THREADS (1),
# MODES (full state empty: the modes of a round, state always included),
# STATS=1 adds one run per mode with kernel.bpf_stats_enabled=1 (restored
# after) and prints each program's runs and ns per connection. TT_ARGS: the
# tracer's output options (--json); TT_CPU: pin the tracer to that CPU.
#
# Every run gets a fresh network namespace, deleted after it: each run
# starts with no TIME_WAIT sockets, and DUR * rate stays under the
# namespace's tcp_max_tw_buckets, so every connection of every run goes
# through TIME_WAIT and the full tool follows all of them (in the host
# namespace, the table fills after a few runs and later connections close
# without a timewait socket, which makes the full tool look cheaper).
# Each round rotates the order of the modes. The generator's client and
# server threads are pinned to CPUs 0 and 1 (loadgen -C): where the
# scheduler puts them otherwise changes the rate from run to run by more
# than the effect measured. Loopback only, port 22900.
# Appends key=value lines to BUILD_DIR/bench/results-fidelity.txt.
set -u

OUT=${1:-build}
TT=$OUT/tcptrail
LOADGEN=$OUT/bench/loadgen
PAIRS=${PAIRS:-10}
DUR=${DUR:-4}
THREADS=${THREADS:-1}
STATS=${STATS:-0}
RES=$OUT/bench/results-fidelity.txt
PORT=22900

[ "$(id -u)" = 0 ] || { echo "bench: needs root (BPF, network namespaces)" >&2; exit 1; }
HOOKCOST=$OUT/bench/hookcost
for f in "$TT" "$LOADGEN" "$HOOKCOST"; do
	[ -x "$f" ] || { echo "bench: $f missing: run make bench-fidelity" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/tcptrail-fid.XXXXXX)
# measure copies: a rebuild during the run must not swap the binaries
cp "$TT" "$TMP/tcptrail" && cp "$LOADGEN" "$TMP/loadgen" && cp "$HOOKCOST" "$TMP/hookcost" || exit 1
TT=$TMP/tcptrail LOADGEN=$TMP/loadgen HOOKCOST=$TMP/hookcost
NS=ttfid-$$
TP=
HP=
OLD_STATS=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
	[ -n "$TP" ] && kill -TERM "$TP" 2>/dev/null && wait "$TP" 2>/dev/null
	[ -n "$HP" ] && kill -TERM "$HP" 2>/dev/null && wait "$HP" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	sysctl -qw kernel.bpf_stats_enabled="$OLD_STATS"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "$*" | tee -a "$RES"; }

# prog id name run_time_ns run_cnt, for the tt_ programs
prog_stats() {
	bpftool prog show -j | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("name", "").startswith("tt_"):
        print(p["id"], p["name"], p.get("run_time_ns", 0), p.get("run_cnt", 0))'
}

# run MODE [STATS]: one churn run in a fresh namespace; logs one line
run() {
	local mode=$1 stats=${2:-0} args="${TT_ARGS:---json} --no-snapshot" line conns rate sum
	[ "$mode" != full ] && args="$args --state-only"
	if [ "$mode" = empty ]; then
		"$HOOKCOST" > "$TMP/hook" &
		HP=$!
		for _ in $(seq 100); do [ -s "$TMP/hook" ] && break; sleep 0.02; done
		[ -s "$TMP/hook" ] || { echo "bench: hookcost did not attach" >&2; exit 1; }
	fi
	ip netns add "$NS" || exit 1
	ip -n "$NS" link set lo up
	ip netns exec "$NS" ${TT_CPU:+taskset -c $TT_CPU} "$TT" $args > "$TMP/out" 2> "$TMP/err" &
	TP=$!
	# attached and written its meta record: start-up is ~0.1-0.2 s
	for _ in $(seq 100); do [ -s "$TMP/out" ] && break; sleep 0.02; done
	sleep 0.3
	[ "$stats" = 1 ] && prog_stats > "$TMP/before"
	line=$(ip netns exec "$NS" "$LOADGEN" churn -C -t "$THREADS" -d "$DUR" -p "$PORT" | tail -1)
	[ "$stats" = 1 ] && prog_stats > "$TMP/after"
	kill -INT "$TP"; wait "$TP"; TP=
	if [ -n "$HP" ]; then kill -TERM "$HP"; wait "$HP"; HP=; rm -f "$TMP/hook"; fi
	sum=$(grep -h 'events seen' "$TMP/err" | tail -1)
	conns=$(echo "$line" | sed -n 's/.*connections=\([0-9]*\).*/\1/p')
	rate=$(echo "$line" | sed -n 's/.*rate=\([0-9]*\).*/\1/p')
	log "mode=$mode stats=$stats conns=$conns rate=$rate records=$(wc -l < "$TMP/out") lost=$(echo "$sum" | awk '{print $7}')"
	if [ "$stats" = 1 ]; then
		python3 - "$TMP/before" "$TMP/after" "$conns" <<'EOF' | tee -a "$RES"
import sys
def load(p):
    return {l.split()[0]: l.split()[1:] for l in open(p)}
b, a, conns = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3])
tot = 0
for k, (name, t, c) in a.items():
    if k not in b:
        continue
    dt, dc = int(t) - int(b[k][1]), int(c) - int(b[k][2])
    tot += dt
    if dc:
        print("  %-24s %6.2f runs/conn %6.0f ns/run %6.0f ns/conn" % (name, dc / conns, dt / dc, dt / conns))
print("  %-24s %6.0f BPF ns/conn (kernel.bpf_stats_enabled adds ~40 ns per run)" % ("total", tot / conns))
EOF
	fi
	rm -f "$TMP/out"
	ip netns del "$NS"
	# the namespace's timewait sockets are freed by a kernel worker: let it
	# finish before the next run
	sleep 2
}

log "# fidelity $(date -u +%FT%TZ) pairs=$PAIRS dur=$DUR threads=$THREADS $(uname -r) $(git -C "$(dirname "$0")" describe --always --dirty 2>/dev/null)"
MODES=${MODES:-full state empty}
case " $MODES " in *" state "*) ;; *) MODES="$MODES state" ;; esac
read -r -a MODE_LIST <<< "$MODES"
for i in $(seq "$PAIRS"); do
	# rotate the order: each mode runs first, middle and last in turn
	k=${#MODE_LIST[@]}
	for j in $(seq 0 $((k - 1))); do
		run "${MODE_LIST[$(((i + j) % k))]}"
	done
done
if [ "$STATS" = 1 ]; then
	sysctl -qw kernel.bpf_stats_enabled=1
	run full 1
	run state 1
	sysctl -qw kernel.bpf_stats_enabled="$OLD_STATS"
fi

python3 - "$RES" "$PAIRS" <<'EOF'
import statistics, sys
lines = [l for l in open(sys.argv[1])]
start = max(i for i, l in enumerate(lines) if l.startswith("# fidelity"))
runs = [dict(t.split("=", 1) for t in l.split() if "=" in t) for l in lines[start + 1:] if l.startswith("mode=")]
runs = [r for r in runs if r["stats"] == "0"]
modes = [m for m in ("full", "state", "empty") if any(r["mode"] == m for r in runs)]
by = {m: [int(r["rate"]) for r in runs if r["mode"] == m] for m in modes}
n = min(len(v) for v in by.values()) if "state" in by else 0
if n == 0:
    sys.exit("bench: no complete round")
for m in modes:
    print("%-5s conn/s: %s" % (m, " ".join(map(str, by[m][:n]))))
for m, what in (("full", "full tool"), ("empty", "--state-only + empty timer hooks")):
    if m not in by:
        continue
    ratios = [a / b for a, b in zip(by[m][:n], by["state"][:n])]
    med = statistics.median(ratios)
    print("%s / --state-only, per round: %s" % (what, " ".join("%.3f" % r for r in ratios)))
    print("  median %.3f (cost %.1f %%), mean %.3f, ratio of medians %.3f, %d rounds"
          % (med, 100 * (1 - med), statistics.mean(ratios),
             statistics.median(by[m][:n]) / statistics.median(by["state"][:n]), n))
EOF
