#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""perf script -F ip,sym on stdin: the percentage of samples whose call
chain passes through the --metrics counters' code (bench/metrics.sh)."""
import sys

MARK = {"metrics_record", "run_batch", "metrics_update", "metrics_publish", "on_event",
        "stats_event"}
total = hit = 0
for block in sys.stdin.read().split("\n\n"):
    syms = [l.split()[1].split("+")[0] for l in block.strip().splitlines() if len(l.split()) >= 2]
    if syms:
        total += 1
        hit += any(s in MARK for s in syms)
print("%.2f" % (100.0 * hit / max(1, total)))
