#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# tcptrail benchmarks, side by side with tcpstates (libbpf-tools), netstat
# and ss. Loopback only; ports 21000-23999 (outside 32768-60999).
#
#   bench/run.sh [BUILD_DIR]         (make bench)
#
# Environment: ROUNDS (3), DUR churn seconds (10), THREADS client/server
# thread pairs (1), PAIRS held pairs for the snapshot (50000), PROCS holder
# processes (6), SKIP_SNAPSHOT=1, SKIP_CHURN=1.
# Writes BUILD_DIR/bench/results.txt (one key=value line per run) and prints
# the table from bench/report.py.
set -u

OUT=${1:-build}
B=$OUT/bench
TT=$OUT/tcptrail
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-10}
THREADS=${THREADS:-1}
PAIRS=${PAIRS:-50000}
PROCS=${PROCS:-6}
RES=$B/results.txt
HERE=$(cd "$(dirname "$0")" && pwd)
TCPSTATES=$(command -v tcpstates || { [ -x /usr/sbin/tcpstates ] && echo /usr/sbin/tcpstates; })
TIME=/usr/bin/time

[ "$(id -u)" = 0 ] || { echo "bench: needs root (BPF)" >&2; exit 1; }
for f in "$TT" "$B/loadgen" "$B/trailcount"; do
	[ -x "$f" ] || { echo "bench: $f missing: run make bench" >&2; exit 1; }
done
[ -x $TIME ] || { echo "bench: $TIME missing: apt-get install time" >&2; exit 1; }

TMP=$(mktemp -d /tmp/tcptrail-bench.XXXXXX)
MOUNTED_TRACEFS=
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	exec 9>&- 2>/dev/null
	[ -n "$MOUNTED_TRACEFS" ] && umount /sys/kernel/tracing
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=21000
next_port() { PORT=$((PORT + 16)); [ $PORT -lt 22900 ] || PORT=21000; }

log() { echo "$*" | tee -a "$RES"; }
kv() { sed -n "s/.*\<$1=\([^ ]*\).*/\1/p" "$2" | head -1; }

# The child of /usr/bin/time (tcptrail itself), by parent pid.
child_of() {
	local i c
	for i in $(seq 50); do
		c=$(cat /proc/"$1"/task/"$1"/children 2>/dev/null | awk '{print $1}')
		[ -n "$c" ] && { echo "$c"; return 0; }
		sleep 0.02
	done
	return 1
}

churn() {   # churn ARGS...: runs the generator, leaves its line in $TMP/churn
	"$B/loadgen" churn -t "$THREADS" -d "$DUR" -p "$PORT" "$@" > "$TMP/churn" 2>&1
}

run_baseline() {
	next_port
	churn
	log "round=$1 mode=baseline $(cat "$TMP/churn")"
}

# run_tt ROUND MODE (json-file|jsonstate-file|text-file|json-pipe|text-pipe|json-lowrate)
run_tt() {
	local r=$1 mode=$2 fmt sink args tp rp extra="" lat=""
	next_port
	fmt=${mode%%-*}
	sink=${mode#*-}
	args=""
	# jsonstate: the core tool alone (--state-only), to price the other hooks
	[ "$fmt" = jsonstate ] && { fmt=json; args="--state-only"; }
	if [ "$fmt" = json ]; then args="--json --no-snapshot $args"; else args="--no-snapshot"; fi
	[ "$sink" = lowrate ] && { sink=pipe; extra="-r 20"; }
	[ "$sink" = pipe ] && [ "$fmt" = json ] && lat=-l
	rm -f "$TMP/out" "$TMP/fifo" "$TMP/cnt"
	if [ "$sink" = pipe ]; then
		mkfifo "$TMP/fifo"
		"$B/trailcount" -f "$fmt" -p "$PORT-$((PORT + 15))" $lat < "$TMP/fifo" > "$TMP/cnt" &
		rp=$!; PIDS+=("$rp")
		$TIME -f "cpu_user=%U cpu_sys=%S maxrss_kb=%M" -o "$TMP/time" $TT $args > "$TMP/fifo" 2> "$TMP/err" &
	else
		$TIME -f "cpu_user=%U cpu_sys=%S maxrss_kb=%M" -o "$TMP/time" $TT $args > "$TMP/out" 2> "$TMP/err" &
	fi
	tp=$!; PIDS+=("$tp")
	sleep 1    # start-up is ~0.1-0.2 s (see startup.py)
	churn $extra
	sleep 0.5  # the poll loop runs every 5 ms: let it catch up
	kill -INT "$(child_of $tp)" 2>/dev/null
	wait "$tp"
	if [ "$sink" = pipe ]; then
		wait "$rp"
	else
		"$B/trailcount" -f "$fmt" -p "$PORT-$((PORT + 15))" < "$TMP/out" > "$TMP/cnt"
	fi
	# "tcptrail: N events seen, N written, N lost, N filtered (...)"
	local sum seen written lost
	sum=$(grep -h 'events seen' "$TMP/err" | tail -1)
	seen=$(echo "$sum" | awk '{print $2}')
	written=$(echo "$sum" | awk '{print $5}')
	lost=$(echo "$sum" | awk '{print $7}')
	# the loss breakdown, when any: "(ring full: N, nested hooks: N, ...)"
	local ring nested tmiss
	ring=$(echo "$sum" | sed -n 's/.*ring full: \([0-9]*\).*/\1/p')
	nested=$(echo "$sum" | sed -n 's/.*nested hooks: \([0-9]*\).*/\1/p')
	tmiss=$(sed -n 's/^tcptrail: \([0-9]*\) timer hook runs were skipped.*/\1/p' "$TMP/err" | tail -1)
	log "round=$r mode=tt-$mode $(cat "$TMP/churn") $(cat "$TMP/cnt") seen=$seen written=$written lost=$lost lost_ring=${ring:-0} lost_nested=${nested:-0} timer_misses=${tmiss:-0} $(cat "$TMP/time" | tail -1)"
	grep -v -e 'events seen' -e 'timer hook runs' "$TMP/err" | head -3 | sed 's/^/  stderr: /'
}

run_tcpstates() {
	local r=$1 tp
	next_port
	rm -f "$TMP/out"
	$TIME -f "cpu_user=%U cpu_sys=%S maxrss_kb=%M" -o "$TMP/time" "$TCPSTATES" > "$TMP/out" 2> "$TMP/err" &
	tp=$!; PIDS+=("$tp")
	sleep 1
	churn
	sleep 0.5
	kill -INT "$(child_of $tp)" 2>/dev/null
	wait "$tp"
	"$B/trailcount" -f tcpstates -p "$PORT-$((PORT + 15))" < "$TMP/out" > "$TMP/cnt"
	local lost
	lost=$(awk '/^lost [0-9]+ events/ {s += $2} END {print s + 0}' "$TMP/err" "$TMP/out")
	log "round=$r mode=tcpstates $(cat "$TMP/churn") $(cat "$TMP/cnt") lost=$lost $(tail -1 "$TMP/time")"
}

# netstat -ant every 100 ms during churn: which transient states it saw.
run_netstat_poll() {
	local r=$1 lp i=0
	next_port
	churn &
	lp=$!; PIDS+=("$lp")
	: > "$TMP/polls"
	while kill -0 "$lp" 2>/dev/null && [ $i -lt $((DUR * 20)) ]; do
		netstat -ant >> "$TMP/polls" 2>/dev/null
		sleep 0.1
		i=$((i + 1))
	done
	wait "$lp"
	# distinct (4-tuple, state) sightings of the 8 transient states a
	# connection passes through, against 8 per connection made
	local seen conns
	seen=$(awk -v lo="$PORT" -v hi=$((PORT + 15)) '
		$1 == "tcp" && $6 ~ /^(SYN_SENT|SYN_RECV|ESTABLISHED|FIN_WAIT1|FIN_WAIT2|CLOSE_WAIT|LAST_ACK|CLOSING)$/ {
			n = split($4, a, ":"); lp = a[n]; n = split($5, b, ":"); rp = b[n]
			if ((lp >= lo && lp <= hi) || (rp >= lo && rp <= hi)) k[$4 " " $5 " " $6] = 1
		} END { print length(k) }' "$TMP/polls")
	conns=$(kv connections "$TMP/churn")
	log "round=$r mode=netstat-poll $(cat "$TMP/churn") polls=$i transient_seen=$seen transient_total=$((8 * conns))"
}

# --- snapshot of PAIRS held pairs -------------------------------------------
timed() {   # timed NAME CMD...: wall ms, cpu, max RSS, rows
	local name=$1 t0 t1
	shift
	t0=$(date +%s%N)
	$TIME -f "cpu_user=%U cpu_sys=%S maxrss_kb=%M" -o "$TMP/time" "$@" > "$TMP/snap.$name" 2>/dev/null
	t1=$(date +%s%N)
	echo "wall_ms=$(( (t1 - t0) / 1000000 )) rows=$(wc -l < "$TMP/snap.$name") $(tail -1 "$TMP/time")"
}

# TIME_WAIT sockets of earlier runs expire 60 s after they were made, each a
# TIME_WAIT -> CLOSE the tracer processes: wait for them before measuring
# a snapshot or an idle tracer.
wait_timewait() {
	local i tw
	for i in $(seq 70); do
		tw=$(ss -tanH state time-wait | wc -l)
		[ "$tw" -lt 1000 ] && break
		[ "$i" = 1 ] && echo "bench: waiting up to 70 s for $tw TIME_WAIT sockets to expire"
		sleep 1
	done
}

snapshot_phase() {
	local hp i
	wait_timewait
	mkfifo "$TMP/hold.in"
	exec 9<> "$TMP/hold.in"
	"$B/loadgen" hold -c "$PAIRS" -P "$PROCS" -p 23000 -d 900 < "$TMP/hold.in" > "$TMP/hold.out" 2>&1 &
	hp=$!; PIDS+=("$hp")
	for i in $(seq 240); do
		grep -q ready "$TMP/hold.out" && break
		kill -0 "$hp" 2>/dev/null || break
		sleep 0.5
	done
	grep -q ready "$TMP/hold.out" || { echo "bench: holders failed: $(cat "$TMP/hold.out")" >&2; return 1; }
	log "snapshot setup: $(head -1 "$TMP/hold.out") procs=$PROCS tcp_sockets_total=$(($(wc -l < /proc/net/tcp) + $(wc -l < /proc/net/tcp6) - 2))"
	for r in $(seq "$ROUNDS"); do
		log "round=$r mode=snap-tcptrail $(timed tt $TT --snapshot-only)"
		log "round=$r mode=snap-netstat-antp $(timed ns netstat -antp)"
		log "round=$r mode=snap-ss-antp $(timed ssp ss -antp)"
		log "round=$r mode=snap-cat-proc-net-tcp $(timed cat cat /proc/net/tcp /proc/net/tcp6)"
		log "round=$r mode=snap-ss-ant $(timed ss ss -ant)"
		# rows identical to netstat's: lines in one sorted output but not the other
		log "round=$r mode=snap-diff rows_only_tcptrail=$(comm -23 <(sort "$TMP/snap.tt") <(sort "$TMP/snap.ns") | wc -l) rows_only_netstat=$(comm -13 <(sort "$TMP/snap.tt") <(sort "$TMP/snap.ns") | wc -l)"
	done
	# memory while tracing live with the 100k sockets in the owner table
	local tp tc
	$TIME -f "cpu_user=%U cpu_sys=%S maxrss_kb=%M" -o "$TMP/time" $TT --json > /dev/null 2> "$TMP/err" &
	tp=$!; PIDS+=("$tp")
	tc=$(child_of $tp)
	sleep 5
	log "mode=live-rss-100k vmrss_kb=$(awk '/VmRSS/ {print $2}' /proc/"$tc"/status) vmhwm_kb=$(awk '/VmHWM/ {print $2}' /proc/"$tc"/status)"
	kill -INT "$tc"
	wait "$tp"
	kill -TERM "$hp"
	wait "$hp"
	exec 9>&-
}

# tcpstates attaches a classic tracepoint: it needs tracefs (mounted by
# systemd on most hosts); mount it for the run and unmount it after.
if [ -n "$TCPSTATES" ] && [ ! -e /sys/kernel/tracing/events ]; then
	mount -t tracefs nodev /sys/kernel/tracing && MOUNTED_TRACEFS=1
fi

mkdir -p "$B"
{
	echo "# tcptrail bench $(date -u +%FT%TZ) host=$(hostname) kernel=$(uname -r) cpus=$(nproc)"
	echo "# cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
	echo "# ROUNDS=$ROUNDS DUR=$DUR THREADS=$THREADS PAIRS=$PAIRS PROCS=$PROCS"
	echo "# tcpstates: ${TCPSTATES:-not installed (apt-get install libbpf-tools)}"
	echo "# sysctl: $(sysctl -n net.ipv4.tcp_max_tw_buckets) tw buckets, tw_reuse=$(sysctl -n net.ipv4.tcp_tw_reuse)"
} | tee "$RES"

if [ "${SKIP_SNAPSHOT:-0}" != 1 ]; then
	snapshot_phase || exit 1
fi

if [ "${SKIP_CHURN:-0}" != 1 ]; then
	# the snapshot phase's 100k closed pairs leave TIME_WAIT sockets
	wait_timewait
	log "$(python3 "$HERE/startup.py" "$TT" 5 10 -P 29999 | tr '\n' ' ') timewait_at_start=$(ss -tanH state time-wait | wc -l)"
	# warm-up, not recorded: fills the TIME_WAIT table (max_tw_buckets) so
	# that every recorded run works in the same regime
	next_port
	churn
	echo "warm-up: $(cat "$TMP/churn")"
	modes=(baseline tt-json-file tt-jsonstate-file tcpstates tt-text-file tt-json-pipe tt-text-pipe netstat-poll tt-json-lowrate)
	for r in $(seq "$ROUNDS"); do
		# rotate the order each round so that no mode always runs first
		for k in $(seq 0 $((${#modes[@]} - 1))); do
			m=${modes[$(((k + r - 1) % ${#modes[@]}))]}
			case $m in
			baseline) run_baseline "$r" ;;
			tcpstates) [ -n "$TCPSTATES" ] && run_tcpstates "$r" ;;
			netstat-poll) run_netstat_poll "$r" ;;
			tt-*) run_tt "$r" "${m#tt-}" ;;
			esac
		done
	done
fi

python3 "$HERE/report.py" "$RES" | tee -a "$RES"
