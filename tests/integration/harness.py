# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Integration harness: private network namespaces, tcptrail and peers.

Every test gets its own namespace (tt-<random>) so it sees only the sockets
it made; everything started is killed by PID and every namespace deleted,
in finally blocks and again at exit.
"""
import atexit
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("TT_BUILD", os.path.join(ROOT, "build"))
TCPTRAIL = os.environ.get("TT_TCPTRAIL", os.path.join(BUILD, "tcptrail"))
PEER = os.path.join(HERE, "peer.py")
LOADGEN = os.environ.get("TT_LOADGEN", os.path.join(BUILD, "bench", "loadgen"))
HELPERS = os.environ.get("TT_HELPERS", os.path.join(BUILD, "helpers"))
PYTHON = sys.executable or "python3"

_live_procs = set()
_live_ns = set()
_lock = threading.Lock()
_ports_used = set()


class TestFailure(Exception):
    pass


class TestSkip(Exception):
    """A test that cannot test what it means to here, for a reason that is
    not tcptrail's (the machine, the kernel's configuration): reported as
    "SKIP name: reason" and counted, never silent."""


def skip(reason):
    raise TestSkip(reason)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def pick_port():
    """A port in 20000-29999, outside the ephemeral range, unique per run."""
    with _lock:
        while True:
            p = random.randint(20000, 29999)
            if p not in _ports_used:
                _ports_used.add(p)
                return p


def run(cmd, check_rc=True, timeout=30, env=None):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout, env=env)
    if check_rc and r.returncode != 0:
        raise TestFailure("command failed (%d): %s\n%s" % (r.returncode, " ".join(cmd), r.stderr))
    return r


def _kill(p):
    if p.poll() is None:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def _cleanup_all():
    with _lock:
        procs = list(_live_procs)
        nss = list(_live_ns)
    for p in procs:
        _kill(p)
    for ns in nss:
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


atexit.register(_cleanup_all)


class Proc:
    """A child process whose stdout lines are collected by a thread."""

    def __init__(self, argv, stdin=False, read_pause=0):
        self.argv = argv
        self.read_pause = read_pause   # seconds to sleep every 64 lines: a slow reader
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  bufsize=1)
        with _lock:
            _live_procs.add(self.p)
        self.lines = []
        self.q = queue.Queue()
        self.err_lines = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        self.te = threading.Thread(target=self._read_err, daemon=True)
        self.te.start()

    def _read(self):
        for i, line in enumerate(self.p.stdout):
            line = line.rstrip("\n")
            self.lines.append(line)
            self.q.put(line)
            if self.read_pause and i % 64 == 63:
                time.sleep(self.read_pause)
        self.q.put(None)

    def _read_err(self):
        for line in self.p.stderr:
            self.err_lines.append(line.rstrip("\n"))

    @property
    def pid(self):
        return self.p.pid

    def next_line(self, timeout):
        try:
            line = self.q.get(timeout=timeout)
        except queue.Empty:
            raise TestFailure("timeout (%gs) waiting for output of %s; stderr: %s"
                              % (timeout, " ".join(self.argv), "\n".join(self.err_lines)))
        if line is None:
            self.q.put(None)
            raise TestFailure("%s exited (rc %s) early; stderr: %s"
                              % (" ".join(self.argv), self.p.poll(), "\n".join(self.err_lines)))
        return line

    def wait(self, timeout):
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure("%s did not exit within %gs" % (" ".join(self.argv), timeout))
        self.t.join(timeout=10)
        self.te.join(timeout=10)
        return rc

    def kill(self):
        _kill(self.p)
        with _lock:
            _live_procs.discard(self.p)


class Netns:
    def __init__(self):
        self.name = "tt-%08x" % random.getrandbits(32)
        self.procs = []
        run(["ip", "netns", "add", self.name])
        with _lock:
            _live_ns.add(self.name)
        run(["ip", "-n", self.name, "link", "set", "lo", "up"])

    def exec_argv(self, argv):
        # ip netns exec execs the command itself: the pid we see is its pid
        return ["ip", "netns", "exec", self.name] + list(argv)

    def sh(self, argv, check_rc=True, timeout=30):
        return run(self.exec_argv(argv), check_rc=check_rc, timeout=timeout)

    def sysctl(self, key, value):
        # per-netns sysctls: dropped with the namespace, nothing to restore
        self.sh(["sysctl", "-q", "-w", "%s=%s" % (key, value)])

    def nft(self, *rules):
        for r in rules:
            self.sh(["nft"] + r.split() if isinstance(r, str) else ["nft"] + list(r))

    def peer(self, name="peer"):
        pr = Peer(self, name)
        self.procs.append(pr.proc)
        return pr

    def tracer(self, *args, snapshot=False, read_pause=0, capture=None):
        t = Tracer(self, args, snapshot, read_pause, capture)
        self.procs.append(t.proc)
        return t

    def close(self):
        for p in self.procs:
            p.kill()
        subprocess.run(["ip", "netns", "del", self.name], stderr=subprocess.DEVNULL)
        with _lock:
            _live_ns.discard(self.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class Peer:
    def __init__(self, ns, name):
        self.name = name
        self.proc = Proc(ns.exec_argv([PYTHON, PEER]), stdin=True)
        # a wait, not a bound: a cold python start in an emulated VM under
        # load has taken over 20 s
        first = self.proc.next_line(90)
        check(first.startswith("pid "), "%s: unexpected first line %r" % (name, first))
        self.pid = int(first.split()[1])
        check(self.pid == self.proc.pid, "%s: pid %d is not the process we started (%d)"
              % (name, self.pid, self.proc.pid))

    def send(self, line):
        self.proc.p.stdin.write(line + "\n")
        self.proc.p.stdin.flush()

    def cmd(self, line, timeout=20, ok=True):
        self.send(line)
        reply = self.proc.next_line(timeout)
        if ok and not reply.startswith("ok"):
            raise TestFailure("%s: %r -> %r" % (self.name, line, reply))
        return reply

    def expect(self, prefix, timeout=20):
        line = self.proc.next_line(timeout)
        check(line.startswith(prefix), "%s: expected %r, got %r" % (self.name, prefix, line))
        return line

    def quit(self):
        try:
            self.cmd("quit", timeout=10)
            self.proc.wait(10)
        finally:
            self.proc.kill()


class Tracer:
    """tcptrail --json in the namespace; the constructor returns once attached.

    capture=PATH writes the records to a file (-q -o PATH) instead of a pipe
    to this harness: a Python reader can fall behind a flat-out churn and
    make the ring overflow, so a test that must not depend on the machine's
    speed reads the file after the run."""

    def __init__(self, ns, args, snapshot, read_pause=0, capture=None):
        argv = [TCPTRAIL, "--json"] + ([] if snapshot else ["--no-snapshot"]) + list(args)
        if capture:
            argv += ["-q", "-o", capture]
        self.capture = capture
        self.proc = Proc(ns.exec_argv(argv), read_pause=read_pause)
        self.records = None
        self.rc = None
        deadline = time.monotonic() + 30
        if capture:
            self.meta = self._capture_meta(deadline)
            return
        while True:
            line = self.proc.next_line(max(0.1, deadline - time.monotonic()))
            rec = json.loads(line)
            if rec.get("type") == "meta":
                self.meta = rec
                break

    def _capture_meta(self, deadline):
        """The meta record is flushed to the capture as soon as the programs are attached."""
        while time.monotonic() < deadline:
            if self.proc.p.poll() is not None:
                break
            first = self._capture_text().partition("\n")
            first = first[0] + first[1]
            if first.endswith("\n"):
                rec = json.loads(first)
                check(rec.get("type") == "meta", "first capture record is not meta: %r" % first)
                return rec
            time.sleep(0.02)
        raise TestFailure("tcptrail did not write its meta record to %s; stderr: %s"
                          % (self.capture, "\n".join(self.proc.err_lines)))

    def _capture_text(self):
        """The capture as far as it can be read now (a .gz one may end in
        the middle of a member: what zcat would recover)."""
        try:
            with open(self.capture, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return ""
        if self.capture.endswith(".gz"):
            out = b""
            while data:
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                try:
                    out += d.decompress(data)
                except zlib.error:
                    break
                if not d.eof:
                    break
                data = d.unused_data
            data = out
        return data.decode("utf-8")

    def _lines(self):
        if not self.capture:
            return list(self.proc.lines)
        text = self._capture_text()
        return text[:text.rfind("\n") + 1].splitlines()

    def seen(self):
        out = []
        for line in self._lines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def wait_for(self, pred, timeout=15, what="records"):
        """Wait until pred(transitions so far) is true."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(transitions(self.seen())):
                return
            if self.proc.p.poll() is not None:
                break
            time.sleep(0.02)
        raise TestFailure("timeout (%gs) waiting for %s; got:\n%s"
                          % (timeout, what, show(transitions(self.seen()))))

    def stop(self, defer_loss=False):
        """SIGINT, collect every record, check the summary says nothing was
        lost (or leave that to check_loss() with defer_loss, so that a test
        reports what it saw before what the tool says it missed)."""
        os.kill(self.proc.pid, signal.SIGINT)
        self.rc = self.proc.wait(20)
        self.records = [json.loads(l) for l in self._lines() if l.strip()]
        check(self.rc == 0, "tcptrail exited %d; stderr: %s" % (self.rc, "\n".join(self.proc.err_lines)))
        summ = [r for r in self.records if r["type"] == "summary"]
        check(len(summ) == 1, "expected one summary record, got %d" % len(summ))
        check(self.records[-1]["type"] == "summary", "the summary is not the last record")
        if not defer_loss:
            if hasattr(_tls, "stopped"):
                _tls.stopped.append(self)
        tr = transitions(self.records)
        seqs = [r["seq"] for r in tr]
        check(seqs == sorted(set(seqs)), "transition seq not strictly increasing: %s" % seqs)
        return tr


    def loss_error(self):
        summ = [r for r in self.records if r["type"] == "summary"][0]
        lost = [r for r in self.records if r["type"] == "lost"]
        if summ["lost"] == 0 and not lost:
            return None
        return ("tcptrail reports lost events: summary lost=%s (ring %s, nested hooks %s, write %s), "
                "filtered=%s; %d lost records, first: %s"
                % (summ["lost"], summ["lost_ring"], summ["lost_recursion"], summ["lost_write"],
                   summ["filtered"], len(lost), lost[:2]))

    def check_loss(self):
        err = self.loss_error()
        check(err is None, err)


def transitions(records):
    return [r for r in records if r.get("type") == "transition"]


def fmt_rec(r):
    s = "%s %s:%s -> %s:%s %s->%s pid=%s/%s ctx=%s/%s sock=%s" % (
        r.get("proto"), r.get("laddr"), r.get("lport"), r.get("raddr"), r.get("rport"),
        r.get("old_state"), r.get("state"), r.get("pid"), r.get("comm"), r.get("ctx_pid"),
        r.get("ctx_comm"), r.get("sock"))
    for k in ("kind", "rx_bytes", "tx_bytes"):
        if k in r:
            s += " %s=%s" % (k, r[k])
    return s


def show(recs):
    return "\n".join("    " + fmt_rec(r) for r in recs) or "    (none)"


def by_sock(trs):
    groups = {}
    for r in trs:
        groups.setdefault(r["sock"], []).append(r)
    return groups


def seq_of(recs):
    return [(r["old_state"], r["state"]) for r in recs]


def classify(trs, port):
    """Split the records of one port into listener / client / server groups.

    A group is one sock id. The listener is the group that enters LISTEN,
    clients begin with CLOSE -> SYN_SENT, servers with CLOSE -> SYN_RECV.
    """
    out = {"listener": [], "client": [], "server": [], "other": []}
    for sock, recs in by_sock(trs).items():
        if not any(r["lport"] == port or r["rport"] == port for r in recs):
            continue
        first = recs[0]
        if first["state"] == "LISTEN" or first["old_state"] == "LISTEN":
            out["listener"].append(recs)
        elif (first["old_state"], first["state"]) == ("CLOSE", "SYN_SENT"):
            out["client"].append(recs)
        elif (first["old_state"], first["state"]) == ("CLOSE", "SYN_RECV"):
            out["server"].append(recs)
        else:
            out["other"].append(recs)
    return out


S = lambda text: [tuple(x.split("->")) for x in text.split()]   # "A->B C->D"


def expect_group(label, recs, expected, pid, proto=None, lport=None, rport=None,
                 laddr=None, raddr=None):
    """EXACT transition sequence, owner pid on every record, endpoints."""
    check(seq_of(recs) == expected, "%s: expected %s\n  got:\n%s"
          % (label, " ".join("%s->%s" % e for e in expected), show(recs)))
    for r in recs:
        check(r["pid"] == pid, "%s: owner pid %s != %s on %s" % (label, r["pid"], pid, fmt_rec(r)))
        if proto:
            check(r["proto"] == proto, "%s: proto %s != %s on %s" % (label, r["proto"], proto, fmt_rec(r)))
        if laddr:
            check(r["laddr"] == laddr, "%s: laddr %s != %s on %s" % (label, r["laddr"], laddr, fmt_rec(r)))
        if raddr:
            check(r["raddr"] == raddr, "%s: raddr %s != %s on %s" % (label, r["raddr"], raddr, fmt_rec(r)))
        # the client's CLOSE -> SYN_SENT has lport 0: the kernel picks it later
        if lport is not None and not (r["old_state"] == "CLOSE" and r["state"] == "SYN_SENT"):
            check(r["lport"] == lport, "%s: lport %s != %s on %s" % (label, r["lport"], lport, fmt_rec(r)))
        if rport is not None:
            check(r["rport"] == rport, "%s: rport %s != %s on %s" % (label, r["rport"], rport, fmt_rec(r)))


def one(groups, kind, n=1):
    check(len(groups[kind]) == n, "expected %d %s connection(s), got %d:\n%s"
          % (n, kind, len(groups[kind]), "\n--\n".join(show(g) for g in groups[kind])))
    return groups[kind][0] if n == 1 else groups[kind]


# ---- registry and runner ------------------------------------------------

TESTS = []
ATTRIBUTION = {}   # test name -> list of (records, {pid: side}) for test 11


def test(name, slow=False):
    def deco(fn):
        TESTS.append((name, fn, slow))
        return fn
    return deco


_tls = threading.local()


def _run_one(name, fn, results):
    """Runs one test. The summary's lost == 0 is checked for every tracer the
    test stopped, after the test's own assertions, so that a failure shows
    what was observed first."""
    t0 = time.monotonic()
    _tls.stopped = []
    try:
        fn()
        losses = [e for e in (t.loss_error() for t in _tls.stopped) if e]
        if losses:
            raise TestFailure("\n".join(losses))
        results[name] = (True, "", time.monotonic() - t0)
    except TestSkip as e:
        results[name] = (None, str(e), time.monotonic() - t0)
        with _lock:
            print("SKIP %s: %s" % (name, str(e).replace("\n", " ")), flush=True)
        return
    except TestFailure as e:
        results[name] = (False, str(e), time.monotonic() - t0)
    except Exception as e:   # a harness error is a failure too, never a skip
        import traceback
        results[name] = (False, "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()),
                         time.monotonic() - t0)
    ok, msg, dt = results[name]
    if not ok:
        losses = [e for e in (t.loss_error() for t in _tls.stopped) if e]
        if losses and losses[0] not in msg:
            msg += "\n(also: %s)" % "\n".join(losses)
            results[name] = (ok, msg, dt)
    status = "PASS" if ok else "FAIL"
    with _lock:
        print("%s %s (%.1fs)" % (status, name, dt), flush=True)
        if not ok:
            print("  " + msg.replace("\n", "\n  "), flush=True)


def run_all(only=None):
    """Slow tests run in threads alongside the rest; returns (passed, failed, skipped)."""
    results = {}
    chosen = [t for t in TESTS if not only or any(o in t[0] for o in only)]
    threads = []
    for name, fn, slow in chosen:
        if slow:
            th = threading.Thread(target=_run_one, args=(name, fn, results))
            th.start()
            threads.append(th)
    for name, fn, slow in chosen:
        if not slow:
            _run_one(name, fn, results)
    for th in threads:
        th.join()
    _cleanup_all()
    passed = sum(1 for v in results.values() if v[0])
    skipped = sum(1 for v in results.values() if v[0] is None)
    return passed, len(results) - passed - skipped, skipped
