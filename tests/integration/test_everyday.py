# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Everyday-use features: buffer pressure events, --queue-threshold,
-l/--listening, and the terminal niceties (-w widths, --color, NO_COLOR).

Everything runs in a private network namespace; the only thing outside it
is a memory cgroup made for test 30 (one child cgroup holding only the
sender process we start, removed in finally) and a tmux server on its own
socket for test 32 (killed in finally).
"""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import time

from harness import (PYTHON, TCPTRAIL, Netns, Proc, TestFailure, check, fmt_rec, pick_port,
                     run, show, test)

# A sender driven on stdin. "flood" makes one connection (SO_SNDBUF set
# before connect, so the kernel locks it and never shrinks it: that is what
# makes __sk_mem_raise_allocated() reach the tracepoint instead of returning
# early) and writes non-blocking for SECS seconds.
SENDER = r'''
import os, socket, sys, time
print("pid %d" % os.getpid(), flush=True)
s = None
for line in sys.stdin:
    w = line.split()
    if not w:
        continue
    try:
        if w[0] == "flood":
            addr, port, secs, sndbuf = w[1], int(w[2]), float(w[3]), int(w[4])
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if sndbuf:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
            s.connect((addr, port))
            s.setblocking(False)
            buf = b"x" * 65536
            sent = eagain = 0
            end = time.monotonic() + secs
            while time.monotonic() < end:
                try:
                    sent += s.send(buf)
                except BlockingIOError:
                    eagain += 1
                    time.sleep(0.002)
            print("ok flood %d %d %d %d" % (s.getsockname()[1], sent, eagain,
                  s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)), flush=True)
        elif w[0] == "close":
            s.close()
            print("ok close", flush=True)
        elif w[0] == "quit":
            print("ok quit", flush=True)
            break
        else:
            print("err unknown " + w[0], flush=True)
    except Exception as e:
        print("err %s %s: %s" % (w[0], type(e).__name__, e), flush=True)
'''


class Sender:
    def __init__(self, ns):
        self.proc = Proc(ns.exec_argv([PYTHON, "-c", SENDER]), stdin=True)
        ns.procs.append(self.proc)
        first = self.proc.next_line(20)
        check(first.startswith("pid "), "sender: unexpected first line %r" % first)
        self.pid = int(first.split()[1])
        check(self.pid == self.proc.pid, "sender: pid %d is not the process we started (%d)"
              % (self.pid, self.proc.pid))

    def cmd(self, line, timeout=20):
        self.proc.p.stdin.write(line + "\n")
        self.proc.p.stdin.flush()
        reply = self.proc.next_line(timeout)
        check(reply.startswith("ok"), "sender: %r -> %r" % (line, reply))
        return reply

    def flood(self, port, secs, sndbuf):
        w = self.cmd("flood 127.0.0.1 %d %s %d" % (port, secs, sndbuf), timeout=secs + 20).split()
        return {"lport": int(w[2]), "sent": int(w[3]), "eagain": int(w[4]), "sndbuf": int(w[5])}


def wait_records(tr, pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred(tr.seen()):
            return
        time.sleep(0.02)
    raise TestFailure("timeout (%gs) waiting for %s; got:\n%s"
                      % (timeout, what, "\n".join("    " + json.dumps(r) for r in tr.seen())))


# ---- 30: buffer pressure through a memory cgroup ----------------------------

class MemCgroup:
    """A child memory cgroup limiting socket memory, for one process.

    cgroup v2 (memory in the unified hierarchy): memory.max, which socket
    buffers are charged against. cgroup v1 (memory bound to a v1 hierarchy,
    as on hosts that mount the legacy layout): socket memory is charged only
    once memory.kmem.tcp.limit_in_bytes is written, and only for sockets
    created after that by a task of the group. On v1 the child is made under
    our own memory cgroup so the sender stays within the limits it already
    had. Nothing else on the host is changed.
    """

    def __init__(self, limit):
        self.path = None
        name = "tt-test-%08x" % random.getrandbits(32)
        v2root = None
        for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
            try:
                with open(os.path.join(root, "cgroup.controllers")) as f:
                    if "memory" in f.read().split():
                        v2root = root
                        break
            except OSError:
                pass
        if v2root:
            with open(os.path.join(v2root, "cgroup.subtree_control")) as f:
                sub = f.read().split()
            # enabling a controller at the root would change every cgroup
            # on the host: use it only if it is already enabled
            check("memory" in sub, "cgroup v2 has the memory controller but %s/cgroup.subtree_control "
                  "does not enable it (%r); not changing the host's root cgroup" % (v2root, sub))
            self.kind = "v2"
            self.path = os.path.join(v2root, name)
            os.mkdir(self.path)
            self._write("memory.max", str(limit))
            self._write("memory.swap.max", "0", optional=True)
            return
        own = None
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                if "memory" in ctrls.split(","):
                    own = path
        check(own is not None and os.path.isdir("/sys/fs/cgroup/memory"),
              "no memory cgroup controller on this host (neither v2 nor v1): "
              "cannot limit one process's socket memory")
        parent = os.path.normpath("/sys/fs/cgroup/memory/" + own.lstrip("/"))
        self.kind = "v1"
        self.path = os.path.join(parent, name)
        os.mkdir(self.path)
        self._write("memory.kmem.tcp.limit_in_bytes", str(limit))

    def _write(self, f, v, optional=False):
        try:
            with open(os.path.join(self.path, f), "w") as fh:
                fh.write(v)
        except OSError as e:
            if not optional:
                raise TestFailure("cannot write %s to %s/%s: %s" % (v, self.path, f, e))

    def read(self, f):
        try:
            with open(os.path.join(self.path, f)) as fh:
                return fh.read().strip()
        except OSError as e:
            return "(%s)" % e

    def add(self, pid):
        self._write("cgroup.procs", str(pid))
        with open(os.path.join(self.path, "cgroup.procs")) as f:
            procs = [int(x) for x in f.read().split()]
        check(procs == [pid], "cgroup %s holds %s, expected only %d" % (self.path, procs, pid))

    def remove(self):
        if not self.path:
            return
        # the sender was killed by the caller; its exit may take a moment
        for _ in range(100):
            try:
                os.rmdir(self.path)
                self.path = None
                return
            except OSError:
                time.sleep(0.05)
        raise TestFailure("cannot remove cgroup %s (procs: %s)" % (self.path, self.read("cgroup.procs")))


@test("30_sndbuf_full_memcg_limit")
def t_sndbuf_full():
    port = pick_port()
    limit = 1 << 20
    cg = None
    with Netns() as ns:
        try:
            rcv = ns.peer("receiver")
            rcv.cmd("listen 4 127.0.0.1 %d" % port)
            snd = Sender(ns)
            cg = MemCgroup(limit)
            cg.add(snd.pid)
            tr = ns.tracer("-P", str(port))
            # 4 MiB asked, the kernel doubles it (capped by wmem_max): the
            # socket may hold far more than the cgroup lets it charge
            res = snd.flood(port, 3, 4 << 20)
            rcv.cmd("accept")
            lport = res["lport"]
            mine = lambda recs: [r for r in recs if r.get("type") == "sndbuf_full"
                                 and r["lport"] == lport and r["rport"] == port]
            try:
                wait_records(tr, lambda recs: mine(recs), 5, "a sndbuf_full record")
            except TestFailure as e:
                raise TestFailure("%s\nsender: %s; cgroup %s (%s): %s" % (
                    e, res, cg.path, cg.kind,
                    "tcp usage %s, max usage %s, failcnt %s" % (
                        cg.read("memory.kmem.tcp.usage_in_bytes"),
                        cg.read("memory.kmem.tcp.max_usage_in_bytes"),
                        cg.read("memory.kmem.tcp.failcnt")) if cg.kind == "v1" else
                    "memory.current %s, memory.events %s" % (
                        cg.read("memory.current"), cg.read("memory.events"))))
            tr.stop()
            full = mine(tr.records)
            bad = [r for r in full if r["pid"] != snd.pid or r["state"] != "ESTABLISHED"
                   or r["laddr"] != "127.0.0.1" or "size" not in r]
            check(not bad, "sndbuf_full records not owned by the sender %d (or not ESTABLISHED, "
                  "or without size):\n%s" % (snd.pid, "\n".join(json.dumps(r) for r in bad)))
            # every record sits on the sender's one connection: one sock id
            socks = {r["sock"] for r in full}
            check(len(socks) == 1, "sndbuf_full on several sock ids: %s" % socks)
            others = [r for r in tr.records if r.get("type") in ("sndbuf_full", "rcvq_full")
                      and r["lport"] != lport]
            check(not others, "pressure records on other sockets:\n%s"
                  % "\n".join(json.dumps(r) for r in others))
        finally:
            ns.close()   # kills the sender before the cgroup goes
            if cg:
                cg.remove()


@test("30c_receive_memory_refusal_is_not_sndbuf_full")
def t_rmem_refusal():
    """The receiver's socket is limited by its cgroup while a sender outside
    it floods: the kernel refuses receive memory (sock_exceed_buf_limit with
    kind SK_MEM_RECV). A socket that never sent a byte must not be reported
    as sndbuf_full."""
    port = pick_port()
    cg = None
    with Netns() as ns:
        try:
            rcv = ns.peer("receiver")
            cg = MemCgroup(32 << 10)
            cg.add(rcv.pid)
            # the accepted socket is charged to the memcg of the process
            # that accepts it, so the receiver accepts before the flood
            rcv.cmd("listen 4 127.0.0.1 %d" % port)
            snd = Sender(ns)
            tr = ns.tracer("-P", str(port))
            snd.proc.p.stdin.write("flood 127.0.0.1 %d 2 0\n" % port)
            snd.proc.p.stdin.flush()
            rport = int(rcv.cmd("accept").split()[2])
            r = snd.proc.next_line(30)
            check(r.startswith("ok flood"), "sender: %r" % r)
            time.sleep(0.3)
            tr.stop()
            # whatever the record type chosen for a receive-side refusal,
            # it is a per-socket record that is not one of these
            on_rcv = [x for x in tr.records if x.get("type") not in
                      ("meta", "snapshot", "transition", "lost", "summary")
                      and x.get("lport") == port and x.get("rport") == rport]
            check(on_rcv, "no pressure record at all on the receiver's socket %d -> %d while its "
                  "cgroup (%s, tcp limit 32 KiB) held its receive memory:\n%s"
                  % (port, rport, cg.kind, "\n".join(json.dumps(x) for x in tr.records)))
            wrong = [x for x in on_rcv if x["type"] == "sndbuf_full"]
            check(not wrong, "%d sndbuf_full records on the receiver's socket, which never sent "
                  "a byte (receive memory refused by its cgroup); first:\n%s"
                  % (len(wrong), "\n".join(json.dumps(x) for x in wrong[:3])))
        finally:
            ns.close()
            if cg:
                cg.remove()


@test("30b_queue_threshold")
def t_queue_threshold():
    port = pick_port()
    with Netns() as ns:
        rcv, srv, cli = ns.peer("receiver"), ns.peer("server"), ns.peer("client")
        rcv.cmd("listen 4 127.0.0.1 %d" % port)
        snd = Sender(ns)
        ctl = ns.tracer("-P", str(port))
        thr = ns.tracer("-P", str(port), "--queue-threshold", "1000")
        # a normal connection: small exchange, both sides close
        cport = int(cli.cmd("connect 4 127.0.0.1 %d" % port).split()[2])
        rcv.cmd("accept")
        cli.cmd("send 100")
        rcv.cmd("recv 100")
        cli.cmd("close")
        check(rcv.cmd("recv_eof") == "ok recv_eof 0", "receiver: data before EOF")
        rcv.cmd("close")
        # a receiver that never reads: the sender's queue fills, then it closes
        res = snd.flood(port, 1, 0)
        rcv.cmd("accept")
        snd.cmd("close")
        slport = res["lport"]
        fw1 = lambda t: [r for r in t if r["lport"] == slport and
                         (r["old_state"], r["state"]) == ("ESTABLISHED", "FIN_WAIT1")]
        for tr in (ctl, thr):
            tr.wait_for(lambda t: fw1(t), what="the sender's ESTABLISHED -> FIN_WAIT1")
        ctl.wait_for(lambda t: any(r["lport"] == cport and r["state"] == "TIME_WAIT" for r in t),
                     what="the normal client's TIME_WAIT")
        all_tr = ctl.stop()
        got = thr.stop()
        f = fw1(got)[0]
        check(f["send_q"] > 1000, "ESTABLISHED -> FIN_WAIT1 with Send-Q %d (sent %d, receiver "
              "never read): %s" % (f["send_q"], res["sent"], fmt_rec(f)))
        small = [r for r in got if r["recv_q"] <= 1000 and r["send_q"] <= 1000]
        check(not small, "--queue-threshold 1000 shows transitions with both queues <= 1000:\n%s"
              % show(small))
        normal_all = [r for r in all_tr if cport in (r["lport"], r["rport"])]
        check(len(normal_all) >= 5, "the control tracer misses the normal connection:\n%s"
              % show(all_tr))
        normal = [r for r in got if cport in (r["lport"], r["rport"])]
        check(not normal, "--queue-threshold 1000 shows the normal connection:\n%s" % show(normal))
        key = lambda r: (r["sock"], r["old_state"], r["state"], r["recv_q"], r["send_q"])
        want = sorted(key(r) for r in all_tr if r["recv_q"] > 1000 or r["send_q"] > 1000)
        check(sorted(key(r) for r in got) == want,
              "--queue-threshold 1000 shows other transitions than the control's with a queue "
              "> 1000:\n  threshold:\n%s\n  control:\n%s" % (show(got), show(all_tr)))
        snd_full = [r for r in thr.records if r.get("type") in ("sndbuf_full", "rcvq_full")
                    and r["recv_q"] <= 1000 and r["send_q"] <= 1000]
        check(not snd_full, "pressure events with small queues under --queue-threshold:\n%s"
              % "\n".join(json.dumps(r) for r in snd_full))


# ---- 31: -l/--listening -----------------------------------------------------

def text_tracer(ns, args):
    return Proc(ns.exec_argv([TCPTRAIL] + args))


def wait_line(p, pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(pred(l) for l in list(p.lines)):
            return
        if p.p.poll() is not None:
            break
        time.sleep(0.02)
    raise TestFailure("timeout (%gs) waiting for %s; output:\n%s\nstderr:\n%s"
                      % (timeout, what, "\n".join(p.lines), "\n".join(p.err_lines)))


def stop_text(p):
    os.kill(p.pid, signal.SIGINT)
    rc = p.wait(20)
    check(rc == 0, "tcptrail exited %d; stderr: %s" % (rc, "\n".join(p.err_lines)))
    return list(p.lines)


def port_rows(text_lines, port):
    k = ":%d " % port
    return [l for l in text_lines if k in l + " "]


@test("31_listening_only")
def t_listening():
    port = pick_port()
    with Netns() as ns:
        old, new, cli = ns.peer("old_listener"), ns.peer("new_listener"), ns.peer("client")
        old.cmd("listen 4 127.0.0.1 %d" % port)
        # an established pair and a pre-existing client socket on the port:
        # netstat -l leaves them out and so must the snapshot
        cli.cmd("connect 4 127.0.0.1 %d" % port)
        old.cmd("accept")
        ref = ns.sh(["netstat", "-lntp"]).stdout.splitlines()
        want = port_rows(ref, port)
        check(len(want) == 1 and "LISTEN" in want[0], "netstat -lntp does not show the listener:\n%s"
              % "\n".join(ref))
        tr = text_tracer(ns, ["-l", "-P", str(port)])
        ns.procs.append(tr)
        wait_line(tr, lambda l: ":%d " % port in l, 15, "the snapshot row")
        snap = list(tr.lines)
        check(snap[:2] == ref[:2], "snapshot header differs from netstat -lntp's:\n  %r\n  %r"
              % (snap[:2], ref[:2]))
        check("(only servers)" in snap[0], "header: %r" % snap[0])
        check(port_rows(snap, port) == want, "snapshot rows differ from netstat -lntp's:\n"
              "  tcptrail:\n    %s\n  netstat:\n    %s"
              % ("\n    ".join(port_rows(snap, port)), "\n    ".join(want)))
        # a listener started now, a full connection to it, then its close
        new.cmd("listen 4 127.0.0.2 %d" % port)
        cport = int(cli.cmd("connect 4 127.0.0.2 %d" % port).split()[2])
        new.cmd("accept")
        cli.cmd("send 10")
        new.cmd("recv 10")
        cli.cmd("close")
        check(new.cmd("recv_eof") == "ok recv_eof 0", "new_listener: data before EOF")
        new.cmd("close")
        new.cmd("close_listener")
        wait_line(tr, lambda l: "LISTEN -> CLOSE" in l, 15, "LISTEN -> CLOSE")
        # the client's TIME_WAIT is the last non-listener event: wait for it
        # in the kernel so that a wrongly shown one would be printed by now
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            out = ns.sh(["netstat", "-ant"]).stdout
            if re.search(r"127\.0\.0\.2:%d\s.*TIME_WAIT|:%d\s+127\.0\.0\.2:%d\s+TIME_WAIT"
                         % (port, cport, port), out):
                break
            time.sleep(0.05)
        time.sleep(0.3)
        lines = stop_text(tr)
        live = [l for l in lines[len(snap):] if " -> " in l]
        check(len(live) == 2, "expected exactly CLOSE -> LISTEN and LISTEN -> CLOSE, got:\n%s"
              % "\n".join(lines[len(snap):]))
        for l, trans in zip(live, ("CLOSE -> LISTEN", "LISTEN -> CLOSE")):
            f = l.split()
            check(f[0] == "tcp" and f[3] == "127.0.0.2:%d" % port and f[4] == "0.0.0.0:*"
                  and " ".join(f[5:8]) == trans and f[8] == "%d/python3" % new.pid,
                  "expected tcp 127.0.0.2:%d 0.0.0.0:* %s %d/python3, got:\n%s"
                  % (port, trans, new.pid, l))


# ---- 32: terminal niceties ---------------------------------------------------

ESC = re.compile(r"\x1b\[[0-9;]*m")
STATES = ("ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
          "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "CLOSE")


def make_traffic(ns, port):
    srv, cli = ns.peer("server"), ns.peer("client")
    srv.cmd("listen 4 127.0.0.1 %d" % port)
    cli.cmd("connect 4 127.0.0.1 %d" % port)
    srv.cmd("accept")
    cli.cmd("close")
    srv.cmd("recv_eof")
    srv.cmd("close")
    srv.cmd("close_listener")
    return srv, cli


class Tmux:
    """A tmux server of our own (-L), so no user's sessions are touched."""

    def __init__(self):
        exe = shutil.which("tmux")
        if not exe:
            r = subprocess.run(["apt-get", "install", "-y", "tmux"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=300)
            exe = shutil.which("tmux")
            check(exe, "TMUX IS NOT AVAILABLE and apt-get install -y tmux failed; the terminal "
                  "part of test 32 cannot run:\n%s" % r.stdout[-2000:])
        self.sock = "tt-%08x" % random.getrandbits(32)
        self.started = False
        self.exe = exe

    def t(self, *args, check_rc=True):
        return run([self.exe, "-L", self.sock] + list(args), check_rc=check_rc)

    def window(self, name, argv, env=None):
        env = dict(env or {})
        shell = " ".join("'%s'" % a for a in argv)
        # the tmux server inherits our environment: NO_COLOR only where asked
        shell = "env -u NO_COLOR " + " ".join("%s=%s" % kv for kv in env.items()) + " " + shell
        if not self.started:
            self.t("-f", "/dev/null", "new-session", "-d", "-s", "tt", "-n", name,
                   "-x", "200", "-y", "50", shell + "; sleep 600")
            self.t("set-option", "-g", "remain-on-exit", "on")
            self.started = True
        else:
            self.t("new-window", "-d", "-t", "tt", "-n", name, shell + "; sleep 600")
        return "tt:" + name

    def capture(self, target, escapes=False):
        return self.t("capture-pane", "-p", "-J", "-t", target, *(["-e"] if escapes else [])).stdout

    def pane_pid(self, target):
        return int(self.t("display-message", "-p", "-t", target, "#{pane_pid}").stdout.strip())

    def kill(self):
        if self.started:
            self.t("kill-server", check_rc=False)


def wait_pane(tm, target, pred, timeout, what):
    deadline = time.monotonic() + timeout
    out = ""
    while time.monotonic() < deadline:
        out = tm.capture(target)
        if pred(out):
            return
        time.sleep(0.05)
    raise TestFailure("timeout (%gs) waiting for %s in tmux pane %s:\n%s" % (timeout, what, target, out))


@test("32_terminal_width_and_color")
def t_terminal():
    port = pick_port()
    base_env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    with Netns() as ns:
        tm = Tmux()
        try:
            argv = ["ip", "netns", "exec", ns.name, TCPTRAIL, "--no-snapshot", "-P", str(port)]
            wide = tm.window("wide", argv + ["-w", "--color=never"])
            auto = tm.window("auto", argv + ["--color=auto"])
            nocol = tm.window("nocolor", argv + ["--color=auto"], env={"NO_COLOR": "1"})
            width = int(tm.t("display-message", "-p", "-t", wide, "#{pane_width}").stdout)
            check(width == 200, "tmux pane is %d columns, asked 200" % width)
            pipe_auto = subprocess.Popen(ns.exec_argv([TCPTRAIL, "--no-snapshot", "-P", str(port),
                                                       "--color=auto"]), stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, env=base_env)
            pipe_always = subprocess.Popen(ns.exec_argv([TCPTRAIL, "--no-snapshot", "-P", str(port),
                                                         "--color=always"]),
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           env=base_env)
            pipes = (pipe_auto, pipe_always)
            for t in (wide, auto, nocol):
                wait_pane(tm, t, lambda o: "Foreign Address" in o, 20, "the live header")
            # the pipes get the same header: wait until both are attached
            hdr = {}
            for p in pipes:
                hdr[p] = p.stdout.readline().decode()
                check("Foreign Address" in hdr[p], "no live header on the pipe: %r" % hdr[p])
            srv, cli = make_traffic(ns, port)
            for t in (wide, auto, nocol):
                wait_pane(tm, t, lambda o: o.count(" -> ") >= 9 and "LISTEN -> CLOSE" in o
                          .replace("\x1b", ""), 20, "the connection's transitions")
            outs = {}
            for p in pipes:
                time.sleep(0.2)
                os.kill(p.pid, signal.SIGINT)
                o, e = p.communicate(timeout=20)
                check(p.returncode == 0, "tcptrail exited %d: %s" % (p.returncode, e))
                outs[p] = hdr[p] + o.decode()

            errs = []
            # -w: the address columns are (200 - 82) / 2 = 59, capped to 47
            aw = min(47, max(23, (200 - 82) // 2))
            lines = tm.capture(wide).splitlines()
            head = [l for l in lines if "Foreign Address" in l][0]
            if head.index("Foreign Address") != 20 + aw + 1:
                errs.append("-w in 200 columns: Foreign Address at column %d, expected %d "
                            "(address width %d):\n%s" % (head.index("Foreign Address"),
                                                         20 + aw + 1, aw, head))
            addr = re.compile(r"^(127\.0\.0\.1|0\.0\.0\.0):(\d+|\*)$")
            checked = 0
            for l in lines:
                if " -> " not in l or l.startswith("Proto"):
                    continue
                checked += 1
                # each address is one token at the start of its aw-wide field
                la, fa = l[20:20 + aw], l[20 + aw + 1:20 + 2 * aw + 1]
                if not (l[19] == " " and l[20 + aw] == " " and l[20 + 2 * aw + 1] == " "
                        and addr.match(la.rstrip()) and addr.match(fa.rstrip())
                        and " " not in la.rstrip() and " " not in fa.rstrip()):
                    errs.append("-w line not in %d-column address fields:\n%s" % (aw, l))
                # the owner column follows the transition column
                rest = l[20 + 2 * aw + 2 + 25 + 1:].split()
                if not rest or rest[0] not in ("%d/python3" % srv.pid, "%d/python3" % cli.pid):
                    errs.append("-w line: owner %r is not server %d or client %d:\n%s"
                                % (rest[:1], srv.pid, cli.pid, l))
            if checked < 9:
                errs.append("-w pane shows %d transitions, expected the 9+ of one connection:\n%s"
                            % (checked, "\n".join(lines)))
            # colour: escapes around state names where asked and only there
            ta = tm.capture(auto, escapes=True)
            tn = tm.capture(nocol, escapes=True)
            colored = re.compile(r"\x1b\[[0-9;]*m(%s)\x1b\[0?m" % "|".join(STATES))
            if not colored.search(ta):
                errs.append("--color=auto on a terminal: no state wrapped in escapes:\n%r" % ta)
            if ESC.search(tn):
                errs.append("NO_COLOR=1 --color=auto on a terminal: escapes in the output:\n%r" % tn)
            if ESC.search(outs[pipe_auto]) or "\x1b" in outs[pipe_auto]:
                errs.append("--color=auto into a pipe: escapes in the output:\n%r" % outs[pipe_auto])
            al = [l for l in outs[pipe_always].splitlines() if "->" in l and "Old" not in l]
            if len(al) < 9:
                errs.append("--color=always into a pipe: %d transitions:\n%r"
                            % (len(al), outs[pipe_always]))
            for l in al:
                m = re.search(r"\x1b\[[0-9;]*m([A-Z_0-9]+)\x1b\[0m -> \x1b\[[0-9;]*m([A-Z_0-9]+)"
                              r"\x1b\[0m", l)
                if not m or m.group(1) not in STATES or m.group(2) not in STATES:
                    errs.append("--color=always: states not wrapped in escapes: %r" % l)
            check(not errs, "\n".join(errs))
        finally:
            tm.kill()
            for p in locals().get("pipes", ()):
                if p.poll() is None:
                    p.kill()
                    p.wait(5)
