# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Forensic capture (-o/-r): crash safety of .gz, disk full, planted paths,
SIGHUP rotation, damaged captures, dropped privileges, hostile names.

Every tracer runs in the test's own namespace; temporary directories and
the tmpfs are removed in finally blocks.
"""
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import zlib

from harness import (PYTHON, TCPTRAIL, Netns, TestFailure, check, pick_port, run, show, test,
                     transitions)
from test_states import has

SUMMARY = re.compile(r"^tcptrail: (\d+) events seen, (\d+) written, (\d+) lost, (\d+) filtered"
                     r"(?: \(ring full: (\d+), nested hooks: (\d+), write errors: (\d+) lines\))?$")
ARROW = re.compile(r"\b([A-Z_0-9]+) -> ([A-Z_0-9]+)\b")


# ---- helpers ------------------------------------------------------------

def parse_jsonl(data, label, allow_partial_tail=False):
    """bytes -> records; every complete line must be one JSON object. With
    allow_partial_tail a last line without newline is returned apart."""
    lines = data.split(b"\n")
    tail = lines.pop()          # b"" when data ends with a newline
    if tail and not allow_partial_tail:
        raise TestFailure("%s: does not end with a newline; last bytes %r" % (label, data[-120:]))
    recs = []
    for i, l in enumerate(lines, 1):
        try:
            r = json.loads(l.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise TestFailure("%s:%d: not valid JSON (%s): %r" % (label, i, e, l[:300]))
        check(isinstance(r, dict) and "type" in r, "%s:%d: not a record: %r" % (label, i, l[:300]))
        recs.append(r)
    return recs, tail


def gunzip_tolerant(data):
    """Everything a reader like `zcat` recovers from a possibly cut gzip file."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        return d.decompress(data)
    except zlib.error as e:
        raise TestFailure("the gzip stream is corrupt (not just cut short): %s" % e)


def raw_ctl(data):
    """Offsets and values of control bytes other than the line feed, and DEL."""
    return [(i, b) for i, b in enumerate(data) if (b < 0x20 and b != 0x0a) or b == 0x7f]


def summary_line(err_lines):
    s = [SUMMARY.match(l) for l in err_lines]
    s = [m for m in s if m]
    check(len(s) == 1, "expected one summary line on stderr, got: %r" % err_lines)
    return s[0]


class RawProc:
    """A child whose stdout is collected as bytes (names may be invalid UTF-8)."""

    def __init__(self, argv, stdin=False, umask=None):
        self.argv = argv
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)
        self.out = bytearray()
        self.err = bytearray()
        self._lock = threading.Lock()
        self.ts = [threading.Thread(target=self._pump, args=(self.p.stdout, self.out), daemon=True),
                   threading.Thread(target=self._pump, args=(self.p.stderr, self.err), daemon=True)]
        for t in self.ts:
            t.start()

    def _pump(self, f, buf):
        while True:
            b = f.read1(65536)
            if not b:
                return
            with self._lock:
                buf.extend(b)

    @property
    def pid(self):
        return self.p.pid

    def stdout(self):
        with self._lock:
            return bytes(self.out)

    def wait_out(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(self.stdout()):
                return
            if self.p.poll() is not None:
                time.sleep(0.1)
                if pred(self.stdout()):
                    return
                break
            time.sleep(0.02)
        raise TestFailure("timeout (%gs) waiting for %s from %s (rc %s); stdout tail %r; stderr %r"
                          % (timeout, what, self.argv[-3:], self.p.poll(), self.stdout()[-400:],
                             bytes(self.err)[-400:]))

    def send(self, line):
        self.p.stdin.write(line + b"\n")
        self.p.stdin.flush()

    def wait(self, timeout):
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure("%s did not exit within %gs" % (" ".join(map(str, self.argv)), timeout))
        for t in self.ts:
            t.join(timeout=10)
        return rc

    def kill(self):
        if self.p.poll() is None:
            try:
                os.kill(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


def conns_done(n):
    """Predicate: listener CLOSE -> LISTEN plus 10 transitions per connection
    (client active close, server passive close)."""
    return lambda t: len(t) >= 1 + 10 * n


def start_churn_pair(ns, port):
    srv, cli = ns.peer("server"), ns.peer("client")
    srv.cmd("listen 4 127.0.0.1 %d" % port)
    srv.cmd("serve 1000000")   # accepts until killed
    return srv, cli


def tr_transitions(tr):
    return transitions(tr.seen())


# ---- 1: crash ----------------------------------------------------------

@test("20_crash_gz_recoverable")
def t_crash():
    port, port2 = pick_port(), pick_port()
    tmp = tempfile.mkdtemp(prefix="tt-crash.")
    path = os.path.join(tmp, "cap.jsonl.gz")
    try:
        with Netns() as ns:
            tr = ns.tracer("-P", str(port), "-P", str(port2), "-o", path)
            srv, cli = start_churn_pair(ns, port)
            # Few records (~40 KB of JSON in all): below the 64 KB sink
            # buffer, so only the once-a-second flush can put them on disk.
            cli.cmd("bulk 4 127.0.0.1 %d 5" % port, timeout=60)
            tr.wait_for(conns_done(5), what="51 transitions")
            t_a = time.monotonic()
            early = {r["seq"]: r for r in tr_transitions(tr)}
            # keep writing until the kill, so the stream is cut in the middle
            while time.monotonic() < t_a + 2.0:
                r = cli.cmd("connect 4 127.0.0.1 %d" % port2, ok=False)
                check(r == "err connect ECONNREFUSED", "client: %s" % r)
                time.sleep(0.1)
            check(tr.proc.p.poll() is None, "tcptrail died before the kill: %s" % tr.proc.err_lines)
            os.kill(tr.proc.pid, signal.SIGKILL)
            tr.proc.wait(10)
            killed_at_written = len(tr_transitions(tr))
        with open(path, "rb") as f:
            data = f.read()
        check(data, "the capture is empty after 2 s of events")
        recs, tail = parse_jsonl(gunzip_tolerant(data), path, allow_partial_tail=True)
        check(recs and recs[0]["type"] == "meta", "first recovered record is not meta: %s"
              % (recs[:1],))
        got = [r["seq"] for r in transitions(recs)]
        check(got == list(range(len(got))), "recovered seqs are not 0..n-1 in order: %s..."
              % got[:50])
        missing = sorted(set(early) - set(got))
        check(not missing, "%d of the %d transitions printed >= 2 s before SIGKILL are not in the "
              "recovered capture (recovered %d transitions, %d on stdout at the kill); first "
              "missing:\n%s" % (len(missing), len(early), len(got), killed_at_written,
                                show([early[s] for s in missing[:5]])))
        # the same bytes through zcat, as the README promises
        z = subprocess.run(["zcat", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        zrecs, _ = parse_jsonl(z.stdout, "zcat " + path, allow_partial_tail=True)
        check(len(transitions(zrecs)) >= len(early), "zcat recovered %d transitions, %d expected"
              % (len(transitions(zrecs)), len(early)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- 2: disk full ------------------------------------------------------

def disk_full_run(ns, port, path, fail_on_loss, nconn):
    args = ["-P", str(port), "-o", path] + (["--fail-on-loss"] if fail_on_loss else [])
    tr = ns.tracer(*args)
    srv, cli = ns.peer("server"), ns.peer("client")
    srv.cmd("listen 4 127.0.0.1 %d" % port)
    srv.cmd("serve %d" % nconn)
    cli.cmd("bulk 4 127.0.0.1 %d %d" % (port, nconn), timeout=60)
    srv.expect("done serve", timeout=60)
    srv.cmd("close_listener")
    tr.wait_for(lambda t: len(t) >= 2 + 10 * nconn, timeout=60, what="all transitions")
    os.kill(tr.proc.pid, signal.SIGINT)
    rc = tr.proc.wait(20)
    out = [json.loads(l) for l in tr.proc.lines if l.strip()]
    srv.quit()
    cli.quit()
    return rc, out, tr.proc.err_lines


def check_disk_full(label, path, rc, out, err, want_rc):
    check(rc == want_rc, "%s: exit %d, expected %d; stderr %r" % (label, rc, want_rc, err))
    check(out and out[-1]["type"] == "summary", "%s: no summary on stdout" % label)
    summ = out[-1]
    m = summary_line(err)
    check(int(m.group(3)) > 0 and m.group(7) is not None and int(m.group(7)) > 0,
          "%s: the disk filled but stderr reports no write loss: %r" % (label, m.group(0)))
    check(summ["lost_write"] > 0 and summ["lost"] >= summ["lost_write"],
          "%s: summary record %s" % (label, summ))
    check(int(m.group(7)) == summ["lost_write"], "%s: stderr and summary disagree: %r vs %s"
          % (label, m.group(0), summ))
    with open(path, "rb") as f:
        data = f.read()
    recs, tail = parse_jsonl(data, path, allow_partial_tail=True)
    check(recs and recs[0]["type"] == "meta", "%s: the file does not start with meta" % label)
    # every record given to the capture is either a whole line in the file
    # or counted as lost (a line cut by ENOSPC is lost too)
    emitted = len(out) - 1   # meta, transitions, lost records; not the summary
    whole = len(recs)
    check(whole + summ["lost_write"] + (1 if tail else 0) == emitted,
          "%s: %d whole lines in the file + %d lines counted lost%s != %d records written "
          "to stdout before the summary" % (label, whole, summ["lost_write"],
                                            " + 1 cut line" if tail else "", emitted))
    check(whole < emitted, "%s: nothing was lost, the tmpfs did not fill (%d records)"
          % (label, whole))


@test("21_disk_full_counts_loss")
def t_disk_full():
    port = pick_port()
    mnt = tempfile.mkdtemp(prefix="tt-full.")
    mounted = False
    try:
        run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", mnt])
        mounted = True
        with Netns() as ns:
            p1 = os.path.join(mnt, "a.jsonl")
            rc, out, err = disk_full_run(ns, port, p1, True, 300)
            check_disk_full("--fail-on-loss", p1, rc, out, err, 3)
            os.unlink(p1)
            p2 = os.path.join(mnt, "b.jsonl")
            rc, out, err = disk_full_run(ns, port, p2, False, 200)
            check_disk_full("without --fail-on-loss", p2, rc, out, err, 0)
    finally:
        if mounted:
            subprocess.run(["umount", mnt], stderr=subprocess.DEVNULL)
        shutil.rmtree(mnt, ignore_errors=True)


# ---- 3: planted path ---------------------------------------------------

def file_state(p):
    st = os.lstat(p)
    with open(p, "rb") as f:
        return (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino, f.read())


@test("22_planted_path_refused_new_file_0600")
def t_planted():
    port = pick_port()
    tmp = tempfile.mkdtemp(prefix="tt-plant.")
    try:
        with Netns() as ns:
            target = os.path.join(tmp, "precious")
            with open(target, "wb") as f:
                f.write(b"do not overwrite\n")
            os.chmod(target, 0o644)
            before = file_state(target)
            errs = []
            cases = []
            link = os.path.join(tmp, "link.jsonl")
            os.symlink(target, link)
            # O_EXCL makes open() fail with EEXIST on any symlink, so the
            # message may say "exists": the refusal is what matters
            cases.append(("symlink to an existing file", link, "refusing"))
            dangling = os.path.join(tmp, "dangling.jsonl.gz")
            os.symlink(os.path.join(tmp, "not-there"), dangling)
            cases.append(("dangling symlink", dangling, "refusing"))
            existing = os.path.join(tmp, "existing.jsonl")
            shutil.copy(target, existing)
            ex_before = file_state(existing)
            cases.append(("existing regular file", existing, "refusing"))
            for label, p, needle in cases:
                t0 = time.monotonic()
                r = ns.sh([TCPTRAIL, "--no-snapshot", "-P", str(port), "-d", "3", "-o", p],
                          check_rc=False)
                dt = time.monotonic() - t0
                if r.returncode == 0:
                    errs.append("%s: exit 0" % label)
                if needle not in r.stderr or p not in r.stderr:
                    errs.append("%s: stderr does not name %s and say %r: %r"
                                % (label, p, needle, r.stderr))
                if r.stdout:
                    errs.append("%s: it ran anyway, stdout %r" % (label, r.stdout[:200]))
                if dt > 2.5:
                    errs.append("%s: took %.1fs: it traced instead of refusing at once" % (label, dt))
            if file_state(target) != before:
                errs.append("the symlink's target changed: %r -> %r" % (before, file_state(target)))
            if os.readlink(link) != target:
                errs.append("the symlink was replaced")
            if os.path.lexists(os.path.join(tmp, "not-there")):
                errs.append("the dangling symlink's target was created")
            if file_state(existing) != ex_before:
                errs.append("the existing file changed")
            # a new capture is 0600 even under umask 0
            new = os.path.join(tmp, "new.jsonl")
            p = RawProc(ns.exec_argv([TCPTRAIL, "-q", "--no-snapshot", "-P", str(port), "-d", "1",
                                      "-o", new]), umask=0)
            rc = p.wait(20)
            if rc != 0:
                errs.append("new file: exit %d, stderr %r" % (rc, bytes(p.err)))
            elif not os.path.exists(new):
                errs.append("new file: not created")
            else:
                mode = os.stat(new).st_mode & 0o7777
                if mode != 0o600:
                    errs.append("new capture has mode %o, expected 600 (run under umask 0)" % mode)
                with open(new, "rb") as f:
                    recs, _ = parse_jsonl(f.read(), new)
                if not recs or recs[0]["type"] != "meta" or recs[-1]["type"] != "summary":
                    errs.append("new capture: not meta ... summary: %s" % [r["type"] for r in recs])
            if p.stdout():
                errs.append("-q: stdout not empty: %r" % p.stdout()[:200])
            check(not errs, "\n".join(errs))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- 4: rotation -------------------------------------------------------

@test("23_sighup_rotation_seq_contiguous")
def t_rotation():
    port = pick_port()
    tmp = tempfile.mkdtemp(prefix="tt-rot.")
    path = os.path.join(tmp, "cap.jsonl")
    rotated = path + ".1"
    try:
        with Netns() as ns:
            tr = ns.tracer("-P", str(port), "-o", path)
            srv, cli = start_churn_pair(ns, port)
            n, t0, hup_at = 0, time.monotonic(), None
            while time.monotonic() < t0 + 3.0:
                # about 300 connections a second
                cli.cmd("bulk 4 127.0.0.1 %d 15" % port, timeout=30)
                n += 15
                if hup_at is None and time.monotonic() >= t0 + 1.5:
                    os.rename(path, rotated)
                    os.kill(tr.proc.pid, signal.SIGHUP)
                    hup_at = n
                time.sleep(0.05)
            check(hup_at and n > hup_at, "the churn did not run on both sides of the SIGHUP")
            tr.wait_for(conns_done(n), timeout=30, what="%d transitions" % (1 + 10 * n))
            live = tr.stop()
            check(not any("reopen" in l for l in tr.proc.err_lines),
                  "stderr: %s" % tr.proc.err_lines)
        with open(rotated, "rb") as f:
            old, _ = parse_jsonl(f.read(), rotated)
        with open(path, "rb") as f:
            new, _ = parse_jsonl(f.read(), path)
        check(old and old[0]["type"] == "meta", "%s does not start with meta" % rotated)
        check(not any(r["type"] == "summary" for r in old), "%s has a summary" % rotated)
        check(new and new[-1]["type"] == "summary", "%s does not end with summary" % path)
        check(not any(r["type"] == "meta" for r in new), "%s has a meta record" % path)
        so, sn = [r["seq"] for r in transitions(old)], [r["seq"] for r in transitions(new)]
        check(so and sn, "transitions before/after the SIGHUP: %d/%d" % (len(so), len(sn)))
        both = so + sn
        check(sorted(both) == list(range(len(both))) and len(set(both)) == len(both),
              "seqs across the two files are not 0..%d without duplicates: old %d..%d (%d), "
              "new %d..%d (%d), missing %s, duplicated %s"
              % (len(both) - 1, min(so), max(so), len(so), min(sn), max(sn), len(sn),
                 sorted(set(range(max(both) + 1)) - set(both))[:10],
                 sorted(s for s in set(both) if both.count(s) > 1)[:10]))
        check(max(so) < min(sn), "the new file has seqs from before the rotation")
        summ = new[-1]
        check(summ["written"] == len(both), "summary written %d, the files hold %d transitions"
              % (summ["written"], len(both)))
        check([r["seq"] for r in live] == sorted(both), "stdout and the files disagree on seqs")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- 5: damaged captures -----------------------------------------------

def replay(path, *args):
    return run([TCPTRAIL, "-r", path] + list(args), check_rc=False)


def arrow_lines(text):
    return [l for l in text.splitlines() if ARROW.search(l)]


@test("24_replay_damaged_captures")
def t_damaged():
    port = pick_port()
    tmp = tempfile.mkdtemp(prefix="tt-dmg.")
    plain, gz = os.path.join(tmp, "cap.jsonl"), os.path.join(tmp, "cap.jsonl.gz")
    try:
        with Netns() as ns:
            tp = ns.tracer("-P", str(port), "-o", plain)
            tg = ns.tracer("-P", str(port), "-o", gz)
            srv, cli = ns.peer("server"), ns.peer("client")
            srv.cmd("listen 4 127.0.0.1 %d" % port)
            cli.cmd("connect 4 127.0.0.1 %d" % port)
            srv.cmd("accept")
            cli.cmd("close")
            srv.cmd("recv_eof")
            srv.cmd("close")
            srv.cmd("close_listener")
            for t in (tp, tg):
                t.wait_for(lambda t: has(t, "LISTEN", "CLOSE") and has(t, "FIN_WAIT2", "TIME_WAIT")
                           and has(t, "LAST_ACK", "CLOSE"), what="the connection's end")
            tp.stop()
            tg.stop()
        with open(plain, "rb") as f:
            pdata = f.read()
        recs, _ = parse_jsonl(pdata, plain)
        trs = transitions(recs)
        check(len(trs) == 12, "expected 12 transitions in the capture:\n%s" % show(trs))
        errs = []
        # good captures: exit 0, one text line per transition, in the
        # capture's own order (two tracers may order the FIN_WAIT2 check's
        # records differently from each other)
        for p in (plain, gz):
            if p == gz:
                with gzip.open(gz, "rb") as f:
                    trs = transitions(parse_jsonl(f.read(), gz)[0])
                check(len(trs) == 12, "expected 12 transitions in %s:\n%s" % (gz, show(trs)))
            r = replay(p)
            got = arrow_lines(r.stdout)
            if r.returncode != 0:
                errs.append("%s: exit %d, stderr %r" % (p, r.returncode, r.stderr))
            if len(got) != len(trs):
                errs.append("%s: %d transition lines, expected %d:\n%s"
                            % (p, len(got), len(trs), r.stdout))
            else:
                for l, t in zip(got, trs):
                    if ("%s -> %s" % (t["old_state"], t["state"]) not in l
                            or "%d/" % t["pid"] not in l):
                        errs.append("%s: line %r does not show %s -> %s %d/"
                                    % (p, l, t["old_state"], t["state"], t["pid"]))
        lines = pdata.split(b"\n")[:-1]
        k = 6   # a transition line (line 1 is meta)
        start = sum(len(l) + 1 for l in lines[:k - 1])
        # cut in the middle of line k
        cut = os.path.join(tmp, "cut.jsonl")
        with open(cut, "wb") as f:
            f.write(pdata[:start + len(lines[k - 1]) // 2])
        # line k replaced by a damaged record of the same length, lines after intact
        bad = os.path.join(tmp, "bad.jsonl")
        with open(bad, "wb") as f:
            f.write(pdata[:start] + b"{" + b"x" * (len(lines[k - 1]) - 1) + pdata[start + len(lines[k - 1]):])
        for p in (cut, bad):
            r = replay(p)
            if r.returncode != 1:
                errs.append("%s: exit %d, expected 1; stderr %r" % (p, r.returncode, r.stderr))
            if "%s:%d:" % (p, k) not in r.stderr:
                errs.append("%s: stderr does not name %s:%d: %r" % (p, p, k, r.stderr))
            if len(arrow_lines(r.stdout)) != k - 2:
                errs.append("%s: %d transition lines before the damage, expected %d:\n%s"
                            % (p, len(arrow_lines(r.stdout)), k - 2, r.stdout))
        with open(gz, "rb") as f:
            gdata = f.read()
        for label, n in (("mid-stream", len(gdata) // 2), ("without its trailer", len(gdata) - 4)):
            p = os.path.join(tmp, "cut-%d.jsonl.gz" % n)
            with open(p, "wb") as f:
                f.write(gdata[:n])
            r = replay(p)
            if r.returncode != 1:
                errs.append("gzip cut %s (%d of %d bytes): exit %d, expected 1; stderr %r"
                            % (label, n, len(gdata), r.returncode, r.stderr))
            if not re.search(re.escape(p) + r":\d+:", r.stderr):
                errs.append("gzip cut %s: stderr does not name %s:LINE: %r" % (label, p, r.stderr))
        check(not errs, "\n".join(errs))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- 6: privileges -----------------------------------------------------

def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)


CAP_FIELDS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")


@test("25_capabilities_dropped")
def t_privs():
    port = pick_port()
    with Netns() as ns:
        tr = ns.tracer("-P", str(port), snapshot=True)
        pid = tr.proc.pid
        deadline = time.monotonic() + 10
        while True:
            st = proc_status(pid)
            if int(st["CapEff"], 16) == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        caps = {k: st.get(k) for k in CAP_FIELDS + ("NoNewPrivs",)}
        check(all(st.get(k) and int(st[k], 16) == 0 for k in CAP_FIELDS),
              "capabilities of the running tcptrail (pid %d) 10 s after start: %s" % (pid, caps))
        check(st.get("NoNewPrivs") == "1", "NoNewPrivs of the running tcptrail: %s" % caps)
        srv, cli = ns.peer("server"), ns.peer("client")
        srv.cmd("listen 4 127.0.0.1 %d" % port)
        cli.cmd("connect 4 127.0.0.1 %d" % port)
        srv.cmd("accept")
        tr.wait_for(lambda t: has(t, "SYN_SENT", "ESTABLISHED", pid=cli.pid)
                    and has(t, "SYN_RECV", "ESTABLISHED", pid=srv.pid), what="the handshake")
        st = proc_status(pid)
        check(all(int(st[k], 16) == 0 for k in CAP_FIELDS) and st["NoNewPrivs"] == "1",
              "capabilities came back: %s" % st)
        tr.stop()


# ---- 7: hostile names --------------------------------------------------

# stage 1 re-executes python with a hostile argv[0]; stage 2 renames itself
HOSTILE = r'''
import ctypes, os, socket, sys
if sys.argv[1] == "exec":
    argv0 = bytes.fromhex(sys.argv[2])
    os.execv("/proc/self/exe", [argv0, "-c", sys.argv[3], "run"] + sys.argv[4:])
role, name, port = sys.argv[2], bytes.fromhex(sys.argv[3]), int(sys.argv[4])
if role == "server":
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(15, ctypes.c_char_p(name), 0, 0, 0):   # PR_SET_NAME
        print("err prctl", flush=True); sys.exit(1)
else:
    with open("/proc/self/comm", "wb", buffering=0) as f:
        f.write(name)
with open("/proc/self/comm", "rb") as f:
    print("comm " + f.read()[:-1].hex(), flush=True)
if role == "server":
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", port)); l.listen(8)
    print("ready", flush=True)
    sys.stdin.readline()
    c, _ = l.accept()
    while c.recv(4096):
        pass
    c.close()
    sys.stdin.readline()
    l.close()
    print("closed", flush=True)
    sys.stdin.readline()
else:
    s = socket.socket(); s.connect(("127.0.0.1", port)); s.sendall(b"x" * 10); s.close()
    print("done", flush=True)
    sys.stdin.readline()
'''

SRV_NAME = b"\x1b[2J\x07srv\n\x7f\\\xff"        # 12 bytes: CSI, BEL, LF, DEL, \, bad UTF-8
CLI_NAME = b"c\x1b]0;\x07\xff\xfe\\\n\x7fz"      # 13 bytes: OSC, BEL, invalid bytes
ARGV0 = b"/tmp/\x1b[31mev\x07il\n\x7f\\\xff"


def esc(b):
    """The escaped form the README promises, computed from the spec: printable
    ASCII but the backslash as is, well-formed UTF-8 (not C1) as is, any other
    byte as \\xNN."""
    out, i = [], 0
    while i < len(b):
        c = b[i]
        if 0x20 <= c < 0x7f and c != 0x5c:
            out.append(chr(c))
            i += 1
            continue
        if c >= 0x80:
            for n in (2, 3, 4):
                try:
                    ch = b[i:i + n].decode("utf-8")
                except UnicodeDecodeError:
                    continue
                if len(ch) == 1 and not 0x80 <= ord(ch) <= 0x9f:
                    out.append(ch)
                    i += n
                    break
            else:
                out.append("\\x%02x" % c)
                i += 1
            continue
        out.append("\\x%02x" % c)
        i += 1
    return "".join(out)


def hostile_peer(ns, role, name, port):
    p = RawProc(ns.exec_argv([PYTHON, "-c", HOSTILE, "exec", ARGV0.hex(), HOSTILE, role,
                              name.hex(), str(port)]), stdin=True)
    p.wait_out(lambda o: b"\n" in o, 20, "the peer's comm")
    first = p.stdout().split(b"\n")[0].decode()
    check(first == "comm " + name.hex(), "%s: could not take its name: %r" % (role, first))
    return p


def check_jsonl_stream(label, data, errs):
    ctl = raw_ctl(data)
    if ctl:
        errs.append("%s: %d raw control bytes, first at %d: %r"
                    % (label, len(ctl), ctl[0][0], data[max(0, ctl[0][0] - 60):ctl[0][0] + 20]))
    try:
        recs, _ = parse_jsonl(data, label)
    except TestFailure as e:
        errs.append(str(e))
        return []
    return recs


def check_names(label, recs, pids, errs):
    n = 0
    for r in recs:
        if r["type"] not in ("transition", "snapshot") or r.get("pid") not in pids:
            continue
        n += 1
        want = esc(pids[r["pid"]])
        if r.get("comm") != want:
            errs.append("%s: %s %s pid %s comm %r, expected %r"
                        % (label, r["type"], "%s:%s %s->%s" % (r.get("laddr"), r.get("lport"),
                                                             r.get("old_state"), r.get("state")),
                           r["pid"], r.get("comm"), want))
    if not n:
        errs.append("%s: no record owned by the hostile peers" % label)


def check_text(label, data, n_rows, errs):
    ctl = raw_ctl(data)
    if ctl:
        errs.append("%s: %d raw control bytes, first at %d: %r"
                    % (label, len(ctl), ctl[0][0], data[max(0, ctl[0][0] - 60):ctl[0][0] + 20]))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        errs.append("%s: not valid UTF-8: %s" % (label, e))
        text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    if lines[-1]:
        errs.append("%s: does not end with a newline" % label)
    lines = lines[:-1]
    rows = [l for l in lines if l.startswith("tcp")]
    other = [l for l in lines if not l.startswith("tcp")
             and not l.startswith("Active Internet") and not l.startswith("Proto")]
    if other or len(rows) != n_rows:
        errs.append("%s: %d rows for %d records, stray lines %r"
                    % (label, len(rows), n_rows, other[:5]))
    return rows


@test("26_hostile_process_names_escaped")
def t_hostile():
    port = pick_port()
    tmp = tempfile.mkdtemp(prefix="tt-name.")
    gz = os.path.join(tmp, "cap.jsonl.gz")
    procs = []
    try:
        with Netns() as ns:
            srv = hostile_peer(ns, "server", SRV_NAME, port)
            procs.append(srv)
            srv.wait_out(lambda o: b"ready\n" in o, 20, "the hostile listener")
            txt = RawProc(ns.exec_argv([TCPTRAIL, "--color=never", "-P", str(port), "-o", gz]))
            js = RawProc(ns.exec_argv([TCPTRAIL, "--json", "-P", str(port)]))
            procs += [txt, js]
            # both have printed the snapshot row of the listener: attached
            txt.wait_out(lambda o: b":%d " % port in o, 20, "the snapshot row")
            js.wait_out(lambda o: b'"type":"snapshot"' in o, 20, "the snapshot record")
            srv.send(b"accept")
            cli = hostile_peer(ns, "client", CLI_NAME, port)
            procs.append(cli)
            cli.wait_out(lambda o: b"done\n" in o, 20, "the hostile client")
            srv.send(b"close")
            srv.wait_out(lambda o: b"closed\n" in o, 20, "the listener's close")
            js.wait_out(lambda o: o.count(b'"old_state":"LISTEN","state":"CLOSE"') == 1
                        and b'"FIN_WAIT2","state":"TIME_WAIT"' in o
                        and b'"LAST_ACK","state":"CLOSE"' in o, 20, "the connection's end")
            time.sleep(0.2)
            for p in (txt, js):
                os.kill(p.pid, signal.SIGINT)
            rc_t, rc_j = txt.wait(20), js.wait(20)
            check(rc_t == 0 and rc_j == 0, "exit %d/%d; stderr %r %r"
                  % (rc_t, rc_j, bytes(txt.err), bytes(js.err)))
            pids = {srv.pid: SRV_NAME, cli.pid: CLI_NAME}
        errs = []
        jrecs = check_jsonl_stream("--json stdout", js.stdout(), errs)
        check_names("--json stdout", jrecs, pids, errs)
        with open(gz, "rb") as f:
            cdata = zlib.decompress(f.read(), 16 + zlib.MAX_WBITS)
        crecs = check_jsonl_stream(gz, cdata, errs)
        check_names(gz, crecs, pids, errs)
        n_rows = sum(1 for r in crecs if r["type"] in ("snapshot", "transition", "lost"))
        rows = check_text("text stdout", txt.stdout(), n_rows, errs)
        for pid, name in pids.items():
            want = "%d/%s" % (pid, esc(name))
            n_tr = sum(1 for r in transitions(crecs) if r["pid"] == pid)
            got = sum(1 for l in rows if ARROW.search(l) and want in l)
            if got != n_tr or not n_tr:
                errs.append("text stdout: %d lines show %r, the capture has %d transitions of pid %d"
                            % (got, want, n_tr, pid))
        # the snapshot row names the listener as netstat does: PID/argv[0]'s
        # basename, cut to 19 bytes, escaped
        snap_owner = esc((b"%d/%s" % (srv.pid, ARGV0.rsplit(b"/", 1)[1]))[:19])
        if not any(snap_owner in l for l in rows if not ARROW.search(l)):
            errs.append("text stdout: no snapshot row shows %r:\n%s"
                        % (snap_owner, "\n".join(r for r in rows if not ARROW.search(r))))
        r = subprocess.run([TCPTRAIL, "-r", gz, "--color=never"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        if r.returncode != 0:
            errs.append("replay: exit %d, stderr %r" % (r.returncode, r.stderr))
        check_text("replay text", r.stdout, n_rows, errs)
        check(not errs, "\n".join(errs))
    finally:
        for p in procs:
            p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
