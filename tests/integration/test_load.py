# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Event counts under load, and the 60 s TIME_WAIT expiry."""
from collections import Counter

import os
import re
import shutil
import tempfile
import time

from harness import LOADGEN, Netns, check, classify, fmt_rec, pick_port, show, skip, test
from test_states import CLIENT_CLOSES, LISTENER, PASSIVE_CLOSES, has

N_CONN = 2000


@test("13_event_counts_2000_connections")
def t_counts():
    port = pick_port()
    with Netns() as ns:
        tr = ns.tracer("-P", str(port))
        srv, cli = ns.peer("server"), ns.peer("client")
        srv.cmd("listen 4 127.0.0.1 %d" % port)
        srv.cmd("serve %d" % N_CONN)
        cli.cmd("bulk 4 127.0.0.1 %d %d" % (port, N_CONN), timeout=60)
        srv.expect("done serve", timeout=60)
        srv.cmd("close_listener")
        want = 10 * N_CONN + 2
        tr.wait_for(lambda t: len(t) >= want, timeout=60, what="%d transitions" % want)
        trs = tr.stop()
        g = classify(trs, port)
        check(not g["other"], "%d unexpected groups, first:\n%s"
              % (len(g["other"]), show(g["other"][0]) if g["other"] else ""))
        check(len(g["listener"]) == 1, "%d listener groups" % len(g["listener"]))
        check([(r["old_state"], r["state"]) for r in g["listener"][0]] == LISTENER,
              "listener:\n%s" % show(g["listener"][0]))
        conn = [r for r in trs if r["sock"] != g["listener"][0][0]["sock"]]
        # A client's TIME_WAIT ends early when connect() reuses its port
        # (the kernel may, on loopback: net.ipv4.tcp_tw_reuse=2): a real
        # eleventh record of that connection, at the end of its chain.
        reused = sum(1 for recs in g["client"]
                     if recs and (recs[-1]["old_state"], recs[-1]["state"]) == ("TIME_WAIT", "CLOSE"))
        errs = []
        if len(conn) != 10 * N_CONN + reused:
            errs.append("%d connection transitions for %d connections (%d TIME_WAIT ends at port "
                        "reuse), expected %d" % (len(conn), N_CONN, reused, 10 * N_CONN + reused))
        for side, want_seq, pid in (("client", CLIENT_CLOSES, cli.pid),
                                    ("server", PASSIVE_CLOSES, srv.pid)):
            check(len(g[side]) == N_CONN, "%d %s groups, expected %d" % (len(g[side]), side, N_CONN))
            shapes = Counter(" ".join("%s->%s" % (r["old_state"], r["state"]) for r in recs)
                             for recs in g[side])
            for shape, n in shapes.items():
                steps = shape.split()
                if side == "client" and steps[-1:] == ["TIME_WAIT->CLOSE"]:
                    steps = steps[:-1]
                if steps != ["%s->%s" % p for p in want_seq]:
                    errs.append("%d %s connections went %s" % (n, side, shape))
            wrong = [r for recs in g[side] for r in recs if r["pid"] != pid]
            if wrong:
                errs.append("%d %s events with owner != %d, first: %s"
                            % (len(wrong), side, pid, fmt_rec(wrong[0])))
        check(not errs, "\n".join(errs))


def is_subsequence(part, whole):
    it = iter(whole)
    return all(any(p == w for w in it) for p in part)


@test("13b_churn_every_connection_complete")
def t_churn():
    """Flat-out churn (bench/loadgen, C, one client and one server thread)
    makes what a slow peer cannot: state changes nested in interrupts, and
    timewait sockets freed and made again at the same address. Every
    connection's whole life must be there, or be counted as lost.

    The records go to a capture file, not through this harness: a Python
    pipe reader falls behind on a fast machine, and the ring loss it causes
    (counted, as it should be) would make the test depend on the machine's
    speed. Loss that is reported explains missing records one for one;
    only what it does not explain counts against the bound."""
    check(os.access(LOADGEN, os.X_OK), "%s is missing: make integration builds it" % LOADGEN)
    port = pick_port()
    tmp = tempfile.mkdtemp(prefix="tt-13b.")
    try:
        with Netns() as ns:
            tr = ns.tracer("-P", str(port), capture=os.path.join(tmp, "cap.jsonl"))
            out = ns.sh([LOADGEN, "churn", "-t", "1", "-d", "2", "-p", str(port)], timeout=60).stdout
            # loadgen exits once every connection is served; a FIN_WAIT2 ->
            # TIME_WAIT can come up to 50 ms later (the flush tick)
            time.sleep(0.5)
            trs = tr.stop(defer_loss=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    line = out.strip().splitlines()[-1]
    fields = dict(f.split("=", 1) for f in line.split()[1:])
    n = int(fields["connections"])
    check(int(fields["errors"]) == 0 and int(fields["unserved"]) == 0, "loadgen: %s" % line)
    if n < 2000:
        # an emulated VM of the kernel matrix cannot churn flat out: what
        # the test is for (nested state changes at full rate) is not there
        skip("only %d connections in 2 s here, fewer than the 2000 a flat-out churn makes: "
             "a machine too slow for the test (%s)" % (n, line))
    g = classify(trs, port)
    # a chain whose first record was lost is still one connection's: its
    # side is told by the port
    for recs in g["other"]:
        g["server" if recs[0]["lport"] == port else "client"].append(recs)
    full = {"client": CLIENT_CLOSES + [("TIME_WAIT", "CLOSE")], "server": PASSIVE_CLOSES}
    missing, bad, wrong = 0, [], []
    for side, shape in full.items():
        got = len(g[side])
        check(got <= n, "%d %s chains for %d connections" % (got, side, n))
        missing += 5 * (n - got)
        for recs in g[side]:
            seq = [(r["old_state"], r["state"]) for r in recs]
            core = [p for p in seq if p != ("TIME_WAIT", "CLOSE")]
            text = "%s: %s" % (side, " ".join("%s->%s" % p for p in seq))
            if len(core) > 5:
                wrong.append(text)
            elif not is_subsequence(seq, shape):
                # a transition that should not be there: at least one
                # record is wrong, and nothing reported explains it
                bad.append(text)
                missing += max(1, 5 - len(core))
            elif len(core) < 5:
                bad.append(text)
                missing += 5 - len(core)
    check(len(g["listener"]) == 1 and
          [(r["old_state"], r["state"]) for r in g["listener"][0]] == LISTENER,
          "listener: %s" % g["listener"])
    summ = [r for r in tr.records if r["type"] == "summary"][0]
    # Nothing should be lost without being counted. KNOWN DEFECT, not yet
    # understood: at this rate, with other load beside it, a burst of
    # consecutive client connections can miss FIN_WAIT1 -> FIN_WAIT2 and
    # what follows, uncounted; a separate BPF program on the same
    # tracepoints misses them too (README, "Losing nothing silently";
    # BENCHMARKS.md). The bound keeps the test meaningful: a starved
    # FIN_WAIT2 check or a systematic loss fails it.
    silent = missing - summ["lost"]
    print("  13b: %d connections, %d records missing, %d reported lost, %d chains incomplete"
          % (n, missing, summ["lost"], len(bad)), flush=True)
    check(not wrong, "chains with records too many: %s" % wrong[:5])
    check(silent <= n // 200, "%d connections, %d records missing, %d reported lost; "
          "first incomplete chains:\n%s" % (n, missing, summ["lost"], "\n".join(bad[:5])))
    # a run that lost most of its records would prove nothing
    check(summ["lost"] <= n, "%d records of %d connections reported lost: the run tests nothing"
          % (summ["lost"], n))


@test("13c_slow_reader_still_sees_time_wait")
def t_slow_reader():
    """A reader far slower than the events (stdout's queue fills and what it
    cannot take is reported lost, as it should be). The tool's loop must
    still run its 50 ms FIN_WAIT2 check: when a blocking write kept it from
    doing so, the client sockets that went to a FIN_WAIT2 timewait socket
    stayed FIN_WAIT2 in its table, and their end at port reuse showed
    FIN_WAIT2 -> CLOSE instead of TIME_WAIT -> CLOSE."""
    check(os.access(LOADGEN, os.X_OK), "%s is missing: make integration builds it" % LOADGEN)
    port = pick_port()
    with Netns() as ns:
        # Ports are reused (TIME_WAIT -> CLOSE) from early in the run
        # whatever the machine's speed: one destination address, 10000
        # local ports, 8000 connections a second at most (fewer would
        # leave no TIME_WAIT old enough to reuse: tcp_tw_reuse waits 1 s).
        ns.sysctl("net.ipv4.ip_local_port_range", "40000 49999")
        # 64 lines per 3 ms: ~20k lines/s, a quarter of what the churn makes
        tr = ns.tracer("-P", str(port), read_pause=0.003)
        out = ns.sh([LOADGEN, "churn", "-t", "1", "-a", "1", "-r", "8000", "-d", "3", "-p", str(port)],
                    timeout=60).stdout
        line = out.strip().splitlines()[-1]
        # Then the reader catches up, so that the summary reaches it: at its
        # stop tcptrail gives a slow reader at most 0.6 s, and what is still
        # queued for stdout then is counted, not delivered (README, "A
        # stalled reader"). The backlog depends on the machine's speed.
        tr.proc.read_pause = 0
        n, still = -1, time.monotonic()
        while time.monotonic() < still + 0.5:
            if len(tr.proc.lines) != n:
                n, still = len(tr.proc.lines), time.monotonic()
            time.sleep(0.05)
        trs = tr.stop(defer_loss=True)
        summ = [r for r in tr.records if r["type"] == "summary"][0]
        stale = [r for r in trs if (r["old_state"], r["state"]) == ("FIN_WAIT2", "CLOSE")
                 and r.get("kind") == "timewait"]
        tw_in = sum(1 for r in trs if (r["old_state"], r["state"]) == ("FIN_WAIT2", "TIME_WAIT"))
        tw_out = sum(1 for r in trs if (r["old_state"], r["state"]) == ("TIME_WAIT", "CLOSE"))
        print("  13c: %s; %d records read, %d lost; FIN_WAIT2 -> TIME_WAIT %d, "
              "TIME_WAIT -> CLOSE %d, timewait FIN_WAIT2 -> CLOSE %d"
              % (line, len(trs), summ["lost"], tw_in, tw_out, len(stale)), flush=True)
        # On a slow machine (an emulated VM of the kernel matrix) the churn
        # makes fewer records than this reader reads, and too few
        # connections to reuse a port: the test has nothing to test there.
        m = re.search(r"seconds=([0-9.]+)", line)
        made = (len(trs) + summ["lost"]) / float(m.group(1)) if m and float(m.group(1)) > 0 else None
        if made is not None and made < 2 * 64 / 0.003 and (tw_out == 0 or summ["lost"] == 0):
            skip("the churn made only %.0f records/s here (%d lost, %d ports reused): too slow to "
                 "outrun a reader of ~%.0f lines/s" % (made, summ["lost"], tw_out, 64 / 0.003))
        # the run must have reached port reuse, or no stale end could show
        check(tw_out > 0, "no TIME_WAIT -> CLOSE: the run never reused a port (%s)" % line)
        check(summ["lost"] > 0, "the reader kept up (0 lost): the test does not test a slow reader")
        check(not stale, "%d timewait sockets ended in FIN_WAIT2, first: %s"
              % (len(stale), fmt_rec(stale[0]) if stale else ""))


@test("14_time_wait_expiry", slow=True)
def t_tw_expiry():
    port = pick_port()
    with Netns() as ns:
        tr = ns.tracer("-P", str(port))
        srv, cli = ns.peer("server"), ns.peer("client")
        srv.cmd("listen 4 127.0.0.1 %d" % port)
        cport = int(cli.cmd("connect 4 127.0.0.1 %d" % port).split()[2])
        srv.cmd("accept")
        cli.cmd("close")
        check(srv.cmd("recv_eof") == "ok recv_eof 0", "server: data before EOF")
        srv.cmd("close")
        tr.wait_for(lambda t: has(t, "FIN_WAIT2", "TIME_WAIT", lport=cport), what="TIME_WAIT")
        tw = [r for r in tr.seen() if r.get("type") == "transition"
              and (r["old_state"], r["state"]) == ("FIN_WAIT2", "TIME_WAIT")][0]
        tr.wait_for(lambda t: has(t, "TIME_WAIT", "CLOSE"), timeout=75,
                    what="TIME_WAIT -> CLOSE within 75 s")
        trs = tr.stop(defer_loss=True)
        end = [r for r in trs if (r["old_state"], r["state"]) == ("TIME_WAIT", "CLOSE")]
        check(len(end) == 1, "expected one TIME_WAIT -> CLOSE:\n%s" % show(trs))
        e = end[0]
        check(e["sock"] == tw["sock"], "TIME_WAIT -> CLOSE sock %s, the FIN_WAIT2 -> TIME_WAIT sock %s"
              % (e["sock"], tw["sock"]))
        check((e["lport"], e["rport"]) == (cport, port), "endpoints: %s" % fmt_rec(e))
        check(e.get("kind") == "timewait", "not kind timewait: %s" % fmt_rec(e))
        check(e["pid"] == cli.pid, "owner %s, the client is %d: %s" % (e["pid"], cli.pid, fmt_rec(e)))
        check(50000 <= e.get("state_ms", 0) <= 75000, "time in TIME_WAIT %s ms: %s"
              % (e.get("state_ms"), fmt_rec(e)))
        tr.check_loss()
