# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""docs/fleet.md's rsyslog recipe, as written there: two real rsyslogd
(an edge with imfile tailing tcptrail's capture, a central server), each
with its own configuration, work directory and pid file, on the test
namespace's loopback. The lines that arrive must be the capture's lines,
in order, nothing lost or doubled across a SIGHUP rotation.
"""
import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from harness import ROOT, TCPTRAIL, Netns, Proc, check, pick_port, skip, test

FLEET_MD = os.path.join(ROOT, "docs", "fleet.md")


def recipe_block(first_line):
    """The fenced block of docs/fleet.md that starts with first_line."""
    with open(FLEET_MD) as f:
        text = f.read()
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, re.S | re.M):
        if block.startswith(first_line + "\n"):
            return block
    check(False, "docs/fleet.md has no block starting with %r" % first_line)


def config(block, tmp, role, port):
    """The recipe with this test's paths and port; the global() line stands
    for what Debian's /etc/rsyslog.conf sets before including rsyslog.d,
    plus the message size fleet.md asks for."""
    work = os.path.join(tmp, role)
    os.makedirs(work, exist_ok=True)
    text = (block.replace("/var/log/tcptrail/capture.jsonl", os.path.join(tmp, "capture.jsonl"))
            .replace("/var/log/tcptrail-fleet/", os.path.join(tmp, "fleet") + "/")
            .replace("central.example.net", "127.0.0.1")
            .replace('port="2514"', 'port="%d"' % port))
    check(text.count(str(port)) == 1, "the %s recipe names its port once" % role)
    path = os.path.join(work, "rsyslog.conf")
    with open(path, "w") as f:
        f.write('global(workDirectory="%s" maxMessageSize="64k")\n' % work + text)
    r = subprocess.run(["rsyslogd", "-N1", "-f", path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=30)
    check(r.returncode == 0, "rsyslogd -N1 refuses the %s recipe:\n%s\n%s" % (role, r.stdout, text))
    return path, work


def start_rsyslogd(ns, conf, work):
    p = Proc(ns.exec_argv(["rsyslogd", "-n", "-f", conf, "-i", os.path.join(work, "rsyslogd.pid")]))
    ns.procs.append(p)
    return p


def lines_of(path):
    with open(path, "rb") as f:
        return f.read().splitlines()


def missing(got, want):
    """Which of the capture's lines did not arrive, by line number."""
    have = set(got)
    gone = [i for i, l in enumerate(want) if l not in have]
    if not gone:
        return "none missing"
    runs, start = [], gone[0]
    for a, b in zip(gone, gone[1:] + [None]):
        if b != a + 1:
            runs.append("%d-%d" % (start, a) if a != start else str(start))
            start = b
    return "missing capture lines %s of %d%s" % (", ".join(runs[:8]), len(want),
                                                 ", ..." if len(runs) > 8 else "")


def ship_across_rotation(edge_first, central_first, need_relp):
    if not shutil.which("rsyslogd"):
        skip("rsyslogd is not installed (scripts/install-deps.sh installs rsyslog)")
    if need_relp and not os.path.exists("/usr/share/doc/rsyslog-relp"):
        skip("rsyslog-relp is not installed (scripts/install-deps.sh installs it)")
    port, rport = pick_port(), pick_port()
    tmp = tempfile.mkdtemp(prefix="tt-fleet.")
    cap, cap1 = os.path.join(tmp, "capture.jsonl"), os.path.join(tmp, "capture.1.jsonl")
    try:
        central_conf, central_work = config(recipe_block(central_first), tmp, "central", rport)
        edge_conf, edge_work = config(recipe_block(edge_first), tmp, "edge", rport)
        os.makedirs(os.path.join(tmp, "fleet"))
        with Netns() as ns:
            central = start_central(ns, central_conf, central_work, rport)
            t = ns.tracer("-P", str(port), capture=cap)
            edge = start_rsyslogd(ns, edge_conf, edge_work)
            srv, cli = ns.peer("server"), ns.peer("client")
            srv.cmd("listen 4 127.0.0.1 %d" % port)
            srv.cmd("serve 400")
            cli.cmd("bulk 4 127.0.0.1 %d 100" % port, timeout=60)
            # the rotation while connections come: records land in the
            # moved file between the move and the SIGHUP
            cli.send("bulk 4 127.0.0.1 %d 200" % port)
            time.sleep(0.05)
            os.rename(cap, cap1)
            time.sleep(0.3)
            os.kill(t.proc.pid, signal.SIGHUP)
            # the last 100 connections after the new file exists: a loaded
            # machine can take the SIGHUP late
            deadline = time.monotonic() + 20
            while not os.path.exists(cap):
                check(time.monotonic() < deadline, "no new capture file after SIGHUP")
                time.sleep(0.05)
            cli.expect("ok bulk 200", timeout=60)
            cli.cmd("bulk 4 127.0.0.1 %d 100" % port, timeout=60)
            srv.expect("done serve 400", timeout=60)
            t.wait_for(lambda trs: sum(1 for r in trs if r["state"] == "TIME_WAIT") >= 1, timeout=20)
            time.sleep(0.5)
            t.stop()
            want = lines_of(cap1) + lines_of(cap)
            seqs = [int(m.group(1)) for m in (re.search(rb'"seq":(\d+)', l) for l in want) if m]
            check(seqs == list(range(len(seqs))) and len(seqs) > 400 * 8,
                  "the capture itself: %d seqs, not 0..n-1" % len(seqs))
            n1 = sum(1 for l in lines_of(cap1) if b'"seq":' in l)
            check(n1 > 100 * 8 and n1 < len(seqs) - 100 * 8,
                  "the rotation did not split the records (%d of %d in the first file)"
                  % (n1, len(seqs)))
            # the central copy: one file for the edge host
            central_file = central_copy(tmp, want, central, edge)
            got = lines_of(central_file)
            first_diff = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None)
            check(got == want, "the central copy differs from the capture: %d lines against %d, "
                  "first difference at line %s:\n%r\n%r"
                  % (len(got), len(want), first_diff,
                     got[first_diff] if first_diff is not None else got[len(want):][:1],
                     want[first_diff] if first_diff is not None else b""))
            # one run, rotated or not, arrives as one whole capture
            r = subprocess.run([TCPTRAIL, "--verify", central_file], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=60)
            check(r.returncode == 0, "--verify of the central copy: exit %d %s%s"
                  % (r.returncode, r.stdout, r.stderr))
            srv.quit()
            cli.quit()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def start_central(ns, conf, work, rport):
    """The central rsyslogd, once it listens on rport."""
    central = start_rsyslogd(ns, conf, work)
    deadline = time.monotonic() + 20
    while ":%d " % rport not in ns.sh(["ss", "-ltnH"]).stdout:
        check(central.p.poll() is None and time.monotonic() < deadline,
              "the central rsyslogd does not listen: %s" % "\n".join(central.err_lines))
        time.sleep(0.1)
    return central


def central_copy(tmp, want, central, edge):
    """The central rsyslogd's one file, once it holds as many lines as want
    and nothing more came for a second."""
    deadline = time.monotonic() + 60
    while True:
        files = glob.glob(os.path.join(tmp, "fleet", "*.jsonl"))
        got = lines_of(files[0]) if len(files) == 1 else []
        if len(got) >= len(want):
            break
        check(time.monotonic() < deadline and len(files) <= 1,
              "the central rsyslogd has %d of the capture's %d lines in %r (%s); stderr: %s %s"
              % (len(got), len(want), files, missing(got, want), central.err_lines[-5:],
                 edge.err_lines[-5:]))
        time.sleep(0.2)
    time.sleep(1)   # nothing more must come
    return files[0]


@test("54_rsyslog_ships_the_capture_across_rotation")
def t_rsyslog_relp():
    ship_across_rotation("# /etc/rsyslog.d/60-tcptrail-ship.conf",
                         "# /etc/rsyslog.d/60-tcptrail-central.conf", True)


@test("54b_rsyslog_tcp_ships_the_capture_across_rotation")
def t_rsyslog_tcp():
    ship_across_rotation("# /etc/rsyslog.d/60-tcptrail-ship-tcp.conf",
                         "# /etc/rsyslog.d/60-tcptrail-central-tcp.conf", False)
