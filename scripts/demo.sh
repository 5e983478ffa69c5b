#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# scripts/demo.sh [BUILD_DIR]: the README's demonstration, in a network
# namespace of its own: `nc -l -p 1025`, then `echo pouet | nc -w 1
# localhost 1025`, watched with `tcptrail -P 1025`. Prints tcptrail's lines
# as they came, then (after "--- normalized ---") the same lines with what
# differs from run to run replaced: the two nc processes become SERVER and
# CLIENT, the client's port EPH, and times and durations are dropped. The
# kernel matrix compares the normalized part between kernels.
set -eu
build=${1:-build}
tt=$build/tcptrail
[ "$(id -u)" = 0 ] || { echo "demo: must run as root (BPF, network namespaces): sudo $0" >&2; exit 1; }
[ -x "$tt" ] || { echo "demo: $tt is missing: run make first" >&2; exit 1; }
command -v nc >/dev/null || { echo "demo: nc is missing: apt-get install netcat-openbsd" >&2; exit 1; }

ns=tt-demo-$$
tmp=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
# ip netns exec execs the command: $! is the command's own pid
ip netns exec "$ns" "$tt" -P 1025 --color=never >"$tmp/out" 2>"$tmp/err" &
pids+=($!)
tracer=$!
# the header is written once the programs are attached
for _ in $(seq 100); do grep -q '^Proto' "$tmp/out" && break; sleep 0.1; done
grep -q '^Proto' "$tmp/out" || { cat "$tmp/err" >&2; echo "demo: tcptrail did not start" >&2; exit 1; }

ip netns exec "$ns" nc -l -p 1025 >"$tmp/received" &
pids+=($!)
server=$!
for _ in $(seq 50); do grep -q 'CLOSE -> LISTEN' "$tmp/out" && break; sleep 0.1; done
echo pouet | ip netns exec "$ns" nc -w 1 localhost 1025 &
client=$!
wait "$client" || true
wait "$server" || true
# the ends: the client's FIN_WAIT2 -> TIME_WAIT can come one FIN_WAIT2
# check (50 ms) after the server's LAST_ACK -> CLOSE
for _ in $(seq 100); do
	grep -q 'FIN_WAIT2 -> TIME_WAIT' "$tmp/out" && grep -q 'LISTEN -> CLOSE' "$tmp/out" && break
	sleep 0.1
done
sleep 0.2
kill -INT "$tracer"
wait "$tracer" || true

cat "$tmp/out"
echo "--- normalized ---"
# pids in order of appearance: the listener's is the server's
awk -v srv="$server" -v cli="$client" '
	/ -> / {
		line = $0
		gsub(srv "/nc", "SERVER/nc", line)
		gsub(cli "/nc", "CLIENT/nc", line)
		# the client port: whichever of the two addresses is not port 1025
		n = split(line, f, /[ \t]+/)
		out = ""
		for (i = 1; i <= n; i++) {
			w = f[i]
			if (w ~ /^[0-9.:\[\]a-f*]+:[0-9]+$/ && w !~ /:1025$/ && w !~ /:0$/)
				sub(/:[0-9]+$/, ":EPH", w)
			if (w ~ /^[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\./ || w == "after" || w ~ /^life=/)
				break
			out = out (out == "" ? "" : " ") w
		}
		print out
	}' "$tmp/out"
