#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Replays one capture through two builds and diffs what they print: the
# proof that a restructuring kept the output bytes.
#   scripts/replay-diff.sh OLD_TCPTRAIL NEW_TCPTRAIL CAPTURE [OPTIONS...]
# Each mode (text, JSON, and the OPTIONS given, e.g. "-P 20000 -4") is
# replayed by both builds; stdout and stderr are compared separately.
# Exit status 0 when every output is the same, 1 otherwise.
set -u
[ $# -ge 3 ] || { echo "usage: $0 OLD_TCPTRAIL NEW_TCPTRAIL CAPTURE [OPTIONS...]" >&2; exit 2; }
old=$1 new=$2 cap=$3
shift 3
tmp=$(mktemp -d /tmp/tt-replay-diff.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
status=0
run() {
	name=$1
	shift
	"$old" -r "$cap" "$@" >"$tmp/old.out" 2>"$tmp/old.err"
	"$new" -r "$cap" "$@" >"$tmp/new.out" 2>"$tmp/new.err"
	for s in out err; do
		n=$(wc -l <"$tmp/old.$s")
		if cmp -s "$tmp/old.$s" "$tmp/new.$s"; then
			echo "same      $name std$s ($n lines)"
		else
			echo "DIFFERENT $name std$s ($n lines):"
			diff "$tmp/old.$s" "$tmp/new.$s" | head -5
			status=1
		fi
	done
}
run text
run json --json
[ $# -gt 0 ] && run "$*" "$@" && run "$* json" --json "$@"
exit $status
