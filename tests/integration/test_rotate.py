# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""--rotate-to: tcptrail renames its capture itself at SIGHUP.

54c runs docs/fleet.md's --rotate-to recipe with the RELP recipe of test 54
(a test of its own rather than a variant of 54/54b: those run the
move-and-SIGHUP recipe, which stays documented and must keep working):
several rotations under load, the central copy equal to the rotated files
and the current one in order, and a symlink planted at the next name
neither followed nor replaced. 54d makes the rename fail (another
filesystem, then a directory tcptrail cannot write in once it has dropped
its capabilities) and checks that nothing is lost and the run goes on.
"""
import glob
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time

from harness import TCPTRAIL, Netns, check, pick_port, run, skip, test
from test_cgroup import tracer as net_only_tracer
from test_fleet import central_copy, config, start_central, lines_of, missing, recipe_block, start_rsyslogd

CAPTURE = "/var/log/tcptrail/capture.jsonl"


def mounted_in(pid, path):
    """Is path a mount point in process pid's mount namespace?"""
    with open("/proc/%d/mountinfo" % pid) as f:
        return any(line.split()[4] == path for line in f)


def rotate_template(tmp):
    """The --rotate-to template of fleet.md's recipe, in tmp."""
    block = recipe_block("tcptrail -q -o %s \\" % CAPTURE)
    args = shlex.split(block.replace("\\\n", " ").splitlines()[0])
    check("--rotate-to" in args, "fleet.md's recipe has no --rotate-to: %r" % args)
    tmpl = args[args.index("--rotate-to") + 1]
    check(tmpl.startswith("/var/log/tcptrail/"), "the recipe's template: %r" % tmpl)
    return os.path.join(tmp, os.path.basename(tmpl))


def rotated_files(tmp, stem):
    """Regular files named stem.<UTC time>..., in rotation order: by time,
    then by the .N a taken name adds."""
    out = []
    for p in glob.glob(os.path.join(tmp, stem + ".*")):
        m = re.match(r".*\.(\d{8}T\d{6}Z)\.jsonl(?:\.(\d+))?$", p)
        if m and not os.path.islink(p):
            out.append((m.group(1), int(m.group(2) or 0), p))
    return [p for _, _, p in sorted(out)]


def seqs_of(lines):
    return [int(m.group(1)) for m in (re.search(rb'"seq":(\d+)', l) for l in lines) if m]


def verify(files):
    r = subprocess.run([TCPTRAIL, "--verify"] + files, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    check(r.returncode == 0, "--verify %s: exit %d %s%s" % (" ".join(files), r.returncode,
                                                            r.stdout, r.stderr))


def plant(tmpl, victim, seconds):
    """Symlinks to victim at the names the next `seconds` seconds give
    (from the next second on: this one's name may be taken by a rotation
    already), and returns once the first of them has begun."""
    now = int(time.time())
    names = [time.strftime(tmpl, time.gmtime(now + i)) for i in range(1, seconds + 1)]
    for n in names:
        os.symlink(victim, n)
    while time.time() < now + 1.05:
        time.sleep(0.01)
    return names


def written(tmp, cap):
    """Transitions in the rotated files and the current one so far (the
    harness's wait_for reads the current file only)."""
    n = 0
    for p in rotated_files(tmp, "capture") + [cap]:
        try:
            n += len(seqs_of(lines_of(p)))
        except FileNotFoundError:
            pass
    return n


def wait_written(tmp, cap, n, t):
    deadline = time.monotonic() + 30
    while written(tmp, cap) < n:
        check(time.monotonic() < deadline and t.proc.p.poll() is None,
              "%d of %d transitions written; stderr: %s" % (written(tmp, cap), n,
                                                           t.proc.err_lines))
        time.sleep(0.05)


def load_with_rotations(ns, t, port, rotations, tmpl, victim):
    """Connections in bulk while SIGHUPs come; before the last, symlinks at
    the names it may take. Returns the planted names."""
    srv, cli = ns.peer("server"), ns.peer("client")
    srv.cmd("listen 4 127.0.0.1 %d" % port)
    srv.cmd("serve 1000000")
    planted = []
    for i in range(rotations):
        cli.send("bulk 4 127.0.0.1 %d 150" % port)
        time.sleep(0.1)
        if i == rotations - 1:
            planted = plant(tmpl, victim, 4)
        os.kill(t.proc.pid, signal.SIGHUP)
        cli.expect("ok bulk 150", timeout=60)
    cli.cmd("bulk 4 127.0.0.1 %d 100" % port, timeout=60)
    wait_written(os.path.dirname(t.capture), t.capture, 1 + 10 * (150 * rotations + 100), t)
    srv.quit()
    cli.quit()
    return planted


@test("54c_rsyslog_ships_the_capture_across_rotate_to")
def t_rsyslog_rotate_to():
    if not shutil.which("rsyslogd"):
        skip("rsyslogd is not installed (scripts/install-deps.sh installs rsyslog)")
    if not os.path.exists("/usr/share/doc/rsyslog-relp"):
        skip("rsyslog-relp is not installed (scripts/install-deps.sh installs it)")
    port, rport, rotations = pick_port(), pick_port(), 5
    tmp = tempfile.mkdtemp(prefix="tt-rotto.")
    cap, victim = os.path.join(tmp, "capture.jsonl"), os.path.join(tmp, "victim")
    try:
        with open(victim, "wb") as f:
            f.write(b"precious\n")
        tmpl = rotate_template(tmp)
        central_conf, central_work = config(
            recipe_block("# /etc/rsyslog.d/60-tcptrail-central.conf"), tmp, "central", rport)
        edge_conf, edge_work = config(
            recipe_block("# /etc/rsyslog.d/60-tcptrail-ship.conf"), tmp, "edge", rport)
        os.makedirs(os.path.join(tmp, "fleet"))
        with Netns() as ns:
            central = start_central(ns, central_conf, central_work, rport)
            t = ns.tracer("-P", str(port), "--rotate-to", tmpl, capture=cap)
            edge = start_rsyslogd(ns, edge_conf, edge_work)
            planted = load_with_rotations(ns, t, port, rotations, tmpl, victim)
            time.sleep(0.5)
            t.stop()
            t.check_loss()
            check(not t.proc.err_lines[:-1] and "cannot" not in " ".join(t.proc.err_lines),
                  "stderr: %s" % t.proc.err_lines)
            files = rotated_files(tmp, "capture")
            check(len(files) == rotations, "%d SIGHUPs, %d rotated files: %s"
                  % (rotations, len(files), files))
            # (c) the planted names: still symlinks to the victim, which is
            # untouched, and the last rotation took a name after one of them
            with open(victim, "rb") as f:
                check(f.read() == b"precious\n", "the planted symlink's target was written")
            for n in planted:
                check(os.path.islink(n) and os.readlink(n) == victim,
                      "the planted symlink %s was replaced" % n)
            check(any(files[-1].startswith(n + ".") for n in planted),
                  "the last rotation (%s) did not meet a planted name %s; the directory: %s"
                  % (files[-1], planted, sorted(os.listdir(tmp))))
            for p in files + [cap]:
                check(os.stat(p).st_mode & 0o7777 == 0o600, "%s is not 0600" % p)
            # (b) the files in order are one capture, cut where the SIGHUPs came
            want = [l for p in files + [cap] for l in lines_of(p)]
            seqs = seqs_of(want)
            check(seqs == list(range(len(seqs))), "the capture's seqs are not 0..n-1 in order")
            check(all(seqs_of(lines_of(p)) for p in files[1:] + [cap]),
                  "a file after the first holds no transition: %s"
                  % [(p, len(seqs_of(lines_of(p)))) for p in files + [cap]])
            verify(files + [cap])
            # (a) the central copy: the concatenation, in order
            got = lines_of(central_copy(tmp, want, central, edge))
            first_diff = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None)
            check(got == want, "the central copy differs from the rotated files and the current "
                  "one: %d lines against %d, first difference at line %s (%s)"
                  % (len(got), len(want), first_diff, missing(got, want)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def rot_errors(t):
    return [l for l in t.proc.err_lines if "cannot rotate" in l]


def wait_until(t, cond, what):
    deadline = time.monotonic() + 10
    while not cond():
        check(time.monotonic() < deadline, "timeout waiting for %s; stderr: %s"
              % (what, t.proc.err_lines))
        time.sleep(0.05)


class Churn:
    """Connections in batches; each batch's transitions written before the next step."""

    def __init__(self, ns, t, port, tmp, cap):
        self.t, self.port, self.tmp, self.cap, self.conns = t, port, tmp, cap, 0
        self.srv, self.cli = ns.peer("server"), ns.peer("client")
        self.srv.cmd("listen 4 127.0.0.1 %d" % port)
        self.srv.cmd("serve 1000000")

    def batch(self, n=50):
        self.cli.cmd("bulk 4 127.0.0.1 %d %d" % (self.port, n), timeout=60)
        self.conns += n
        wait_written(self.tmp, self.cap, self.transitions(), self.t)

    def transitions(self):
        return 1 + 10 * self.conns

    def quit(self):
        self.srv.quit()
        self.cli.quit()


def fail_rotations(t, other, cap, churn):
    """EXDEV (said once for two SIGHUPs), then EACCES: the records stay in cap."""
    for _ in range(2):
        os.kill(t.proc.pid, signal.SIGHUP)
        wait_until(t, lambda: rot_errors(t), "the EXDEV message")
        churn.batch()
    time.sleep(0.3)
    errs = rot_errors(t)
    check(len(errs) == 1, "two failed SIGHUPs, %d messages: %s" % (len(errs), errs))
    check(errs[0].startswith("tcptrail: cannot rotate '%s'" % cap) and "cross-device" in errs[0]
          and "same filesystem" in errs[0] and "nothing lost" in errs[0],
          "the EXDEV message does not name the file, the cause and the fix: %r" % errs[0])
    check(os.listdir(other) == [], "files in the other filesystem: %s" % os.listdir(other))
    run(["umount", other])
    check(not mounted_in(t.proc.pid, other) and not os.path.ismount(other),
          "%s is still mounted (here: %s; for tcptrail: %s)"
          % (other, os.path.ismount(other), mounted_in(t.proc.pid, other)))
    # tcptrail runs without capabilities after start-up: root's own 0555
    # directory is closed to it
    os.chmod(other, 0o555)
    os.kill(t.proc.pid, signal.SIGHUP)
    wait_until(t, lambda: len(rot_errors(t)) == 2, "the EACCES message")
    check("Permission denied" in rot_errors(t)[1] and "writable" in rot_errors(t)[1],
          "the EACCES message: %r" % rot_errors(t)[1])
    churn.batch()


@test("54d_rotate_to_failure_keeps_writing")
def t_rotate_to_fails():
    port = pick_port()
    tmp = tempfile.mkdtemp(prefix="tt-rotfail.")
    other = os.path.join(tmp, "other")
    cap = os.path.join(tmp, "capture.jsonl")
    os.makedirs(other)
    try:
        run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tt-rotfail", other])
        with Netns() as ns:
            # in this mount namespace (nsenter --net, not ip netns exec):
            # the test's umount is tcptrail's, whatever the propagation
            t = net_only_tracer(ns, "-P", str(port), "--rotate-to",
                                os.path.join(other, "capture.%Y%m%dT%H%M%SZ.jsonl"),
                                capture=cap)
            churn = Churn(ns, t, port, other, cap)
            churn.batch()
            fail_rotations(t, other, cap, churn)
            before = churn.transitions()
            # fixed: the next SIGHUP rotates, and the run went on all along
            os.chmod(other, 0o755)
            os.kill(t.proc.pid, signal.SIGHUP)
            wait_until(t, lambda: rotated_files(other, "capture"), "a rotated file")
            churn.batch()
            churn.quit()
            t.stop()
            t.check_loss()
            check(len(rot_errors(t)) == 2, "stderr: %s" % t.proc.err_lines)
        files = rotated_files(other, "capture")
        check(len(files) == 1, "one rotation worked, %d files: %s" % (len(files), files))
        first = lines_of(files[0])
        check(not any(b'"type":"lost"' in l or b'"type":"summary"' in l for l in first),
              "the rotated file has lost or summary records")
        # what was written while the renames failed is all in the rotated file
        check(len(seqs_of(first)) >= before, "the rotated file holds %d transitions, the "
              "connections before the fix made %d" % (len(seqs_of(first)), before))
        seqs = seqs_of(first + lines_of(cap))
        check(seqs == list(range(len(seqs))) and len(seqs) >= churn.transitions(),
              "the two files' seqs are not 0..n-1 (n >= %d): %d seqs"
              % (churn.transitions(), len(seqs)))
        verify(files + [cap])
    finally:
        if os.path.ismount(other):
            subprocess.run(["umount", other], stderr=subprocess.DEVNULL)
        if os.path.isdir(other):
            os.chmod(other, 0o755)
        shutil.rmtree(tmp, ignore_errors=True)
