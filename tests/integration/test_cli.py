# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Signals, pipes and usage errors."""
import json
import os
import re
import signal
import subprocess
import time

from harness import TCPTRAIL, Netns, check, pick_port, run, test

SUMMARY = re.compile(r"^tcptrail: (\d+) events seen, (\d+) written, (\d+) lost, (\d+) filtered$")


@test("15a_sigterm_exits_0_with_summary")
def t_sigterm():
    port = pick_port()
    with Netns() as ns:
        tr = ns.tracer("-P", str(port))
        cli = ns.peer("client")
        r = cli.cmd("connect 4 127.0.0.1 %d" % port, ok=False)
        check(r == "err connect ECONNREFUSED", "client: %s" % r)
        tr.wait_for(lambda t: len(t) >= 2, what="the refused connect")
        os.kill(tr.proc.pid, signal.SIGTERM)
        rc = tr.proc.wait(20)
        check(rc == 0, "exit status %d after SIGTERM" % rc)
        summ = [l for l in tr.proc.err_lines if SUMMARY.match(l)]
        check(len(summ) == 1, "no summary line on stderr: %r" % tr.proc.err_lines)
        seen, written, lost, _ = map(int, SUMMARY.match(summ[0]).groups())
        check(written == 2 and lost == 0 and seen >= 2, "summary: %s" % summ[0])
        last = json.loads(tr.proc.lines[-1])
        check(last["type"] == "summary" and last["written"] == 2, "last record: %s" % last)


@test("15b_pipe_closed_by_head")
def t_pipe():
    port = pick_port()
    with Netns() as ns:
        # the pipe is read by head, not by us: the tool sees EPIPE on a write
        t = subprocess.Popen(ns.exec_argv([TCPTRAIL, "--no-snapshot", "-P", str(port)]),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        head = subprocess.Popen(["head", "-1"], stdin=t.stdout, stdout=subprocess.PIPE, text=True)
        t.stdout.close()
        try:
            first = head.communicate(timeout=20)[0]
            check(first.strip(), "head read nothing")
            cli = ns.peer("client")
            deadline = time.monotonic() + 15
            while t.poll() is None and time.monotonic() < deadline:
                # each refused connect is two events written into the closed pipe
                cli.cmd("connect 4 127.0.0.1 %d" % port, ok=False)
                time.sleep(0.05)
            check(t.poll() is not None, "tcptrail still runs 15 s after its reader went away")
            err = t.stderr.read()
            check(t.returncode == 0, "exit status %d after the pipe closed; stderr %r"
                  % (t.returncode, err))
            noise = [l for l in err.splitlines() if not SUMMARY.match(l)]
            check(not noise, "not quiet: stderr %r" % err)
        finally:
            for p in (t, head):
                if p.poll() is None:
                    p.kill()
                    p.wait()


@test("15c_usage_errors_exit_2")
def t_usage():
    errs = []
    for args, needle in ((["--no-such-flag"], "Usage:"), (["-P", "70000"], "port"),
                         (["-P", "0"], "port"), (["--snapshot-only", "--no-snapshot"], "exclude")):
        r = run([TCPTRAIL] + args, check_rc=False)
        if r.returncode != 2:
            errs.append("%s: exit %d, expected 2" % (" ".join(args), r.returncode))
        if needle not in r.stderr:
            errs.append("%s: %r not on stderr: %r" % (" ".join(args), needle, r.stderr[:200]))
        if r.stdout:
            errs.append("%s: stdout not empty: %r" % (" ".join(args), r.stdout[:200]))
    check(not errs, "\n".join(errs))
