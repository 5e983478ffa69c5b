# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""The socket's cgroup on every record, and the in-kernel --cgroup filter.

Real cgroup v2 groups are made under the cgroup2 mount (/sys/fs/cgroup on
a pure v2 host, /sys/fs/cgroup/unified on a hybrid one), named as Docker
(system.slice-like docker-<id>.scope) and Kubernetes with containerd
(kubepods.slice/.../cri-containerd-<id>.scope) name theirs; the peers are
moved into them (cgroup.procs) before they make their sockets. Every group
is removed at the end, its processes moved back to the harness's own
group first, whatever happened.
"""
import json
import os
import random
import subprocess
import tempfile
import time

from harness import (TCPTRAIL, Netns, TestFailure, Tracer, check, classify, fmt_rec, one,
                     pick_port, run, show, skip, test, transitions)
from test_everyday import mounts


def hex64():
    return "%064x" % random.getrandbits(256)


def v2_root():
    for mnt, typ, _ in mounts():
        if typ == "cgroup2":
            return mnt
    return None


def own_group(root):
    """This process's cgroup v2 directory (where moved processes go back)."""
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return os.path.join(root, line.rstrip("\n")[3:].lstrip("/"))
    return root


class Groups:
    """Test groups under the cgroup2 mount, removed by close()."""

    def __init__(self):
        self.root = v2_root()
        if not self.root:
            skip("no cgroup2 file system mounted: a cgroup v1-only host")
        self.top = "tt-%08x.slice" % random.getrandbits(32)
        self.made = []

    def make(self, rel):
        """Makes root/top/rel (and its parents); returns its path below the root."""
        path = self.root
        for part in [self.top] + rel.strip("/").split("/"):
            path = os.path.join(path, part)
            if not os.path.isdir(path):
                os.mkdir(path)
                self.made.append(path)
        return "/" + os.path.relpath(path, self.root)

    def dir(self, rel_to_root):
        return os.path.join(self.root, rel_to_root.lstrip("/"))

    def id(self, rel_to_root):
        return os.stat(self.dir(rel_to_root)).st_ino

    def add(self, rel_to_root, pid):
        with open(os.path.join(self.dir(rel_to_root), "cgroup.procs"), "w") as f:
            f.write(str(pid))
        with open("/proc/%d/cgroup" % pid) as f:
            now = [l[3:].strip() for l in f if l.startswith("0::")]
        check(now == [rel_to_root], "pid %d is in %s, not %s" % (pid, now, rel_to_root))

    def close(self):
        back = own_group(self.root)
        errors = []
        for path in reversed(self.made):
            try:
                with open(os.path.join(path, "cgroup.procs")) as f:
                    pids = f.read().split()
            except OSError:
                pids = []
            for pid in pids:
                try:
                    with open(os.path.join(back, "cgroup.procs"), "w") as f:
                        f.write(pid)
                except OSError:
                    pass   # it exited meanwhile
            for _ in range(100):
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    err = e
                    subprocess.run(["sleep", "0.05"])
            else:
                errors.append("%s: %s" % (path, err))
        if errors:
            raise TestFailure("cannot remove test cgroups: %s" % "; ".join(errors))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class NetOnly:
    """Runs a command in the namespace's network namespace only (nsenter
    --net): ip netns exec also remounts /sys, which hides the cgroup2 mount
    below it, and tcptrail then knows ids but no paths (see 40c)."""

    def __init__(self, ns):
        self.ns = ns

    def exec_argv(self, argv):
        return ["nsenter", "--net=/run/netns/" + self.ns.name] + list(argv)


def tracer(ns, *args, snapshot=False, capture=None):
    t = Tracer(NetOnly(ns), args, snapshot, 0, capture)
    ns.procs.append(t.proc)
    return t


def check_cgroup(label, recs, g, path, container):
    """Every record carries the group's path, id and container."""
    want_id = g.id(path)
    for r in recs:
        got = (r.get("cgroup"), r.get("cgroup_id"), r.get("container"))
        check(got == (path, want_id, container),
              "%s: cgroup/cgroup_id/container %s, want %s on %s"
              % (label, got, (path, want_id, container), fmt_rec(r)))


def docker_and_pod(g):
    """A Docker-like scope and a Kubernetes pod's containerd scope."""
    did, kid = hex64(), hex64()
    dk = g.make("system.slice/docker-%s.scope" % did)
    pod = "pod%08x_%04x_%04x" % (random.getrandbits(32), random.getrandbits(16), random.getrandbits(16))
    k8 = g.make("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-%s.slice/"
                "cri-containerd-%s.scope" % (pod, kid))
    return dk, did, k8, kid


SERVER = [("CLOSE", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"), ("ESTABLISHED", "CLOSE_WAIT"),
          ("CLOSE_WAIT", "LAST_ACK"), ("LAST_ACK", "CLOSE")]
CLIENT = [("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED"), ("ESTABLISHED", "FIN_WAIT1"),
          ("FIN_WAIT1", "FIN_WAIT2"), ("FIN_WAIT2", "TIME_WAIT")]


def has(trs, old, new):
    return any(r["old_state"] == old and r["state"] == new for r in trs)


def conversation(ns, srv, cli, port, done_pred_extra=None):
    """The client connects, both send, the client closes first."""
    cport = int(cli.cmd("connect 4 127.0.0.1 %d" % port).split()[2])
    srv.cmd("accept")
    cli.cmd("send 100")
    srv.cmd("recv 100")
    srv.cmd("send 50")
    cli.cmd("recv 50")
    cli.cmd("close")
    srv.cmd("recv_eof")
    srv.cmd("close")
    return cport


@test("40a_cgroup_docker_and_kubepods_on_every_record")
def t_cgroup_fields():
    port = pick_port()
    cap = tempfile.mktemp(prefix="tt-cg-", suffix=".jsonl")
    with Groups() as g:
        dk, did, k8, kid = docker_and_pod(g)
        with Netns() as ns:
            srv, cli = ns.peer("server"), ns.peer("client")
            g.add(dk, srv.pid)
            g.add(k8, cli.pid)
            srv.cmd("listen 4 127.0.0.1 %d" % port)
            tr = tracer(ns, "-P", str(port), snapshot=True, capture=cap)
            cport = conversation(ns, srv, cli, port)
            srv.cmd("close_listener")
            tr.wait_for(lambda t: has(t, "FIN_WAIT2", "TIME_WAIT") and has(t, "LAST_ACK", "CLOSE")
                        and has(t, "LISTEN", "CLOSE"), what="the end of the connection")
            trs = tr.stop()
        snap = [r for r in tr.records if r["type"] == "snapshot"]
        check(len(snap) == 1 and snap[0]["state"] == "LISTEN",
              "expected the listener's snapshot row, got %s" % snap)
        check_cgroup("snapshot", snap, g, dk, did)
        grp = classify(trs, port)
        lst, s, c = one(grp, "listener"), one(grp, "server"), one(grp, "client")
        check([(r["old_state"], r["state"]) for r in s] == SERVER, "server:\n%s" % show(s))
        check([(r["old_state"], r["state"]) for r in c] == CLIENT, "client:\n%s" % show(c))
        check_cgroup("listener", lst, g, dk, did)
        check_cgroup("server", s, g, dk, did)
        check_cgroup("client", c, g, k8, kid)
        # softirq: the server's changes that ran on another task's time
        # (the client's, on loopback) still carry the server's group
        foreign = [r for r in s if r["ctx_pid"] != srv.pid]
        check(foreign, "no server transition ran outside the server's context:\n%s" % show(s))
        # replay: --cgroup selects by path; -C shows the container's short id
        r = run([TCPTRAIL, "-r", cap, "--json", "--cgroup", k8])
        rep = [json.loads(l) for l in r.stdout.splitlines()]
        rt = transitions(rep)
        check([x["seq"] for x in rt] == [x["seq"] for x in c],
              "replay --cgroup %s: expected the client's %d records, got:\n%s" % (k8, len(c), show(rt)))
        check(not [x for x in rep if x["type"] == "snapshot"], "replay kept a row of another group")
        parent = os.path.dirname(os.path.dirname(dk))   # the test's own top slice
        r = run([TCPTRAIL, "-r", cap, "--json", "--cgroup", parent])
        check(len(transitions([json.loads(l) for l in r.stdout.splitlines()])) == len(trs),
              "replay --cgroup %s (both groups below it) lost records" % parent)
        r = run([TCPTRAIL, "-r", cap, "-C", "--cgroup", dk])
        lines = [l for l in r.stdout.splitlines() if " -> " in l]
        check(len(lines) == len(lst) + len(s) and all(" %s " % did[:12] in l for l in lines),
              "replay -C: every line should show %s:\n%s" % (did[:12], r.stdout))
        os.unlink(cap)


def run_filtered(ns, args, setup, traffic):
    """Runs setup, then an unfiltered and a filtered tracer, then traffic."""
    setup()
    full = tracer(ns, snapshot=True)
    filt = tracer(ns, *args, snapshot=True)
    traffic()
    pred = lambda t: sum(1 for r in t if r["old_state"] == "LISTEN" and r["state"] == "CLOSE") == 2
    full.wait_for(pred, what="both listeners closed")
    return full, filt


@test("40b_cgroup_filter_selects_the_subtree_in_the_kernel")
def t_cgroup_filter():
    pa, pb = pick_port(), pick_port()
    with Groups() as g:
        dk, did, k8, kid = docker_and_pod(g)
        sub = g.make("system.slice/docker-%s.scope/sub" % did)
        other = g.make("other.slice")
        with Netns() as ns:
            a, b, c, d = ns.peer("a"), ns.peer("b"), ns.peer("c"), ns.peer("d")
            g.add(dk, a.pid)      # listener A, and the server side of A's connections
            g.add(other, b.pid)   # listener B, and a client of A
            g.add(sub, c.pid)     # a client of B, below the selected group
            g.add(k8, d.pid)      # a client of A in another container

            def setup():
                a.cmd("listen 4 127.0.0.1 %d" % pa)
                b.cmd("listen 4 127.0.0.1 %d" % pb)
                b.cmd("connect 4 127.0.0.1 %d" % pa)   # before the start: snapshot rows
                a.cmd("accept")

            def traffic():
                c.cmd("connect 4 127.0.0.1 %d" % pb)
                b.cmd("accept")
                d.cmd("connect 4 127.0.0.1 %d" % pa)
                a.cmd("accept")
                for p in (c, d):
                    p.cmd("send 10")
                    p.cmd("close")
                b.cmd("recv_eof")
                b.cmd("close")
                a.cmd("recv_eof")
                a.cmd("close")
                a.cmd("close_listener")
                b.cmd("close_listener")

            full, filt = run_filtered(ns, ["--cgroup", dk], setup, traffic)
            subtree = lambda r: r.get("cgroup") in (dk, sub)
            n = lambda t, o, s: sum(1 for r in t if (r["old_state"], r["state"]) == (o, s))
            full.wait_for(lambda t: n(t, "FIN_WAIT2", "TIME_WAIT") == 2 and
                          n(t, "LAST_ACK", "CLOSE") == 2, what="the connections' ends")
            want = [r for r in transitions(full.seen()) if subtree(r)]
            filt.wait_for(lambda t: len(t) >= len(want), what="the filtered tracer's %d records"
                          % len(want))
            ftr = filt.stop()
            tr = full.stop()
        want = [r for r in tr if subtree(r)]
        others = [r for r in tr if not subtree(r)]
        check(others, "the unfiltered run shows no socket of another group:\n%s" % show(tr))
        check(all(r.get("cgroup") for r in tr), "a record without its cgroup:\n%s" % show(tr))
        # not "sock": each tracer numbers request sockets on its own
        key = lambda r: (r["laddr"], r["lport"], r["raddr"], r["rport"], r["old_state"], r["state"])
        check(sorted(map(key, ftr)) == sorted(map(key, want)),
              "--cgroup %s: expected exactly\n%s\ngot\n%s" % (dk, show(want), show(ftr)))
        # the client of B below the selected group is in; B's side is out
        check(any(r["cgroup"] == sub for r in ftr), "no record of the sub-group %s" % sub)
        # the kernel dropped the others: no seq was taken for them
        summ = filt.records[-1]
        check(summ["seen"] == len(ftr) and [r["seq"] for r in ftr] == list(range(len(ftr))),
              "the filtered run's ring carried %d events for %d records (seqs %s): the filter "
              "did not run in the kernel" % (summ["seen"], len(ftr), [r["seq"] for r in ftr]))
        check(summ["filtered"] >= len(others), "summary filtered %d < %d records of other groups"
              % (summ["filtered"], len(others)))
        snap_f = [r for r in filt.records if r["type"] == "snapshot"]
        snap_all = [r for r in full.records if r["type"] == "snapshot"]
        check(sorted((r["lport"], r["rport"]) for r in snap_f) ==
              sorted((r["lport"], r["rport"]) for r in snap_all if r.get("cgroup") == dk),
              "snapshot under --cgroup: %s\nall rows: %s" % (snap_f, snap_all))
        check(len(snap_f) == 2, "expected listener A and A's accepted socket, got %s" % snap_f)


@test("40c_cgroup_socket_keeps_its_group_after_the_process_moves")
def t_cgroup_move():
    port = pick_port()
    with Groups() as g:
        dk, did, k8, kid = docker_and_pod(g)
        moved = g.make("moved.slice/after.service")
        with Netns() as ns:
            srv, cli = ns.peer("server"), ns.peer("client")
            g.add(dk, srv.pid)
            g.add(k8, cli.pid)
            tr = tracer(ns, "-P", str(port))
            # under ip netns exec the cgroup2 mount is hidden: ids only
            hid = ns.tracer("-P", str(port), "-C")
            srv.cmd("listen 4 127.0.0.1 %d" % port)
            cli.cmd("connect 4 127.0.0.1 %d" % port)
            # both processes move before anything else happens: the
            # listener, its accepted socket and the client's socket were
            # made in the old groups and stay there
            g.add(moved, srv.pid)
            g.add(moved, cli.pid)
            srv.cmd("accept")
            cli.cmd("close")
            srv.cmd("recv_eof")
            srv.cmd("close")
            srv.cmd("close_listener")
            for t in (tr, hid):
                t.wait_for(lambda t: has(t, "FIN_WAIT2", "TIME_WAIT") and has(t, "LISTEN", "CLOSE"),
                           what="the end of the connection")
            trs = tr.stop()
            htrs = hid.stop()
        check(any("not mounted in this mount namespace" in l for l in hid.proc.err_lines),
              "no note under ip netns exec with -C: %s" % hid.proc.err_lines)
        check(hid.meta.get("cgroup_v2") == "not_visible" and tr.meta.get("cgroup_v2") == "mounted",
              "meta cgroup_v2: %s under ip netns exec, %s under nsenter --net"
              % (hid.meta.get("cgroup_v2"), tr.meta.get("cgroup_v2")))
        check(not any("cgroup" in l for l in tr.proc.err_lines), "a note where paths are found: %s"
              % tr.proc.err_lines)
        want_ids = {r["sock"]: r["cgroup_id"] for r in trs}
        check(len(htrs) == len(trs) and all(r["cgroup_id"] == want_ids.get(r["sock"]) and
                                            r["cgroup"] is None and r["container"] is None
                                            for r in htrs),
              "under ip netns exec: expected the same ids without paths:\n%s"
              % "\n".join(str((r["sock"], r["cgroup_id"], r["cgroup"])) for r in htrs))
        grp = classify(trs, port)
        check_cgroup("listener", one(grp, "listener"), g, dk, did)
        check_cgroup("server", one(grp, "server"), g, dk, did)
        check_cgroup("client", one(grp, "client"), g, k8, kid)
        # the moved processes did act after the move, in their new group
        # (owner, not context: a close can complete in a tracer whose
        # iterator held the file at that instant)
        after = [r for r in trs if r["pid"] in (srv.pid, cli.pid) and
                 (r["old_state"], r["state"]) in (("ESTABLISHED", "FIN_WAIT1"), ("LISTEN", "CLOSE"))]
        check(len(after) == 2, "expected the moved processes' close transitions:\n%s" % show(trs))


@test("40d_cgroup_stats_by_cgroup")
def t_cgroup_stats():
    port = pick_port()
    with Groups() as g:
        dk, did, k8, kid = docker_and_pod(g)
        with Netns() as ns:
            srv, cli = ns.peer("server"), ns.peer("client")
            g.add(dk, srv.pid)
            g.add(k8, cli.pid)
            srv.cmd("listen 4 127.0.0.1 %d" % port)
            tr = tracer(ns, "-s0.2", "--stats-by", "cgroup", "-P", str(port))
            for _ in range(3):
                cli.cmd("connect 4 127.0.0.1 %d" % port)
                srv.cmd("accept")
            want = {did: 3, kid: 3}
            deadline = time.monotonic() + 10
            top = None
            while time.monotonic() < deadline:
                st = [r for r in tr.seen() if r["type"] == "stats"]
                if st and {e.get("group"): e["established"] for e in st[-1]["top"]} == want:
                    top = st[-1]["top"]
                    break
                time.sleep(0.1)
            tr.stop()
        check(top is not None, "stats top by cgroup never became %s; last: %s"
              % (want, [r for r in tr.records if r["type"] == "stats"][-1:]))
        check(all(set(e) == {"group", "established"} for e in top), "top entries: %s" % top)
        fin = [r for r in tr.records if r["type"] == "stats_final"]
        check(len(fin) == 1 and {e.get("group") for e in fin[0]["by_process"]} >= {did, kid},
              "stats_final by cgroup: %s" % fin)


@test("40e_cgroup_v1_only_host_fields_null")
def t_cgroup_v1_only():
    """A host where cgroup2 was never mounted: the ids mean nothing there,
    so every record has the three fields null, the meta record says
    not_in_use, and -C adds one note on stderr. The kernel tells it by the
    "0::" line of /proc/PID/cgroup, which appears for good at the first
    cgroup2 mount; the project's VMs all mount it (TT_VM_CGROUP=v1 is the
    hybrid layout, cgroup2 at /sys/fs/cgroup/unified), so this runs only on
    such a host; tests/unit/test_cgroup.c checks the decision itself."""
    with open("/proc/self/cgroup") as f:
        if any(l.startswith("0::") for l in f):
            skip("cgroup v2 is in use on this host (40a-40d test it); this test needs a host "
                 "where cgroup2 was never mounted")
    port = pick_port()
    with Netns() as ns:
        srv, cli = ns.peer("server"), ns.peer("client")
        tr = ns.tracer("-P", str(port), "-C", snapshot=True)
        srv.cmd("listen 4 127.0.0.1 %d" % port)
        conversation(ns, srv, cli, port)
        tr.wait_for(lambda t: has(t, "LAST_ACK", "CLOSE"), what="the server's close")
        trs = tr.stop()
    check(len(trs) >= 8, "too few transitions:\n%s" % show(trs))
    bad = [r for r in trs if (r.get("cgroup_id"), r.get("cgroup"), r.get("container"),
                              "cgroup_id" in r) != (None, None, None, True)]
    check(not bad, "records with cgroup fields on a cgroup v1-only host:\n%s"
          % "\n".join(json.dumps(r) for r in bad[:3]))
    check(tr.meta.get("cgroup_v2") == "not_in_use", "meta cgroup_v2 %s" % tr.meta.get("cgroup_v2"))
    notes = [l for l in tr.proc.err_lines if "cgroup v2 is not in use" in l]
    check(len(notes) == 1, "expected one note on stderr, got %s" % tr.proc.err_lines)
    r = run([TCPTRAIL, "--cgroup", "/", "-d", "0.1"], check_rc=False)
    check(r.returncode == 1 and "cgroup v1 only" in r.stderr,
          "--cgroup on a v1-only host: exit %d: %s" % (r.returncode, r.stderr))
