#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Table from bench/run.sh's results.txt (key=value lines), against the goals."""
import statistics
import sys


def parse(path):
    runs, other = [], []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or "=" not in line:
                continue
            d = {}
            for tok in line.split():
                if "=" in tok:
                    k, v = tok.split("=", 1)
                    d.setdefault(k, v)   # first wins (churn line before counts)
            (runs if "mode" in d else other).append(d)
    return runs, other


def num(d, k, default=None):
    try:
        return float(d[k])
    except (KeyError, ValueError):
        return default


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec=".0f"):
    return "-" if x is None else format(x, spec)


def main():
    runs, other = parse(sys.argv[1])
    base = {r["round"]: num(r, "rate") for r in runs if r.get("mode") == "baseline"}
    print()
    print("== churn (per round: rate, ratio to that round's baseline) ==")
    print(f"{'mode':<17}{'round':>6}{'conn/s':>8}{'ratio':>7}{'expect':>9}{'counted':>9}"
          f"{'lost':>6}{'ns/ev':>7}{'p50ms':>7}{'p99ms':>7}{'maxms':>7}{'rssMB':>7}")
    by_mode = {}
    for r in runs:
        m = r.get("mode", "")
        if m.startswith("snap") or m.startswith("live") or "round" not in r:
            continue
        rate, b = num(r, "rate"), base.get(r["round"])
        ratio = rate / b if rate and b else None
        conns = num(r, "connections", 0)
        expect = 10 * conns if m != "netstat-poll" else None
        counted = num(r, "transitions")
        if m == "netstat-poll":
            expect, counted = num(r, "transient_total"), num(r, "transient_seen")
        cpu = (num(r, "cpu_user", 0) + num(r, "cpu_sys", 0)) if "cpu_user" in r else None
        ev = num(r, "written") or counted
        nsev = cpu * 1e9 / ev if cpu is not None and ev else None
        p50, p99, mx = (num(r, k) for k in ("lat_p50_us", "lat_p99_us", "lat_max_us"))
        rss = num(r, "maxrss_kb")
        by_mode.setdefault(m, []).append((ratio, counted, expect, num(r, "lost"), nsev, p99))
        print(f"{m:<17}{r['round']:>6}{fmt(rate):>8}{fmt(ratio, '.3f'):>7}{fmt(expect):>9}"
              f"{fmt(counted):>9}{fmt(num(r, 'lost')):>6}{fmt(nsev):>7}"
              f"{fmt(p50 / 1000 if p50 else None, '.2f'):>7}{fmt(p99 / 1000 if p99 else None, '.2f'):>7}"
              f"{fmt(mx / 1000 if mx else None, '.2f'):>7}{fmt(rss / 1024 if rss else None, '.1f'):>7}")
    print()
    print("== churn, median over rounds ==")
    for m, xs in by_mode.items():
        ratio = med([x[0] for x in xs])
        capt = [x[1] / x[2] if x[1] is not None and x[2] else None for x in xs]
        lost = sum(x[3] or 0 for x in xs)
        print(f"{m:<17} ratio={fmt(ratio, '.3f')} captured={fmt(med(capt), '.5f')} "
              f"(min {fmt(min([c for c in capt if c is not None], default=None), '.5f')}) "
              f"lost_total={lost:.0f} ns/event={fmt(med([x[4] for x in xs]))} "
              f"p99_ms={fmt(med([x[5] / 1000 if x[5] else None for x in xs]), '.2f')}")

    snaps = [r for r in runs if r.get("mode", "").startswith("snap-") and r["mode"] != "snap-diff"]
    if snaps:
        print()
        print("== snapshot (wall ms, median over rounds; speed-up = tool / tcptrail per round) ==")
        tools = []
        for r in snaps:
            if r["mode"] not in tools:
                tools.append(r["mode"])
        tt = {r["round"]: num(r, "wall_ms") for r in snaps if r["mode"] == "snap-tcptrail"}
        for t in tools:
            rs = [r for r in snaps if r["mode"] == t]
            walls = [num(r, "wall_ms") for r in rs]
            cpu = med([num(r, "cpu_user", 0) + num(r, "cpu_sys", 0) for r in rs])
            sp = [num(r, "wall_ms") / tt[r["round"]] for r in rs if tt.get(r["round"])]
            print(f"{t:<24} wall_ms={','.join(fmt(w) for w in walls)} median={fmt(med(walls))} "
                  f"cpu_s={fmt(cpu, '.2f')} rows={rs[0].get('rows')} "
                  f"maxrss_MB={fmt(med([num(r, 'maxrss_kb') for r in rs]) / 1024, '.1f')} "
                  f"speedup_vs_tcptrail={','.join(fmt(s, '.1f') for s in sp)}")
        for r in runs:
            if r.get("mode") == "snap-diff":
                print(f"snap-diff round {r['round']}: rows only in tcptrail={r['rows_only_tcptrail']} "
                      f"only in netstat={r['rows_only_netstat']}")
    for r in runs:
        if r.get("mode") == "live-rss-100k":
            print(f"live tracing with the held sockets: VmRSS={num(r, 'vmrss_kb') / 1024:.1f} MB "
                  f"VmHWM={num(r, 'vmhwm_kb') / 1024:.1f} MB")
    for d in other:
        if "startup_ms_median" in d:
            print(f"start-up (exec to meta record) ms: {d.get('startup_ms')} "
                  f"median={d['startup_ms_median']}; idle CPU over {d.get('idle_seconds')} s: "
                  f"{d.get('idle_oncpu_pct')}% of one CPU ({d.get('idle_oncpu_ms')} ms)")


if __name__ == "__main__":
    main()
