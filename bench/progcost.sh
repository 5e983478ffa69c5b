#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# What each BPF program costs, from the kernel's own statistics
# (kernel.bpf_stats_enabled: run_time_ns and run_cnt per program), beside
# libbpf-tools' tcpstates in the same load: both are attached while one
# client thread makes CONNS loopback connections (bench/loadgen), so every
# program, ours and tcpstates' handler, sees the same events.
#
#   bench/progcost.sh [BUILD_DIR]     (part of make bench; ROUNDS=5 CONNS=40000)
#
# Prints per program: runs per connection, ns per run, us per connection,
# the median of ROUNDS runs; then ns per state change for tcptrail's state
# programs and tcpstates'. kernel.bpf_stats_enabled is set for the runs and
# restored after; it adds its own ~40 ns to every run of every program, so
# absolute figures are a little high, and the same for both tools.
# Tracer: tcptrail --json --no-snapshot -q -o FILE (TT_ARGS to change).
# Every run is in a fresh network namespace. Loopback only, port 22950.
set -u

OUT=${1:-build}
ROUNDS=${ROUNDS:-5}
CONNS=${CONNS:-40000}
TT_ARGS=${TT_ARGS:---json --no-snapshot -q}
PORT=22950
TT=$OUT/tcptrail
LOADGEN=$OUT/bench/loadgen
TCPSTATES=$(command -v tcpstates || { [ -x /usr/sbin/tcpstates ] && echo /usr/sbin/tcpstates; })

[ "$(id -u)" = 0 ] || { echo "progcost: needs root (BPF, network namespaces)" >&2; exit 1; }
for f in "$TT" "$LOADGEN"; do
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
cp "$TT" "$TMP/tcptrail" && cp "$LOADGEN" "$TMP/loadgen" || exit 1

# tcpstates attaches a classic tracepoint, which needs tracefs
if [ -n "$TCPSTATES" ] && [ ! -e /sys/kernel/tracing/events ] && [ ! -e /sys/kernel/debug/tracing/events ]; then
	mount -t tracefs nodev /sys/kernel/tracing && TRACEFS=/sys/kernel/tracing
fi

# id name run_time_ns run_cnt, for every program
prog_stats() {
	bpftool prog show -j | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    print(p["id"], p.get("name", "?"), p.get("run_time_ns", 0), p.get("run_cnt", 0))'
}

sysctl -qw kernel.bpf_stats_enabled=1
for r in $(seq "$ROUNDS"); do
	ip netns add "$NS" || exit 1
	ip -n "$NS" link set lo up
	ip netns exec "$NS" "$TMP/tcptrail" $TT_ARGS -o "$TMP/cap.jsonl" 2> "$TMP/tt.err" &
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
	prog_stats > "$TMP/before"
	line=$(ip netns exec "$NS" "$TMP/loadgen" churn -t 1 -n "$CONNS" -p "$PORT" | tail -1)
	prog_stats > "$TMP/after"
	kill -INT "$TP"; wait "$TP"; TP=
	[ -n "$SP" ] && { kill -INT "$SP"; wait "$SP"; SP=; }
	rm -f "$TMP/cap.jsonl"
	ip netns del "$NS"
	conns=$(echo "$line" | sed -n 's/.*connections=\([0-9]*\).*/\1/p')
	echo "round $r: $line; $(grep -h 'events seen' "$TMP/tt.err" | tail -1)" >&2
	python3 - "$TMP/before" "$TMP/after" "$conns" >> "$TMP/rounds" <<'EOF'
import sys
load = lambda p: {l.split()[0]: l.split()[1:] for l in open(p)}
b, a, conns = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3])
for k, (name, t, c) in a.items():
    if k in b and (name.startswith("tt_") or name == "handle_set_state"):
        dt, dc = int(t) - int(b[k][1]), int(c) - int(b[k][2])
        if dc:
            print(name, dc, dt, conns)
print("-")
EOF
	# timewait sockets of the namespace are freed by a kernel worker
	sleep 2
done
sysctl -qw kernel.bpf_stats_enabled="$OLD_STATS"

python3 - "$TMP/rounds" <<'EOF'
import statistics, sys
rounds, cur = [], {}
for l in open(sys.argv[1]):
    if l.strip() == "-":
        rounds.append(cur)
        cur = {}
        continue
    name, dc, dt, conns = l.split()
    cur[name] = (int(dc), int(dt), int(conns))
names = sorted({n for r in rounds for n in r}, key=lambda n: (n == "handle_set_state", n))
med = lambda xs: statistics.median(xs) if xs else 0
print("%-26s %10s %10s %12s   (median of %d rounds)" % ("program", "runs/conn", "ns/run", "us/conn", len(rounds)))
tot = []
for r in rounds:
    tot.append(sum(dt / conns for n, (dc, dt, conns) in r.items() if n.startswith("tt_")) / 1000)
for n in names:
    rs = [r[n] for r in rounds if n in r]
    print("%-26s %10.2f %10.0f %12.2f" % (n, med([dc / c for dc, dt, c in rs]),
          med([dt / dc for dc, dt, c in rs]), med([dt / c / 1000 for dc, dt, c in rs])))
print("%-26s %10s %10s %12.2f" % ("all tcptrail programs", "", "", med(tot)))
state = [sum(r[n][1] for n in r if n.startswith("tt_set_state")) / r["tt_set_state"][0]
         for r in rounds if "tt_set_state" in r]
ts = [r["handle_set_state"][1] / r["handle_set_state"][0] for r in rounds if "handle_set_state" in r]
if state:
    print("tcptrail, ns per state change (the three state programs): %.0f" % med(state))
if ts:
    print("tcpstates, ns per state change: %.0f; tcptrail is %.1fx cheaper" % (med(ts), med(ts) / med(state)))
EOF
