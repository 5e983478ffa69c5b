# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""State sequences of single connections, traced in a private namespace.

Each test drives a server and a client peer (separate processes, so each
socket has a known owner) and asserts the EXACT transitions tcptrail shows
for every connection (grouped by sock id), the owner pid on each, the
endpoints, and the byte counts on the final transition.
"""
from harness import (ATTRIBUTION, S, Netns, TestFailure, check, classify, expect_group,
                     fmt_rec, one, pick_port, show, test)

CLIENT_CLOSES = S("CLOSE->SYN_SENT SYN_SENT->ESTABLISHED ESTABLISHED->FIN_WAIT1 "
                  "FIN_WAIT1->FIN_WAIT2 FIN_WAIT2->TIME_WAIT")
PASSIVE_CLOSES = S("CLOSE->SYN_RECV SYN_RECV->ESTABLISHED ESTABLISHED->CLOSE_WAIT "
                   "CLOSE_WAIT->LAST_ACK LAST_ACK->CLOSE")
SERVER_CLOSES = S("CLOSE->SYN_RECV SYN_RECV->ESTABLISHED ESTABLISHED->FIN_WAIT1 "
                  "FIN_WAIT1->FIN_WAIT2 FIN_WAIT2->TIME_WAIT")
CLIENT_PASSIVE = S("CLOSE->SYN_SENT SYN_SENT->ESTABLISHED ESTABLISHED->CLOSE_WAIT "
                   "CLOSE_WAIT->LAST_ACK LAST_ACK->CLOSE")
LISTENER = S("CLOSE->LISTEN LISTEN->CLOSE")

C_BYTES, S_BYTES = 1234, 567


def has(trs, old, new, **kw):
    return any(r["old_state"] == old and r["state"] == new and
               all(r.get(k) == v for k, v in kw.items()) for r in trs)


def check_final_bytes(label, recs, rx, tx):
    last = recs[-1]
    check("rx_bytes" in last and "tx_bytes" in last,
          "%s: no byte counts on the final transition %s" % (label, fmt_rec(last)))
    check((last["rx_bytes"], last["tx_bytes"]) == (rx, tx),
          "%s: final transition rx/tx %s/%s, the peers moved %d/%d\n%s"
          % (label, last["rx_bytes"], last["tx_bytes"], rx, tx, fmt_rec(last)))


def check_request_kind(label, recs):
    check(recs[0].get("kind") == "request",
          "%s: CLOSE -> SYN_RECV is not kind request: %s" % (label, fmt_rec(recs[0])))


def open_pair(ns, port, cfam="4", caddr="127.0.0.1", lfam="4", laddr="127.0.0.1", v6only=None):
    srv, cli = ns.peer("server"), ns.peer("client")
    srv.cmd("listen %s %s %d%s" % (lfam, laddr, port, "" if v6only is None else " %d" % v6only))
    cport = int(cli.cmd("connect %s %s %d" % (cfam, caddr, port)).split()[2])
    rport = int(srv.cmd("accept").split()[2])
    check(rport == cport, "server accepted from port %d, client bound %d" % (rport, cport))
    return srv, cli, cport


def exchange(srv, cli):
    cli.cmd("send %d" % C_BYTES)
    srv.cmd("recv %d" % C_BYTES)
    srv.cmd("send %d" % S_BYTES)
    cli.cmd("recv %d" % S_BYTES)


def client_closes_first(name, cfam="4", caddr="127.0.0.1", lfam="4", laddr="127.0.0.1",
                        v6only=None, cproto="tcp", sproto="tcp", s_laddr="127.0.0.1",
                        c_laddr="127.0.0.1", lst_laddr="127.0.0.1"):
    port = pick_port()
    with Netns() as ns:
        tr = ns.tracer("-P", str(port))
        srv, cli, cport = open_pair(ns, port, cfam, caddr, lfam, laddr, v6only)
        exchange(srv, cli)
        cli.cmd("close")
        r = srv.cmd("recv_eof")
        check(r == "ok recv_eof 0", "server: %s" % r)
        srv.cmd("close")
        srv.cmd("close_listener")
        tr.wait_for(lambda t: has(t, "FIN_WAIT2", "TIME_WAIT") and has(t, "LAST_ACK", "CLOSE")
                    and has(t, "LISTEN", "CLOSE"), what="the end of the connection")
        trs = tr.stop()
        g = classify(trs, port)
        ATTRIBUTION[name] = (trs, port, {"client": cli.pid, "server": srv.pid, "listener": srv.pid})
        check(not g["other"], "unexpected groups:\n%s" % "\n--\n".join(show(x) for x in g["other"]))
        expect_group("listener", one(g, "listener"), LISTENER, srv.pid, proto=sproto,
                     lport=port, laddr=lst_laddr)
        c = one(g, "client")
        expect_group("client", c, CLIENT_CLOSES, cli.pid, proto=cproto, lport=cport,
                     rport=port, laddr=c_laddr)
        s = one(g, "server")
        expect_group("server", s, PASSIVE_CLOSES, srv.pid, proto=sproto, lport=port,
                     rport=cport, laddr=s_laddr)
        check_request_kind("server", s)
        check_final_bytes("client", c, S_BYTES, C_BYTES)
        check_final_bytes("server", s, C_BYTES, S_BYTES)
        check(len(trs) == 12, "expected 12 transitions, got %d:\n%s" % (len(trs), show(trs)))


@test("01_client_closes_first")
def t_client_closes_first():
    client_closes_first("01_client_closes_first")


def server_closes_first(name, pause):
    port = pick_port()
    with Netns() as ns:
        tr = ns.tracer("-P", str(port))
        srv, cli, cport = open_pair(ns, port)
        exchange(srv, cli)
        srv.cmd("close")
        r = cli.cmd("recv_eof")
        check(r == "ok recv_eof 0", "client: %s" % r)
        if pause:
            # the server's closed socket reaches FIN_WAIT2 on the client's ACK
            # alone and becomes a timewait socket (substate FIN_WAIT2) before
            # the client's FIN arrives
            tr.wait_for(lambda t: has(t, "FIN_WAIT1", "FIN_WAIT2"), what="server FIN_WAIT2")
            cli.cmd("sleep %s" % pause)
        cli.cmd("close")
        srv.cmd("close_listener")
        tr.wait_for(lambda t: has(t, "FIN_WAIT2", "TIME_WAIT") and has(t, "LAST_ACK", "CLOSE")
                    and has(t, "LISTEN", "CLOSE"), what="the end of the connection")
        trs = tr.stop()
        g = classify(trs, port)
        if not pause:
            ATTRIBUTION[name] = (trs, port, {"client": cli.pid, "server": srv.pid, "listener": srv.pid})
        check(not g["other"], "unexpected groups:\n%s" % "\n--\n".join(show(x) for x in g["other"]))
        expect_group("listener", one(g, "listener"), LISTENER, srv.pid, lport=port)
        c = one(g, "client")
        expect_group("client", c, CLIENT_PASSIVE, cli.pid, proto="tcp", lport=cport, rport=port)
        s = one(g, "server")
        expect_group("server", s, SERVER_CLOSES, srv.pid, proto="tcp", lport=port, rport=cport)
        check_request_kind("server", s)
        check_final_bytes("client", c, S_BYTES, C_BYTES)
        check_final_bytes("server", s, C_BYTES, S_BYTES)
        check(len(trs) == 12, "expected 12 transitions, got %d:\n%s" % (len(trs), show(trs)))


@test("02_server_closes_first")
def t_server_closes_first():
    server_closes_first("02_server_closes_first", 0)


@test("02b_server_closes_first_fin_wait2_timewait")
def t_server_closes_first_pause():
    server_closes_first("02b_server_closes_first_fin_wait2_timewait", 0.3)


@test("03_refused_connect")
def t_refused():
    port = pick_port()
    with Netns() as ns:
        tr = ns.tracer("-P", str(port))
        cli = ns.peer("client")
        r = cli.cmd("connect 4 127.0.0.1 %d" % port, ok=False)
        check(r == "err connect ECONNREFUSED", "client: %s" % r)
        tr.wait_for(lambda t: has(t, "SYN_SENT", "CLOSE"), what="SYN_SENT -> CLOSE")
        trs = tr.stop()
        g = classify(trs, port)
        ATTRIBUTION["03_refused_connect"] = (trs, port, {"client": cli.pid})
        check(not g["listener"] and not g["server"] and not g["other"],
              "unexpected records:\n%s" % show(trs))
        expect_group("client", one(g, "client"), S("CLOSE->SYN_SENT SYN_SENT->CLOSE"), cli.pid,
                     proto="tcp", rport=port)
        check(len(trs) == 2, "expected 2 transitions, got:\n%s" % show(trs))


def rst_abort(name, aborter):
    port = pick_port()
    with Netns() as ns:
        tr = ns.tracer("-P", str(port))
        srv, cli, cport = open_pair(ns, port)
        exchange(srv, cli)
        ab, other = (cli, srv) if aborter == "client" else (srv, cli)
        ab.cmd("linger0")
        ab.cmd("close")
        tr.wait_for(lambda t: sum(1 for r in t if r["old_state"] == "ESTABLISHED"
                                  and r["state"] == "CLOSE") >= 2, what="both ESTABLISHED -> CLOSE")
        other.cmd("close")
        srv.cmd("close_listener")
        tr.wait_for(lambda t: has(t, "LISTEN", "CLOSE"), what="LISTEN -> CLOSE")
        trs = tr.stop()
        g = classify(trs, port)
        ATTRIBUTION[name] = (trs, port, {"client": cli.pid, "server": srv.pid, "listener": srv.pid})
        check(not g["other"], "unexpected groups:\n%s" % "\n--\n".join(show(x) for x in g["other"]))
        expect_group("listener", one(g, "listener"), LISTENER, srv.pid, lport=port)
        c = one(g, "client")
        expect_group("client", c, S("CLOSE->SYN_SENT SYN_SENT->ESTABLISHED ESTABLISHED->CLOSE"),
                     cli.pid, proto="tcp", lport=cport, rport=port)
        s = one(g, "server")
        expect_group("server", s, S("CLOSE->SYN_RECV SYN_RECV->ESTABLISHED ESTABLISHED->CLOSE"),
                     srv.pid, proto="tcp", lport=port, rport=cport)
        check_request_kind("server", s)
        # rx is exact once recv() returned; tx counts only acked bytes, which
        # a delayed ACK may still hold back when the RST goes out
        errs = []
        for label, recs, rx, tx in (("client", c, S_BYTES, C_BYTES), ("server", s, C_BYTES, S_BYTES)):
            last = recs[-1]
            if not (last.get("rx_bytes") == rx and 0 <= last.get("tx_bytes", -1) <= tx):
                errs.append("%s: final rx/tx %s/%s, the peers moved %d/%d: %s"
                            % (label, last.get("rx_bytes"), last.get("tx_bytes"), rx, tx, fmt_rec(last)))
        check(not errs, "\n".join(errs))


@test("04a_rst_abort_by_client")
def t_rst_client():
    rst_abort("04a_rst_abort_by_client", "client")


@test("04b_rst_abort_by_server")
def t_rst_server():
    rst_abort("04b_rst_abort_by_server", "server")


@test("05_ipv6_client_closes_first")
def t_ipv6():
    client_closes_first("05_ipv6_client_closes_first", cfam="6", caddr="::1", lfam="6",
                        laddr="::1", cproto="tcp6", sproto="tcp6", s_laddr="::1", c_laddr="::1",
                        lst_laddr="::1")


@test("06_ipv4_mapped")
def t_mapped():
    client_closes_first("06_ipv4_mapped", cfam="4", caddr="127.0.0.1", lfam="6", laddr="::",
                        v6only=0, cproto="tcp", sproto="tcp6", s_laddr="::ffff:127.0.0.1",
                        c_laddr="127.0.0.1", lst_laddr="::")


def nft_table(ns, rule):
    ns.nft(["add", "table", "inet", "tt"],
           ["add", "chain", "inet", "tt", "in", "{ type filter hook input priority 0; }"],
           ["add", "rule", "inet", "tt", "in"] + rule.split())


@test("07_syn_timeout")
def t_syn_timeout():
    port = pick_port()
    with Netns() as ns:
        ns.sysctl("net.ipv4.tcp_syn_retries", 1)
        nft_table(ns, "tcp dport %d tcp flags & syn == syn drop" % port)
        tr = ns.tracer("-P", str(port))
        srv, cli = ns.peer("server"), ns.peer("client")
        srv.cmd("listen 4 127.0.0.1 %d" % port)
        # two tries at 1 s and 2 s: the kernel gives up after about 3 s
        r = cli.cmd("connect 4 127.0.0.1 %d 20" % port, ok=False, timeout=30)
        check(r == "err connect ETIMEDOUT", "client: %s" % r)
        srv.cmd("close_listener")
        tr.wait_for(lambda t: has(t, "SYN_SENT", "CLOSE") and has(t, "LISTEN", "CLOSE"),
                    what="SYN_SENT -> CLOSE")
        trs = tr.stop()
        g = classify(trs, port)
        check(not g["server"] and not g["other"], "unexpected records:\n%s" % show(trs))
        expect_group("listener", one(g, "listener"), LISTENER, srv.pid, lport=port)
        expect_group("client", one(g, "client"), S("CLOSE->SYN_SENT SYN_SENT->CLOSE"), cli.pid,
                     proto="tcp", rport=port)


@test("08_half_open_request_expires")
def t_half_open():
    port = pick_port()
    with Netns() as ns:
        ns.sysctl("net.ipv4.tcp_synack_retries", 1)
        # the handshake's last ACK (ACK without SYN) never reaches the server
        nft_table(ns, "tcp dport %d tcp flags & (syn|ack) == ack drop" % port)
        tr = ns.tracer("-P", str(port))
        srv, cli = ns.peer("server"), ns.peer("client")
        srv.cmd("listen 4 127.0.0.1 %d" % port)
        cport = int(cli.cmd("connect 4 127.0.0.1 %d" % port).split()[2])
        tr.wait_for(lambda t: has(t, "SYN_RECV", "CLOSE"), timeout=30,
                    what="the request's SYN_RECV -> CLOSE")
        cli.cmd("linger0")
        cli.cmd("close")
        srv.cmd("close_listener")
        tr.wait_for(lambda t: has(t, "LISTEN", "CLOSE"), what="LISTEN -> CLOSE")
        trs = tr.stop()
        g = classify(trs, port)
        check(not g["other"], "unexpected groups:\n%s" % "\n--\n".join(show(x) for x in g["other"]))
        expect_group("listener", one(g, "listener"), LISTENER, srv.pid, lport=port)
        s = one(g, "server")
        expect_group("server", s, S("CLOSE->SYN_RECV SYN_RECV->CLOSE"), srv.pid, proto="tcp",
                     lport=port, rport=cport)
        for r in s:
            check(r.get("kind") == "request", "server: not kind request: %s" % fmt_rec(r))
        check(not any(r["state"] == "ESTABLISHED" and r["lport"] == port for r in trs),
              "ESTABLISHED on the server side:\n%s" % show(trs))
        # the client believes the handshake completed, then aborts
        expect_group("client", one(g, "client"),
                     S("CLOSE->SYN_SENT SYN_SENT->ESTABLISHED ESTABLISHED->CLOSE"), cli.pid,
                     proto="tcp", lport=cport, rport=port)


@test("09_simultaneous_close_closing")
def t_closing():
    port = pick_port()
    with Netns() as ns:
        tr = ns.tracer("-P", str(port))
        srv, cli, cport = open_pair(ns, port)
        # hold back the client's FIN: the server closes without having seen
        # it, the FINs cross, the client goes through CLOSING
        nft_table(ns, "tcp dport %d tcp flags & fin == fin drop" % port)
        cli.cmd("close")
        tr.wait_for(lambda t: has(t, "ESTABLISHED", "FIN_WAIT1", lport=cport), what="client FIN_WAIT1")
        srv.cmd("close")
        tr.wait_for(lambda t: has(t, "FIN_WAIT1", "CLOSING") and has(t, "FIN_WAIT1", "FIN_WAIT2"),
                    what="client CLOSING and server FIN_WAIT2")
        ns.nft(["delete", "table", "inet", "tt"])
        # the client's FIN is retransmitted on its RTO and now gets through
        tr.wait_for(lambda t: sum(1 for r in t if r["state"] == "TIME_WAIT") >= 2, timeout=30,
                    what="TIME_WAIT on both sides")
        srv.cmd("close_listener")
        tr.wait_for(lambda t: has(t, "LISTEN", "CLOSE"), what="LISTEN -> CLOSE")
        trs = tr.stop()
        g = classify(trs, port)
        check(not g["other"], "unexpected groups:\n%s" % "\n--\n".join(show(x) for x in g["other"]))
        expect_group("listener", one(g, "listener"), LISTENER, srv.pid, lport=port)
        expect_group("client", one(g, "client"),
                     S("CLOSE->SYN_SENT SYN_SENT->ESTABLISHED ESTABLISHED->FIN_WAIT1 "
                       "FIN_WAIT1->CLOSING CLOSING->TIME_WAIT"), cli.pid, lport=cport, rport=port)
        expect_group("server", one(g, "server"), SERVER_CLOSES, srv.pid, lport=port, rport=cport)


@test("10_fork_owner_handoff")
def t_fork():
    port = pick_port()
    with Netns() as ns:
        tr = ns.tracer("-P", str(port))
        srv, cli, cport = open_pair(ns, port)
        child = int(cli.cmd("fork_handoff").split()[2])
        check(child not in (cli.pid, srv.pid), "child pid %d is not new" % child)
        r = srv.cmd("recv_eof")
        check(r == "ok recv_eof 0", "server: %s" % r)
        srv.cmd("close")
        srv.cmd("close_listener")
        tr.wait_for(lambda t: has(t, "FIN_WAIT2", "TIME_WAIT") and has(t, "LISTEN", "CLOSE"),
                    what="the end of the connection")
        trs = tr.stop()
        g = classify(trs, port)
        c = one(g, "client")
        check([(r["old_state"], r["state"]) for r in c] == CLIENT_CLOSES,
              "client: expected %s\n  got:\n%s" % (CLIENT_CLOSES, show(c)))
        fw1 = c[2]
        check(fw1["pid"] == child, "ESTABLISHED -> FIN_WAIT1 carries pid %s, the child that closed "
              "the last copy is %d (parent %d):\n%s" % (fw1["pid"], child, cli.pid, show(c)))
        for r in c[:2]:
            check(r["pid"] == cli.pid, "before the fork the owner is the parent %d: %s"
                  % (cli.pid, fmt_rec(r)))
        # after the child's close the socket is orphaned: its last owner is the child
        for r in c[3:]:
            check(r["pid"] == child, "after the child's close the owner is the child %d: %s"
                  % (child, fmt_rec(r)))
        expect_group("server", one(g, "server"), PASSIVE_CLOSES, srv.pid, lport=port, rport=cport)


ATTR_TESTS = ("01_client_closes_first", "02_server_closes_first", "03_refused_connect",
              "04a_rst_abort_by_client", "04b_rst_abort_by_server",
              "05_ipv6_client_closes_first", "06_ipv4_mapped")


@test("11_attribution_over_1_to_6")
def t_attribution():
    """No event of scenarios 1-6 names a process that does not own its socket."""
    missing = [n for n in ATTR_TESTS if n not in ATTRIBUTION]
    check(not missing, "no records from %s (did they run?)" % ", ".join(missing))
    bad, total = [], 0
    for name in ATTR_TESTS:
        trs, port, pids = ATTRIBUTION[name]
        g = classify(trs, port)
        for side in ("listener", "client", "server", "other"):
            for recs in g[side]:
                for r in recs:
                    total += 1
                    if r["pid"] is None or r["pid"] != pids.get(side):
                        bad.append("%s [%s, owner %s]: %s" % (name, side, pids.get(side), fmt_rec(r)))
    check(total > 0, "no transitions recorded")
    check(not bad, "%d of %d events name a process that does not own the socket:\n%s"
          % (len(bad), total, "\n".join(bad)))
