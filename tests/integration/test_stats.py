# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""-s/--stats: the per-state counts against netstat -antp, the new/closes
counts and the exit table against what the test did and against a plain
tcptrail watching the same port."""
import collections
import json
import os
import re
import signal
import time

from harness import (TCPTRAIL, Netns, Proc, TestFailure, check, pick_port,
                     test, transitions)

STATES = ("ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
          "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING")
REPORT = re.compile(r"^--- \d\d:\d\d:\d\d  (.*?) \| new/s (\d+\.\d)  closes/s (\d+\.\d) \| top: ")
PAIR = re.compile(r"([A-Z_0-9]+) (\d+)")
BEFORE = 10      # connections made before tcptrail starts: they come from the snapshot
BURST_EST = 40   # connections made while tracing and left ESTABLISHED
BURST_TW = 20    # connections made and closed by the client while tracing: TIME_WAIT


def netstat_counts(ns, port):
    """Sockets of the test port per state, as netstat -antp shows them."""
    out = ns.sh(["netstat", "-antp"]).stdout
    c = collections.Counter()
    for line in out.splitlines():
        f = line.split()
        if len(f) < 6 or not f[0].startswith("tcp"):
            continue
        if f[3].rsplit(":", 1)[1] == str(port) or f[4].rsplit(":", 1)[1] == str(port):
            c[f[5]] += 1
    return dict(c), out


def nonzero(d):
    return {k: v for k, v in d.items() if v}


def text_reports(proc):
    out = []
    for line in list(proc.lines):
        m = REPORT.match(line)
        if m:
            out.append({k: int(v) for k, v in PAIR.findall(m.group(1))})
    return out


def json_reports(tracer):
    return [r for r in tracer.seen() if r.get("type") == "stats"]


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise TestFailure("timeout (%gs) waiting for %s" % (timeout, what))


def settle(ns, port, want):
    """Until netstat shows exactly the sockets the script built (a wait,
    not a bound: an emulated VM under load has taken over 20 s)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        got, out = netstat_counts(ns, port)
        if got == want:
            return
        time.sleep(0.1)
    raise TestFailure("the test sockets did not settle to %s; netstat -antp:\n%s" % (want, out))


@test("20_stats_counts_equal_netstat")
def t_stats():
    port = pick_port()
    with Netns() as ns:
        srv, est, twc = ns.peer("server"), ns.peer("estclient"), ns.peer("twclient")
        srv.cmd("listen 4 127.0.0.1 %d" % port)
        for _ in range(BEFORE):
            est.cmd("connect 4 127.0.0.1 %d" % port)
            srv.cmd("accept")
        start_want = {"LISTEN": 1, "ESTABLISHED": 2 * BEFORE}
        settle(ns, port, start_want)

        # reference: every transition, one record each (with the snapshot, so
        # that its owners are seeded as the stats tracer's are)
        plain = ns.tracer("-P", str(port), snapshot=True)
        js = ns.tracer("--stats=1", "-P", str(port), snapshot=True)
        txt = Proc(ns.exec_argv([TCPTRAIL, "-s1", "-P", str(port)]))
        ns.procs.append(txt)
        hint = ("no stats report: -s must print one report per interval "
                "(is stats.c wired into the run loop?)")
        try:
            wait_until(lambda: json_reports(js) and text_reports(txt), 15, "the first reports")
        except TestFailure as e:
            raise TestFailure("%s: %s\n  JSON tail: %s\n  text tail: %s\n  stderr: %s"
                              % (hint, e, js.proc.lines[-3:], txt.lines[-3:],
                                 txt.err_lines[-3:]))
        # the first report counts the snapshot's sockets
        first_j, first_t = json_reports(js)[0], text_reports(txt)[0]
        check(nonzero(first_j["states"]) == start_want,
              "first JSON report %s, expected %s (the snapshot)" % (first_j["states"], start_want))
        check(nonzero(first_t) == start_want,
              "first text report %s, expected %s (the snapshot)" % (first_t, start_want))

        for _ in range(BURST_EST):
            est.cmd("connect 4 127.0.0.1 %d" % port)
            srv.cmd("accept")
        srv.cmd("serve %d" % BURST_TW)
        twc.cmd("bulk 4 127.0.0.1 %d %d" % (port, BURST_TW))
        srv.expect("done serve %d" % BURST_TW)
        want = {"LISTEN": 1, "ESTABLISHED": 2 * (BEFORE + BURST_EST), "TIME_WAIT": BURST_TW}
        settle(ns, port, want)

        # reports made after netstat's reading, while nothing changes (the
        # TIME_WAITs last 60 s): they must show what netstat showed
        ref, out = netstat_counts(ns, port)
        nj, nt = len(json_reports(js)), len(text_reports(txt))
        wait_until(lambda: len(json_reports(js)) > nj + 1 and len(text_reports(txt)) > nt + 1,
                   10, "two more reports")
        again, _ = netstat_counts(ns, port)
        check(again == ref, "the sockets changed during the check: %s then %s" % (ref, again))
        last_j, last_t = json_reports(js)[-1], text_reports(txt)[-1]
        check(nonzero(last_j["states"]) == ref,
              "last JSON report %s != netstat %s\n%s" % (last_j["states"], ref, out))
        check(sorted(last_j["states"]) == sorted(STATES),
              "JSON states keys: %s" % sorted(last_j["states"]))
        check(nonzero(last_t) == ref, "last text report %s != netstat %s\n%s" % (last_t, ref, out))
        check(last_j["sockets"] == sum(ref.values()),
              "JSON sockets %s != %d" % (last_j["sockets"], sum(ref.values())))
        # the two top owners hold the ESTABLISHED sockets: one end each
        top = {(t["pid"], t["established"]) for t in last_j["top"]}
        check(top == {(srv.pid, BEFORE + BURST_EST), (est.pid, BEFORE + BURST_EST)},
              "top owners %s, expected server %d and client %d with %d each"
              % (last_j["top"], srv.pid, est.pid, BEFORE + BURST_EST))

        os.kill(txt.pid, signal.SIGINT)
        rc = txt.wait(20)
        check(rc == 0, "text tcptrail -s exited %d; stderr: %s" % (rc, txt.err_lines))
        plain_tr = plain.stop()
        js.stop()
        recs = js.records

        # new/closes: both ends of each connection made while tracing; the
        # server ends closed (LAST_ACK -> CLOSE), the clients still in TIME_WAIT
        reps = [r for r in recs if r["type"] == "stats"]
        made = BURST_EST + BURST_TW
        check(sum(r["new"] for r in reps) == 2 * made,
              "sum of new over the reports %d, expected %d" % (sum(r["new"] for r in reps), 2 * made))
        check(sum(r["closes"] for r in reps) == BURST_TW,
              "sum of closes over the reports %d, expected %d"
              % (sum(r["closes"] for r in reps), BURST_TW))
        fin = [r for r in recs if r["type"] == "stats_final"]
        check(len(fin) == 1, "expected one stats_final record, got %d" % len(fin))
        fin = fin[0]
        table = {(t["old"], t["new"]): t["count"] for t in fin["transitions"]}
        for pair, n in ((("SYN_SENT", "ESTABLISHED"), made), (("SYN_RECV", "ESTABLISHED"), made),
                        (("LAST_ACK", "CLOSE"), BURST_TW)):
            check(table.get(pair) == n, "exit table %s -> %s: %s, expected %d"
                  % (pair[0], pair[1], table.get(pair), n))
        # the same events, seen one by one by the plain tracer
        ref_table = collections.Counter((r["old_state"], r["state"]) for r in plain_tr)
        check(table == dict(ref_table), "exit table %s\n  != plain tcptrail's transitions %s"
              % (sorted(table.items()), sorted(ref_table.items())))
        by_proc = {p["pid"]: p["transitions"] for p in fin["by_process"]}
        ref_proc = collections.Counter(r["pid"] for r in plain_tr)
        check(by_proc == dict(ref_proc), "exit by_process %s != plain tcptrail's %s"
              % (by_proc, dict(ref_proc)))
        check(any(l.startswith("--- transitions by state") for l in txt.lines),
              "no exit table in the text output: %s" % txt.lines[-5:])
        for r in recs:   # every line was one JSON record (json.loads ran on each)
            check(isinstance(r, dict) and "type" in r, "odd record %r" % r)
        check(transitions(recs) == [], "-s printed %d transition records too"
              % len(transitions(recs)))
