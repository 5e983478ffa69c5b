#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Helper of bench/progcost.sh.

  progcost.py delta BEFORE AFTER CONNS   one run's per-program deltas (appended
                                         by the caller to a rounds file)
  progcost.py report ROUNDS_FILE         the table: medians over the rounds

BEFORE and AFTER hold "id name run_time_ns run_cnt" lines (bpftool prog show).
"""
import statistics
import sys


def delta(before, after, conns):
    load = lambda p: {l.split()[0]: l.split()[1:] for l in open(p)}
    b, a = load(before), load(after)
    for k, (name, t, c) in a.items():
        if k in b and (name.startswith("tt_") or name == "handle_set_state"):
            dt, dc = int(t) - int(b[k][1]), int(c) - int(b[k][2])
            if dc:
                print(name, dc, dt, conns)
    print("-")


def report(path):
    rounds, cur = [], {}
    for l in open(path):
        if l.strip() == "-":
            rounds.append(cur)
            cur = {}
            continue
        name, dc, dt, conns = l.split()
        cur[name] = (int(dc), int(dt), int(conns))
    if not rounds:
        sys.exit("progcost: no complete round")
    med = lambda xs: statistics.median(xs) if xs else 0
    names = sorted({n for r in rounds for n in r}, key=lambda n: (n == "handle_set_state", n))
    print("%-26s %10s %10s %12s   (median of %d rounds)"
          % ("program", "runs/conn", "ns/run", "us/conn", len(rounds)))
    for n in names:
        rs = [r[n] for r in rounds if n in r]
        print("%-26s %10.2f %10.0f %12.2f" % (n, med([dc / c for dc, dt, c in rs]),
              med([dt / dc for dc, dt, c in rs]), med([dt / c / 1000 for dc, dt, c in rs])))
    tot = [sum(dt / c for n, (dc, dt, c) in r.items() if n.startswith("tt_")) / 1000 for r in rounds]
    print("%-26s %10s %10s %12.2f" % ("all tcptrail programs", "", "", med(tot)))
    # per state change: the three state programs together, and tcpstates'
    # handler, in the same runs; their ratio is steadier than either alone
    state = {i: sum(r[n][1] for n in r if n.startswith("tt_set_state")) / r["tt_set_state"][0]
             for i, r in enumerate(rounds) if "tt_set_state" in r}
    ts = {i: r["handle_set_state"][1] / r["handle_set_state"][0]
          for i, r in enumerate(rounds) if "handle_set_state" in r}
    if state:
        print("tcptrail, ns per state change (the three state programs): %.0f" % med(list(state.values())))
    both = [ts[i] / state[i] for i in state if i in ts]
    if both:
        print("tcpstates, ns per state change: %.0f; tcptrail is %.1fx cheaper (median of the "
              "per-round ratios: %s)" % (med(list(ts.values())), med(both),
                                         " ".join("%.1f" % x for x in both)))


if __name__ == "__main__":
    if sys.argv[1] == "delta":
        delta(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        report(sys.argv[2])
