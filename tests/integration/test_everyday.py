# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Everyday-use features: buffer pressure events, --queue-threshold,
-l/--listening, and the terminal niceties (-w widths, --color, NO_COLOR).

Everything runs in a private network namespace; the only thing outside it
is a memory cgroup made for test 30 (one child cgroup holding only the
sender process we start, removed in finally) and a tmux server on its own
socket for test 32 (killed in finally).
"""
import errno
import json
import os
import random
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time

from harness import (PYTHON, TCPTRAIL, Netns, Proc, TestFailure, check, fmt_rec, pick_port,
                     run, show, skip, test)

# A sender driven on stdin. "flood" makes one connection (SO_SNDBUFFORCE set
# before connect, so the kernel locks it and never shrinks it: that is what
# makes __sk_mem_raise_allocated() reach the tracepoint instead of returning
# early; FORCE because we are root, so that net.core.wmem_max does not cap
# it) and writes non-blocking for SECS seconds. Its 64 KiB buffer is made at
# start: in a memory cgroup, a flood charges socket memory and little else.
SENDER = r'''
import os, socket, sys, time
SO_SNDBUFFORCE = getattr(socket, "SO_SNDBUFFORCE", 32)
buf = b"x" * 65536
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
                s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, sndbuf)
            s.connect((addr, port))
            s.setblocking(False)
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
        elif w[0] == "nop":
            print("ok nop", flush=True)
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

def mounts():
    """(mount point, type, options) of each line of /proc/mounts."""
    out = []
    with open("/proc/mounts") as f:
        for line in f:
            w = line.split()
            if len(w) >= 4:
                # blanks and backslashes in a path are written as octal escapes
                mnt = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), w[1])
                out.append((mnt, w[2], w[3].split(",")))
    return out


def read_int(path):
    with open(path) as f:
        return int(f.read().split()[0])


class MemCgroup:
    """A child memory cgroup holding one process, which the kernel refuses
    socket memory past limit(nbytes).

    cgroup v1 (memory bound to a v1 hierarchy, as on hosts that keep the
    legacy layout): memory.kmem.tcp.limit_in_bytes limits socket memory
    alone. It is charged only once that file is written, and only for
    sockets that join the group after that. The child is made under our own
    memory cgroup so that the process keeps the limits it already had.

    cgroup v2 (memory in the unified hierarchy, wherever cgroup2 is mounted):
    there is no socket-only limit. memory.max counts all that the group
    charges (what a process charged before it moved in stays behind), so
    limit() sets it to what the group holds after the caller's warm-up
    (memory.current) plus nbytes, and memory.swap.max to 0 (nothing can be
    swapped out to make room); the tests check with memory.stat's "sock"
    that socket memory is what filled it. A charge refused in process context
    first runs the cgroup's OOM killer: the process is exempt from it
    (oom_score_adj -1000), so the kernel refuses the charge instead of
    killing the process (the kernel log says "Out of memory and no killable
    processes"). A charge in softirq context is never refused on v2 (the
    kernel forces it over the limit): see test 30c.

    Nothing else on the host is changed: on v2 the memory controller must
    already be enabled in the root's cgroup.subtree_control.
    """

    def __init__(self):
        self.path = None
        self.base = self.max = None
        name = "tt-test-%08x" % random.getrandbits(32)
        table = mounts()
        v2root = None
        for mnt, typ, _ in table:
            if typ != "cgroup2":
                continue
            try:
                with open(os.path.join(mnt, "cgroup.controllers")) as f:
                    if "memory" in f.read().split():
                        v2root = mnt
                        break
            except OSError:
                pass
        if v2root:
            with open(os.path.join(v2root, "cgroup.subtree_control")) as f:
                sub = f.read().split()
            # enabling a controller at the root would change every cgroup
            # on the host: use it only if it is already enabled
            check("memory" in sub, "cgroup v2 at %s has the memory controller but its "
                  "cgroup.subtree_control does not enable it (%r); not changing the host's "
                  "root cgroup" % (v2root, sub))
            self.kind = "v2"
            os.mkdir(os.path.join(v2root, name))
            self.path = os.path.join(v2root, name)
            return
        v1root = next((mnt for mnt, typ, opts in table if typ == "cgroup" and "memory" in opts), None)
        own = None
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                if "memory" in ctrls.split(","):
                    own = path
        check(v1root is not None and own is not None,
              "no memory cgroup controller on this host (neither cgroup2 with memory nor a "
              "v1 memory hierarchy in /proc/mounts): cannot limit one process's socket memory")
        self.kind = "v1"
        path = os.path.join(os.path.normpath(v1root + "/" + own.lstrip("/")), name)
        os.mkdir(path)
        self.path = path

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

    def keyed(self, f):
        """A flat keyed file (memory.stat, memory.events) as a dict."""
        out = {}
        for line in self.read(f).splitlines():
            w = line.split()
            if len(w) == 2 and w[1].isdigit():
                out[w[0]] = int(w[1])
        return out

    def add(self, pid):
        self._write("cgroup.procs", str(pid))
        with open(os.path.join(self.path, "cgroup.procs")) as f:
            procs = [int(x) for x in f.read().split()]
        check(procs == [pid], "cgroup %s holds %s, expected only %d" % (self.path, procs, pid))
        if self.kind == "v2":
            try:
                with open("/proc/%d/oom_score_adj" % pid, "w") as f:
                    f.write("-1000")
            except OSError as e:
                raise TestFailure("cannot exempt %d from the OOM killer: %s" % (pid, e))

    def limit(self, nbytes):
        """From now on the group's sockets may charge about nbytes."""
        if self.kind == "v1":
            self._write("memory.kmem.tcp.limit_in_bytes", str(nbytes))
            self.base, self.max = 0, nbytes
        else:
            # absent where swap is not accounted (no swap controller): nothing to swap then
            self._write("memory.swap.max", "0", optional=True)
            self.base = read_int(os.path.join(self.path, "memory.current"))
            self.max = self.base + nbytes
            self._write("memory.max", str(self.max))
        self.max_events0 = self.keyed("memory.events").get("max", 0) if self.kind == "v2" else 0

    def socket_bytes(self):
        """Socket memory charged to the group now."""
        if self.kind == "v1":
            return read_int(os.path.join(self.path, "memory.kmem.tcp.usage_in_bytes"))
        return self.keyed("memory.stat").get("sock", 0)

    def socket_peak(self):
        """The most socket memory charged at once (v1), or charged now (v2 keeps no peak of it)."""
        if self.kind == "v1":
            return read_int(os.path.join(self.path, "memory.kmem.tcp.max_usage_in_bytes"))
        return self.socket_bytes()

    def reached(self):
        """Whether the group's charges reached its limit since limit(), and how we know.
        v2: memory.events "max" (charges that met memory.max: refused, or
        made room for by reclaim, or forced over it). v1: the tcp counter's
        peak usage against the limit (newer kernels keep no failcnt for it)."""
        if self.kind == "v1":
            peak = read_int(os.path.join(self.path, "memory.kmem.tcp.max_usage_in_bytes"))
            return peak >= self.max // 2, "tcp max usage %d of the limit %d" % (peak, self.max)
        n = self.keyed("memory.events").get("max", 0) - self.max_events0
        return n > 0, "%d charges met memory.max" % n

    def describe(self):
        if self.kind == "v1":
            return ("cgroup v1 %s: tcp limit %s, usage %s, max usage %s, failcnt %s" % (
                self.path, self.read("memory.kmem.tcp.limit_in_bytes"),
                self.read("memory.kmem.tcp.usage_in_bytes"),
                self.read("memory.kmem.tcp.max_usage_in_bytes"), self.read("memory.kmem.tcp.failcnt")))
        ev = self.keyed("memory.events")
        return ("cgroup v2 %s: memory.max %s (%s held at the limit + the socket memory meant), "
                "memory.current %s, memory.stat sock %s, memory.events max %s oom %s oom_kill %s"
                % (self.path, self.read("memory.max"), self.base, self.read("memory.current"),
                   self.keyed("memory.stat").get("sock"), ev.get("max"), ev.get("oom"),
                   ev.get("oom_kill")))

    def remove(self):
        if not self.path:
            return
        # the process was killed by the caller; its exit may take a moment
        for _ in range(100):
            try:
                os.rmdir(self.path)
                self.path = None
                return
            except OSError:
                time.sleep(0.05)
        raise TestFailure("cannot remove cgroup %s (procs: %s)" % (self.path, self.read("cgroup.procs")))


class TracepointCount:
    """How often the kernel fired its buffer-pressure tracepoints, counted
    without tcptrail: `perf stat -a` (Debian's linux-perf, which needs
    tracefs) from the constructor to stop(). "send" and "recv" are
    sock:sock_exceed_buf_limit with kind SK_MEM_SEND (0) and SK_MEM_RECV (1),
    "rcvq" sock:sock_rcvqueue_full. System-wide: other sockets of a busy
    host may add to the counts, never take from them. Without perf or
    tracefs, counts stays None and why says so."""

    EVENTS = (("send", "sock:sock_exceed_buf_limit", "kind == 0"),
              ("recv", "sock:sock_exceed_buf_limit", "kind == 1"),
              ("rcvq", "sock:sock_rcvqueue_full", None))

    def __init__(self):
        self.why = None
        self.counts = None
        self.proc = None
        self.dir = None
        perf = shutil.which("perf")
        if not perf:
            self.why = "perf is not installed (Debian's linux-perf)"
            return
        events = [os.path.join(d, "events/sock", n) for mnt, typ, _ in mounts()
                  for d in ([mnt] if typ == "tracefs" else [mnt + "/tracing"] if typ == "debugfs" else [])
                  for n in ("sock_exceed_buf_limit", "sock_rcvqueue_full")]
        if not any(os.path.isdir(e) for e in events):
            self.why = "no tracefs mounted with the sock tracepoints (perf needs it)"
            return
        self.dir = tempfile.mkdtemp(prefix="tt-perf.")
        self.ctl = os.path.join(self.dir, "ctl")
        self.ack = os.path.join(self.dir, "ack")
        os.mkfifo(self.ctl)
        os.mkfifo(self.ack)
        # -D -1: counting starts disabled, at the "enable" acknowledged below
        argv = [perf, "stat", "-x,", "-a", "-D", "-1", "--control", "fifo:%s,%s" % (self.ctl, self.ack)]
        for _, ev, flt in self.EVENTS:
            argv += ["-e", ev] + (["--filter", flt] if flt else [])
        self.proc = Proc(argv)
        try:
            self._control("enable")
        except TestFailure as e:
            self.why = str(e)
            self.close()

    def _control(self, cmd, timeout=60):
        deadline = time.monotonic() + timeout
        died = lambda: self.proc.p.poll() is not None or time.monotonic() > deadline

        def fail():
            raise TestFailure("perf stat did not take %r (%s): %s" % (
                cmd, "exited %s" % self.proc.p.poll() if self.proc.p.poll() is not None
                else "no answer in %ds" % timeout, " ".join(self.proc.err_lines)))
        while True:
            try:
                fd = os.open(self.ctl, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as e:   # ENXIO until perf opens it
                if e.errno != errno.ENXIO or died():
                    fail()
                time.sleep(0.05)
        afd = os.open(self.ack, os.O_RDONLY | os.O_NONBLOCK)
        try:
            os.write(fd, (cmd + "\n").encode())
            got = b""
            while b"ack" not in got:
                if died():
                    fail()
                if select.select([afd], [], [], 0.1)[0]:
                    try:
                        got += os.read(afd, 64)
                    except BlockingIOError:
                        pass
        finally:
            os.close(fd)
            os.close(afd)

    def stop(self):
        """The counts, once: {"send": n, "recv": n, "rcvq": n}, or None."""
        if self.proc is None or self.counts is not None:
            return self.counts
        try:
            self._control("disable")
            os.kill(self.proc.pid, signal.SIGINT)
            self.proc.wait(30)
            rows = [l.split(",") for l in self.proc.err_lines]
            rows = [r for r in rows if len(r) > 2 and r[2].startswith("sock:")]
            vals = [int(r[0]) if r[0].isdigit() else None for r in rows]
            if len(vals) != len(self.EVENTS) or None in vals:
                raise TestFailure("perf stat printed no count for every event: %s"
                                  % " ".join(self.proc.err_lines))
            self.counts = dict(zip((k for k, _, _ in self.EVENTS), vals))
        except TestFailure as e:
            self.why = str(e)
        finally:
            self.close()
        return self.counts

    def describe(self):
        if self.counts is None:
            return "no count of the kernel's own: %s" % self.why
        return ("perf stat -a: sock_exceed_buf_limit SK_MEM_SEND %(send)d, SK_MEM_RECV %(recv)d, "
                "sock_rcvqueue_full %(rcvq)d" % self.counts)

    def close(self):
        if self.proc:
            self.proc.kill()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def tcp_ext(ns, names=("TCPRcvQDrop", "PruneCalled", "RcvPruned", "TCPOFODrop")):
    """Counters of the namespace's TcpExt (/proc/net/netstat)."""
    lines = ns.sh(["cat", "/proc/net/netstat"]).stdout.splitlines()
    out = {}
    for keys, vals in zip(lines[::2], lines[1::2]):
        if keys.startswith("TcpExt:"):
            for k, v in zip(keys.split()[1:], vals.split()[1:]):
                if k in names:
                    out[k] = int(v)
    return out


def kernel_skip_reason(what, cg, counts, evidence, why=""):
    return ("Linux %s did not fire %s although its memory cgroup refused the memory (%s; %s; "
            "cgroup %s)%s" % (os.uname().release, what, evidence, counts, cg.kind, why))


@test("30_sndbuf_full_memcg_limit")
def t_sndbuf_full():
    """A sender in a memory cgroup floods a receiver that does not read. Its
    socket may hold 8 MiB, its cgroup lets it charge 1 MiB: the kernel
    refuses send memory (sock_exceed_buf_limit, kind SK_MEM_SEND), which
    tcptrail reports as sndbuf_full records on the sender's socket."""
    port = pick_port()
    limit = 1 << 20
    cg = cnt = None
    with Netns() as ns:
        try:
            rcv = ns.peer("receiver")
            rcv.cmd("listen 4 127.0.0.1 %d" % port)
            snd = Sender(ns)
            cg = MemCgroup()
            cg.add(snd.pid)
            snd.cmd("nop")   # warm-up: what a command costs it is charged before the limit
            cg.limit(limit)
            tr = ns.tracer("-P", str(port))
            cnt = TracepointCount()
            # 4 MiB asked, the kernel doubles it: the socket may hold far
            # more than the cgroup lets it charge
            res = snd.flood(port, 3, 4 << 20)
            check(res["sndbuf"] >= 4 * limit, "the sender's send buffer is %d bytes: it must be "
                  "far over the cgroup's %d for the kernel to refuse memory before the buffer "
                  "is full" % (res["sndbuf"], limit))
            # socket memory is what reached the limit: the receiver has not
            # read a byte, so the sender's queue still holds it, and the
            # sender met EAGAIN with its queue far under its send buffer
            reached, how = cg.reached()
            peak = cg.socket_peak()
            evidence = "%s, socket memory %d bytes, %d EAGAIN" % (how, peak, res["eagain"])
            check(reached and peak >= limit // 2 and res["eagain"] > 0,
                  "the sender's socket memory did not reach its cgroup's limit (%d): %s; %s; "
                  "sender: %s" % (limit, evidence, cg.describe(), res))
            rcv.cmd("accept")
            lport = res["lport"]
            mine = lambda recs: [r for r in recs if r.get("type") == "sndbuf_full"
                                 and r["lport"] == lport and r["rport"] == port]
            try:
                wait_records(tr, lambda recs: mine(recs), 5, "a sndbuf_full record")
            except TestFailure as e:
                counts = cnt.stop()
                if counts is not None and counts["send"] == 0:
                    skip(kernel_skip_reason("sock:sock_exceed_buf_limit (SK_MEM_SEND)", cg,
                                            cnt.describe(), evidence))
                raise TestFailure("%s\nsender: %s; %s; %s; tcptrail attached: %s" % (
                    e, res, cg.describe(), cnt.describe(), tr.meta.get("attach")))
            tr.stop()
            counts = cnt.stop()
            full = mine(tr.records)
            print("  30: cgroup %s, %s; %s; tcptrail: %d sndbuf_full"
                  % (cg.kind, evidence, cnt.describe(), len(full)), flush=True)
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
            # the kernel fired at least as often as tcptrail reports
            check(counts is None or len(full) <= counts["send"],
                  "%d sndbuf_full records, more than the kernel fired (%s)" % (len(full), cnt.describe()))
        finally:
            if cnt:
                cnt.close()
            ns.close()   # kills the sender before the cgroup goes
            if cg:
                cg.remove()


@test("30c_receive_memory_refusal_is_not_sndbuf_full")
def t_rmem_refusal():
    """The receiver's socket is limited by its cgroup while a sender outside
    it floods: the kernel refuses receive memory (sock_exceed_buf_limit with
    kind SK_MEM_RECV). A socket that never sent a byte must not be reported
    as sndbuf_full.

    The receiver reads: on cgroup v2 a receive charge is refused only in the
    receiver's own process context (the packets that arrived while it held
    the socket, processed when it lets go); in softirq the kernel charges
    over memory.max, and a receiver that never reads only has its window
    shrunk."""
    port = pick_port()
    limit = 32 << 10
    cg = cnt = None
    with Netns() as ns:
        try:
            rcv = ns.peer("receiver")
            cg = MemCgroup()
            cg.add(rcv.pid)
            # the accepted socket is charged to the memcg of the process
            # that accepts it, so the receiver accepts before the flood
            rcv.cmd("listen 4 127.0.0.1 %d" % port)
            snd = Sender(ns)
            tr = ns.tracer("-P", str(port))
            cg.limit(limit)
            ext0 = tcp_ext(ns)
            cnt = TracepointCount()
            snd.proc.p.stdin.write("flood 127.0.0.1 %d 2 0\n" % port)
            snd.proc.p.stdin.flush()
            rport = int(rcv.cmd("accept").split()[2])
            rcv.send("drain 3")   # reads while the sender floods
            r = snd.proc.next_line(30)
            check(r.startswith("ok flood"), "sender: %r" % r)
            got = rcv.expect("ok drain", timeout=30)
            time.sleep(0.3)
            tr.stop()
            counts = cnt.stop()
            ext = tcp_ext(ns)
            drops = dict((k, ext[k] - ext0.get(k, 0)) for k in ext)
            reached, how = cg.reached()
            evidence = "%s, TcpExt %s" % (how, " ".join("%s +%d" % kv for kv in sorted(drops.items())))
            # whatever the record type chosen for a receive-side refusal,
            # it is a per-socket record that is not one of these
            on_rcv = [x for x in tr.records if x.get("type") not in
                      ("meta", "snapshot", "transition", "lost", "summary")
                      and x.get("lport") == port and x.get("rport") == rport]
            print("  30c: cgroup %s, read %s, %s; %s; tcptrail: %d records on the receiver's socket"
                  % (cg.kind, got.split()[-1], evidence, cnt.describe(), len(on_rcv)), flush=True)
            # a refused receive charge makes TCP prune the queue (PruneCalled)
            # and maybe drop the segment (TCPRcvQDrop)
            check(reached and drops.get("PruneCalled", 0) + drops.get("TCPRcvQDrop", 0) > 0,
                  "the receiver's cgroup did not refuse its receive memory: %s; %s"
                  % (evidence, cg.describe()))
            if not on_rcv and counts is not None and counts["recv"] + counts["rcvq"] == 0:
                skip(kernel_skip_reason(
                    "sock:sock_exceed_buf_limit (SK_MEM_RECV) nor sock_rcvqueue_full", cg,
                    cnt.describe(), evidence,
                    ": before 9d85c565a7b7 (Linux 6.18, and the stable kernels that took it), "
                    "__sk_mem_raise_allocated() fires it for receive memory only when the "
                    "cgroup accepted the charge"))
            check(on_rcv, "no pressure record at all on the receiver's socket %d -> %d while its "
                  "cgroup held its receive memory (%s; %s; %s):\n%s"
                  % (port, rport, evidence, cnt.describe(), cg.describe(),
                     "\n".join(json.dumps(x) for x in tr.records)))
            wrong = [x for x in on_rcv if x["type"] == "sndbuf_full"]
            check(not wrong, "%d sndbuf_full records on the receiver's socket, which never sent "
                  "a byte (receive memory refused by its cgroup); first:\n%s"
                  % (len(wrong), "\n".join(json.dumps(x) for x in wrong[:3])))
            check(counts is None or len(on_rcv) <= counts["recv"] + counts["rcvq"],
                  "%d pressure records on the receiver's socket, more than the kernel fired (%s)"
                  % (len(on_rcv), cnt.describe()))
        finally:
            if cnt:
                cnt.close()
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
