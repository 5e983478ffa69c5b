# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""--snapshot-only against netstat -antp, in a namespace holding only our sockets."""
import os
import time

from harness import HELPERS, TCPTRAIL, Netns, TestFailure, check, pick_port, run, skip, test
from test_states import has, nft_table

# long enough to be truncated by netstat without -W
LONG6 = "fd00:1111:2222:3333:4444:5555:6666:7777"


def build_sockets(ns):
    """Three listeners (v4, v6 long address, dual-stack), an established pair
    on each (the dual-stack one IPv4-mapped), and a client TIME_WAIT."""
    ns.sh(["ip", "addr", "add", LONG6 + "/128", "dev", "lo", "nodad"])
    p4, p6, pm = pick_port(), pick_port(), pick_port()
    srv4, srv6, srvm = ns.peer("server4"), ns.peer("server6"), ns.peer("serverm")
    cli, twc = ns.peer("client"), ns.peer("twclient")
    srv4.cmd("listen 4 127.0.0.1 %d" % p4)
    srv6.cmd("listen 6 %s %d" % (LONG6, p6))
    srvm.cmd("listen 6 :: %d 0" % pm)
    for srv, fam, addr, port in ((srv4, 4, "127.0.0.1", p4), (srv6, 6, LONG6, p6),
                                 (srvm, 4, "127.0.0.1", pm)):
        cli.cmd("connect %d %s %d" % (fam, addr, port))
        srv.cmd("accept")
    twc.cmd("connect 4 127.0.0.1 %d" % p4)
    srv4.cmd("accept")
    twc.cmd("close")
    check(srv4.cmd("recv_eof") == "ok recv_eof 0", "server4: data before EOF")
    srv4.cmd("close")
    return (p4, p6, pm)


def settled(ns, ports):
    """Wait until netstat shows the TIME_WAIT and nothing still closing."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        out = ns.sh(["netstat", "-antW"]).stdout
        r = rows(out, ports)
        states = [l.split()[5] for l in r]
        if "TIME_WAIT" in states and not any(s in ("FIN_WAIT1", "FIN_WAIT2", "LAST_ACK",
                                                   "CLOSE_WAIT", "CLOSING") for s in states):
            return
        time.sleep(0.05)
    raise TestFailure("the test sockets did not settle:\n%s" % out)


def rows(text, ports):
    keys = tuple(":%d " % p for p in ports)
    return [l for l in text.splitlines() if any(k in l + " " for k in keys)]


@test("12_snapshot_only_equals_netstat")
def t_snapshot():
    with Netns() as ns:
        ports = build_sockets(ns)
        settled(ns, ports)
        errs = []
        cases = [
            ([], ["-antp"], None),
            (["-w"], ["-antpW"], None),
            (["-4"], ["-antp"], "tcp "),
            (["-6"], ["-antp"], "tcp6"),
            (["-6", "-w"], ["-antpW"], "tcp6"),
            (["-P", str(ports[0])], ["-antp"], ports[0]),
        ]
        for targs, nargs, filt in cases:
            mine = ns.sh([TCPTRAIL, "--snapshot-only"] + targs).stdout
            ref = ns.sh(["netstat"] + nargs).stdout
            want = rows(ref, ports)
            if isinstance(filt, str):
                want = [l for l in want if l.startswith(filt)]
            elif isinstance(filt, int):
                want = rows("\n".join(want), [filt])
            got = rows(mine, ports)
            check(len(rows(ref, ports)) == 10, "netstat does not show the 10 test rows test rows:\n%s" % ref)
            head_m, head_r = mine.splitlines()[:2], ref.splitlines()[:2]
            if head_m != head_r:
                errs.append("tcptrail --snapshot-only %s header differs from netstat %s:\n  %r\n  %r"
                            % (" ".join(targs), " ".join(nargs), head_m, head_r))
            if got != want:
                why = "same rows, other order" if sorted(got) == sorted(want) else "rows differ"
                errs.append("tcptrail --snapshot-only %s vs netstat %s (%s):\n"
                            "  tcptrail:\n    %s\n  netstat:\n    %s"
                            % (" ".join(targs), " ".join(nargs), why,
                               "\n    ".join(got) or "(none)", "\n    ".join(want) or "(none)"))
        check(not errs, "\n".join(errs))


@test("12c_snapshot_only_without_bpf")
def t_snapshot_no_bpf():
    """Where BPF cannot load (no BTF, no CAP_BPF), --snapshot-only still
    prints netstat's rows, read from /proc, with one note on stderr."""
    unpriv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
    with Netns() as ns:
        ports = build_sockets(ns)
        settled(ns, ports)
        errs = []
        for label, prefix, env in (("no BTF", [], {"TCPTRAIL_DISABLE": "btf"}),
                                   ("no capabilities", unpriv, {})):
            r = run(ns.exec_argv(prefix + [TCPTRAIL, "--snapshot-only", "-w"]), check_rc=False,
                    env=dict(os.environ, **env))
            # netstat as the same user: owners of other users' sockets are "-"
            ref = ns.sh(prefix + ["netstat", "-antpW"]).stdout
            want, got = rows(ref, ports), rows(r.stdout, ports)
            notes = r.stderr.splitlines()
            if r.returncode != 0:
                errs.append("%s: exit %d, stderr %r" % (label, r.returncode, r.stderr))
            if len(want) != 10 or got != want:
                errs.append("%s: rows differ from netstat's:\n  tcptrail:\n    %s\n  netstat:\n    %s"
                            % (label, "\n    ".join(got), "\n    ".join(want)))
            if len(notes) != 1 or "note:" not in notes[0] or "/proc" not in notes[0]:
                errs.append("%s: expected one note naming /proc on stderr, got %r" % (label, notes))
        check(not errs, "\n".join(errs))


@test("15_snapshot_join_existing_sockets")
def t_snapshot_join():
    """Sockets that exist before the start: an established pair and a
    half-open request (its final ACK dropped). Their later transitions
    carry the snapshot's sock ids, and the owners the snapshot found."""
    port = pick_port()
    with Netns() as ns:
        srv, cli, cli2 = ns.peer("server"), ns.peer("client"), ns.peer("client2")
        srv.cmd("listen 4 127.0.0.1 %d" % port)
        cport = int(cli.cmd("connect 4 127.0.0.1 %d" % port).split()[2])
        srv.cmd("accept")
        nft_table(ns, "tcp dport %d tcp flags & (syn|ack) == ack drop" % port)
        hport = int(cli2.cmd("connect 4 127.0.0.1 %d" % port).split()[2])
        tr = ns.tracer("-P", str(port), snapshot=True)
        deadline = time.monotonic() + 10
        while True:
            snaps = [r for r in tr.seen() if r.get("type") == "snapshot"]
            if len(snaps) >= 5 or time.monotonic() > deadline:
                break
            time.sleep(0.05)

        def row(lport, rport):
            got = [r for r in snaps if r["lport"] == lport and r["rport"] == rport]
            check(len(got) == 1, "one snapshot row %d -> %d expected, got %s; all: %s"
                  % (lport, rport, got, snaps))
            return got[0]
        srow, creq = row(port, cport), row(port, hport)
        check(srow["state"] == "ESTABLISHED" and srow["pid"] == srv.pid,
              "server row: %s (server pid %d)" % (srow, srv.pid))
        check(creq["state"] == "SYN_RECV" and creq.get("kind") == "request",
              "request row: %s" % creq)
        # let the handshake finish: the server's SYN-ACK retransmission
        # (after 1 s) is answered again, and this time the ACK gets through
        ns.nft(["delete", "table", "inet", "tt"])
        tr.wait_for(lambda t: has(t, "SYN_RECV", "ESTABLISHED", lport=port), timeout=10,
                    what="the request's SYN_RECV -> ESTABLISHED")
        cli.cmd("close")
        tr.wait_for(lambda t: has(t, "ESTABLISHED", "CLOSE_WAIT", lport=port), what="CLOSE_WAIT")
        trs = tr.stop()
        est = [r for r in trs if r["lport"] == port and r["rport"] == hport
               and (r["old_state"], r["state"]) == ("SYN_RECV", "ESTABLISHED")]
        check(len(est) == 1 and est[0]["sock"] == creq["sock"],
              "the completed request keeps the snapshot's sock %s: %s" % (creq["sock"], est))
        cw = [r for r in trs if r["lport"] == port and r["rport"] == cport]
        check([(r["old_state"], r["state"]) for r in cw] == [("ESTABLISHED", "CLOSE_WAIT")],
              "server side of the old pair: %s" % cw)
        # taken in softirq, by no process: the owner is the one the
        # snapshot found
        check(cw[0]["sock"] == srow["sock"] and cw[0]["pid"] == srv.pid,
              "sock %s pid %s, the snapshot had sock %s pid %d"
              % (cw[0]["sock"], cw[0]["pid"], srow["sock"], srv.pid))


def snapshot_timewait_row(ns, port, cport, ss_state, state):
    """Waits until `ss` shows the client socket on cport in ss_state, starts
    the tracer with its snapshot, and returns (tracer, the socket's row),
    checked to be a timewait row in `state`."""
    deadline = time.monotonic() + 10
    while "127.0.0.1:%d " % cport not in ns.sh(["ss", "-tan", "state", ss_state]).stdout:
        check(time.monotonic() < deadline, "the client's socket never reached %s" % state)
        time.sleep(0.05)
    tr = ns.tracer("-P", str(port), snapshot=True)
    deadline = time.monotonic() + 10
    while True:
        rows = [r for r in tr.seen() if r.get("type") == "snapshot" and r["lport"] == cport]
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    check(len(rows) == 1 and rows[0]["state"] == state and rows[0].get("kind") == "timewait",
          "snapshot row of the client's timewait socket: %s" % rows)
    return tr, rows[0]


@test("15d_snapshot_time_wait_ends_with_its_sock")
def t_snapshot_time_wait():
    """A TIME_WAIT socket that exists before the start: the snapshot shows
    it, and its end (here its address reused by a new connect()) comes as
    TIME_WAIT -> CLOSE with the snapshot's sock id."""
    port, cport = pick_port(), pick_port()
    with Netns() as ns:
        srv, cli = ns.peer("server"), ns.peer("client")
        srv.cmd("listen 4 127.0.0.1 %d" % port)
        cli.cmd("connect_from 4 127.0.0.1 %d %d" % (port, cport))
        srv.cmd("accept")
        cli.cmd("close")
        check(srv.cmd("recv_eof") == "ok recv_eof 0", "server: data before EOF")
        srv.cmd("close")
        tr, tw = snapshot_timewait_row(ns, port, cport, "time-wait", "TIME_WAIT")
        # tcp_tw_reuse (2 in a new namespace: loopback) takes a timewait
        # socket whose last timestamp is over a second old
        time.sleep(2.1)
        r = cli.cmd("connect_from 4 127.0.0.1 %d %d" % (port, cport))
        check(r == "ok connect %d" % cport, "second connect from %d: %s" % (cport, r))
        tr.wait_for(lambda t: has(t, "TIME_WAIT", "CLOSE", lport=cport),
                    what="the snapshot's TIME_WAIT -> CLOSE")
        trs = tr.stop()
        end = [x for x in trs if x["lport"] == cport
               and (x["old_state"], x["state"]) == ("TIME_WAIT", "CLOSE")]
        check(len(end) == 1 and end[0]["sock"] == tw["sock"] and end[0].get("kind") == "timewait",
              "TIME_WAIT -> CLOSE records %s, the snapshot row's sock %s" % (end, tw["sock"]))
        new = [x for x in trs if x["lport"] == cport and x["old_state"] == "SYN_SENT"]
        check(len(new) == 1 and new[0]["sock"] != tw["sock"],
              "the new connection's SYN_SENT -> ESTABLISHED: %s" % new)


@test("15e_snapshot_fin_wait2_timewait_moves_to_time_wait")
def t_snapshot_fin_wait2():
    """A client closed first, its server not yet: before the start the
    client's side is a timewait socket in FIN_WAIT2 (netstat: FIN_WAIT2).
    When the server closes, the kernel moves it to TIME_WAIT without any
    hook firing; the record must still come, FIN_WAIT2 -> TIME_WAIT, under
    the snapshot's sock id."""
    port = pick_port()
    with Netns() as ns:
        srv, cli = ns.peer("server"), ns.peer("client")
        srv.cmd("listen 4 127.0.0.1 %d" % port)
        cport = int(cli.cmd("connect 4 127.0.0.1 %d" % port).split()[2])
        srv.cmd("accept")
        cli.cmd("close")
        tr, row = snapshot_timewait_row(ns, port, cport, "fin-wait-2", "FIN_WAIT2")
        check(srv.cmd("recv_eof") == "ok recv_eof 0", "server: data before EOF")
        srv.cmd("close")
        tr.wait_for(lambda t: has(t, "FIN_WAIT2", "TIME_WAIT", lport=cport),
                    what="the snapshot's FIN_WAIT2 -> TIME_WAIT")
        trs = tr.stop()
        mine = [x for x in trs if x["lport"] == cport]
        check([(x["old_state"], x["state"]) for x in mine] == [("FIN_WAIT2", "TIME_WAIT")]
              and mine[0]["sock"] == row["sock"] and mine[0].get("kind") == "timewait",
              "the client's records %s, the snapshot row's sock %s" % (mine, row["sock"]))


@test("12d_owner_iterator_names_the_owner_as_proc_does")
def t_owner_iterator():
    """The snapshot's owners come from the iter/task_file program when it
    loads: for a socket of its own, tests/helpers/owners_iter_check gets
    its pid and the name the /proc scan (netstat's way) gives."""
    r = run([os.path.join(HELPERS, "owners_iter_check")], check_rc=False)
    if r.returncode == 77:
        skip(r.stdout.strip())
    check(r.returncode == 0, "owners_iter_check: %s%s" % (r.stdout, r.stderr))
