# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Daemons: a listener whose owner exits while other processes hold it.

Each server listens, forks its workers and then, told to, exits in the
parent; a client in the namespace connects after that, at once and a few
more times. Every server-side record (the listener, the request sockets,
the accepted connections) must name a process that held the listener at
that moment: the parent before its exit, a worker (which held it from its
fork until the test kills it at the end) at any time; never the exited
parent after its exit, never a process that never held the socket, and
never no one. The pids come from the processes themselves, the moment of
the parent's exit from the test's own clock (CLOCK_BOOTTIME, as the
records' boot_ns) around the wait for it. Every process started is killed
by pid in finally, the namespace deleted.
"""
import os
import shutil
import signal
import tempfile
import time

from harness import (PYTHON, Netns, Proc, TestFailure, check, fmt_rec, pick_port, show,
                     test, transitions)

# The server. argv: mode (fork: the workers run this code; late: the same,
# accepting only after the parent's exit; close: the parent closes its copy
# of the listener after the forks, says "closed", and keeps running; exec:
# each worker execs WORKER under the name argv[4] with the listener
# inherited),
# port, workers. Prints "parent PID", then "worker PID" per worker; the
# parent exits on "exit" on stdin. A worker takes connections until the
# test kills it: reads to EOF, then closes (the client closes first, so
# every server-side record happens while the worker lives).
SERVER = r'''
import os, socket, sys, time
mode, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(64)
os.write(1, b"parent %d\n" % os.getpid())

parent = os.getpid()

def serve(s):
    os.write(1, b"worker %d\n" % os.getpid())
    while mode == "late" and os.getppid() == parent:
        time.sleep(0.005)   # accepts only once the parent has exited
    while True:
        c, _ = s.accept()
        while c.recv(4096):
            pass
        c.close()

for i in range(n):
    if os.fork() == 0:
        mode = "fork" if mode == "close" else mode
        if mode == "exec":
            os.set_inheritable(s.fileno(), True)
            os.execv(sys.argv[4], [sys.argv[4], "-c", sys.argv[5], str(s.fileno())])
        serve(s)
if mode == "close":
    s.close()   # the parent keeps running without its copy
    os.write(1, b"closed\n")
for line in sys.stdin:
    if line.strip() == "exit":
        os._exit(0)
'''

# The exec'd worker: the listener is descriptor argv[1].
WORKER = r'''
import os, socket, sys
s = socket.socket(fileno=int(sys.argv[1]))
os.write(1, b"worker %d\n" % os.getpid())
while True:
    c, _ = s.accept()
    while c.recv(4096):
        pass
    c.close()
'''

# The client: on "go N", N connections one after the other, each sending a
# byte and closing first; "done" when the server has seen each one close.
# "hold" connects (the handshake completes, in the listener's queue) and
# says "held"; "release" then sends and closes that one.
CLIENT = r'''
import socket, sys
port = int(sys.argv[1])
held = None

def finish(c):
    c.sendall(b"x")
    c.shutdown(socket.SHUT_WR)
    c.recv(1)
    c.close()

print("ready", flush=True)
for line in sys.stdin:
    w = line.split()
    if w[0] == "hold":
        held = socket.create_connection(("127.0.0.1", port))
        print("held", flush=True)
        continue
    if w[0] == "release":
        finish(held)
    for i in range(int(w[1]) if w[0] == "go" else 0):
        finish(socket.create_connection(("127.0.0.1", port)))
    print("done", flush=True)
'''


def boot_ns():
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME)


def kill_pid(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def server_side(trs, port):
    """The records of the listener and of the connections it accepted."""
    return [r for r in trs if r["lport"] == port]


def check_holders(recs, parent, workers, exit_lo, exit_hi, comm=None, dead=None):
    """Every record names a holder at its time: the parent only before its
    exit, a worker until the test killed it (dead: pid -> boot_ns after its
    death), or to the end (with comm, the exec'd name)."""
    bad = []
    dead = dead or {}
    for r in recs:
        ok = ((r["pid"] in workers and r["boot_ns"] < dead.get(r["pid"], 1 << 63)) or
              (r["pid"] == parent and r["boot_ns"] < exit_hi))
        if ok and comm and r["pid"] in workers and r["boot_ns"] > exit_hi:
            ok = r["comm"] == comm
        if not ok:
            when = ("after" if r["boot_ns"] > exit_hi else
                    "before" if r["boot_ns"] < exit_lo else "during")
            if r["pid"] in dead:
                when = "after its own death, and"
            bad.append("%s the parent's exit: %s" % (when, fmt_rec(r)))
    check(not bad, "%d of %d server-side records name no holder of the listener "
          "(parent %d, workers %s):\n%s\nall:\n%s"
          % (len(bad), len(recs), parent, sorted(workers), "\n".join(bad), show(recs)))


def say(proc, line, reply):
    proc.p.stdin.write(line + "\n")
    proc.p.stdin.flush()
    got = proc.next_line(30)
    check(got == reply, "client: %r -> %r, not %r" % (line, got, reply))


def kill_owner(tr, port, workers, cli, n):
    """Kills the worker the latest request socket named (the listener's
    owner), waits until it is gone, makes 4 more connections. Returns
    {pid: boot_ns after its death}."""
    reqs = [r for r in transitions(tr.seen()) if r["lport"] == port and r["state"] == "SYN_RECV"
            and r["old_state"] == "CLOSE"]
    w = reqs[-1]["pid"]
    check(w in workers, "the last request names %s, not a worker %s" % (w, sorted(workers)))
    kill_pid(w)
    deadline = time.monotonic() + 10
    while os.path.exists("/proc/%d" % w) and time.monotonic() < deadline:
        time.sleep(0.01)
    check(not os.path.exists("/proc/%d" % w), "worker %d did not die" % w)
    dead = {w: boot_ns()}
    say(cli, "go 4", "done")
    tr.wait_for(lambda t: sum(1 for r in t if r["lport"] == port and r["state"] == "CLOSE" and
                              r["old_state"] == "LAST_ACK") >= n + 4,
                what="%d server-side connections closed" % (n + 4))
    return dead


def run_daemon(nworkers, before=0, after=4, exec_name=None, late=False, stays=False,
               existing=False, kill=False, close=False):
    """The scenario: the server forks nworkers, `before` connections while
    the parent lives, the parent exits, then `after` connections, the first
    at once. late: the workers accept only after the parent's exit, and one
    connection made before it is closed by the client after it, in the
    listener's queue or just accepted: its records then carry the dead
    parent as its listener's owner, which the tool must replace. stays:
    the parent does not exit (a service manager keeping its copy); the
    window is then a 1.5 s pause after the first round. existing: the
    tracer starts once the workers run, and knows the listener from its
    snapshot. close: the parent closes its copy after the forks (and
    stays). kill: then the worker named as the listener's owner is
    killed, and 4 more connections made. Returns (server-side records,
    parent, workers, exit window, {killed pid: boot_ns after its death})."""
    port = pick_port()
    tmp = None
    procs = []
    workers = set()
    try:
        with Netns() as ns:
            if not existing:
                tr = ns.tracer("-P", str(port))
            mode = "exec" if exec_name else "late" if late else "close" if close else "fork"
            argv = [PYTHON, "-c", SERVER, mode, str(port), str(nworkers)]
            if exec_name:
                tmp = tempfile.mkdtemp(prefix="tt-daemon-")
                prog = os.path.join(tmp, exec_name)
                os.symlink(os.path.realpath(PYTHON), prog)
                argv += [prog, WORKER]
            srv = Proc(ns.exec_argv(argv), stdin=True)
            procs.append(srv)
            parent = int(srv.next_line(20).split()[1])
            check(parent == srv.pid, "server pid %d is not the process started (%d)"
                  % (parent, srv.pid))
            closed = not close
            while len(workers) < nworkers or not closed:
                line = srv.next_line(20)
                if close and line == "closed":
                    closed = True
                    continue
                check(line.startswith("worker "), "server: unexpected %r" % line)
                workers.add(int(line.split()[1]))
            if existing:
                tr = ns.tracer("-P", str(port), snapshot=True)
                rows = [r for r in tr.seen() if r.get("type") == "snapshot"]
                check(len(rows) == 1 and rows[0]["pid"] in workers | {parent},
                      "the snapshot shows the listener with a holder: %s" % rows)
            cli = Proc(ns.exec_argv([PYTHON, "-c", CLIENT, str(port)]), stdin=True)
            procs.append(cli)
            check(cli.next_line(20) == "ready", "client did not start")
            if before:
                say(cli, "go %d" % before, "done")
            if late:
                say(cli, "hold", "held")
            exit_lo = boot_ns()
            if stays:
                time.sleep(1.5)
            else:
                srv.p.stdin.write("exit\n")
                srv.p.stdin.flush()
                # the workers share the parent's stdout: wait for the process alone
                rc = srv.p.wait(10)
                check(rc == 0, "server parent exited %s" % rc)
            exit_hi = boot_ns()
            if late:
                say(cli, "release", "done")
            # at once: the first connection races the tool's look at the holders
            say(cli, "go %d" % after, "done")
            n = before + after + late
            tr.wait_for(lambda t: sum(1 for r in t if r["lport"] == port and
                                      r["state"] == "CLOSE" and r["old_state"] == "LAST_ACK") >= n,
                        what="%d server-side connections closed" % n)
            dead = kill_owner(tr, port, workers, cli, n) if kill else {}
            for w in workers:
                kill_pid(w)
            srv.kill()
            tr.wait_for(lambda t: any(r["lport"] == port and r["old_state"] == "LISTEN"
                                      for r in t), what="LISTEN -> CLOSE")
            trs = tr.stop()
    finally:
        for w in workers:
            kill_pid(w)
        for p in procs:
            p.kill()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    recs = server_side(trs, port)
    reqs = [r for r in recs if r["old_state"] == "CLOSE" and r["state"] == "SYN_RECV"]
    nreq = before + after + late + (4 if kill else 0)
    check(len(reqs) == nreq, "expected %d request sockets, got %d:\n%s"
          % (nreq, len(reqs), show(recs)))
    lsn = [r for r in recs if r["old_state"] == "CLOSE" and r["state"] == "LISTEN"]
    check(len(lsn) == (0 if existing else 1) and all(r["pid"] == parent for r in lsn),
          "the listener's CLOSE -> LISTEN names the parent %d:\n%s" % (parent, show(recs)))
    if kill:
        return recs, parent, workers, exit_lo, exit_hi, dead
    return recs, parent, workers, exit_lo, exit_hi


@test("60_daemon_listen_fork_parent_exits")
def t_daemon():
    recs, parent, workers, lo, hi = run_daemon(1, before=0, after=5, late=True)
    check_holders(recs, parent, workers, lo, hi)
    (child,) = workers
    after = [r for r in recs if r["boot_ns"] > hi]
    check(len(after) >= 5 * 4 and all(r["pid"] == child for r in after),
          "after the parent's exit every record names the child %d:\n%s" % (child, show(after)))
    # the connection queued before the exit: its records after it, before
    # or around the accept, name the child
    held = [r for r in recs if r["sock"] == recs[1]["sock"]]
    check(len(held) >= 3 and held[0]["pid"] == parent and
          any(r["boot_ns"] > hi and r["old_state"] == "ESTABLISHED" for r in held),
          "the connection made before the exit:\n%s" % show(held))


@test("61_daemon_prefork_workers_share_listener")
def t_prefork():
    """Three workers accept on one listener; the parent exits; then the
    worker the tool names as the listener's owner is killed: the next
    owner is another live worker, not the dead one."""
    recs, parent, workers, lo, hi, dead = run_daemon(3, before=4, after=8, kill=True)
    check_holders(recs, parent, workers, lo, hi, dead=dead)
    # after accept the accepter: each connection's records from its first
    # one after SYN_RECV -> ESTABLISHED name one worker
    after = [r for r in recs if r["boot_ns"] > hi and r["old_state"] != "LISTEN"]
    check(after and all(r["pid"] in workers for r in after),
          "after the parent's exit, records name workers %s:\n%s" % (sorted(workers), show(after)))


@test("62_daemon_listener_inherited_by_exec")
def t_exec():
    name = "ttexecd%d" % (os.getpid() % 1000)
    recs, parent, workers, lo, hi = run_daemon(1, before=2, after=4, exec_name=name)
    check_holders(recs, parent, workers, lo, hi, comm=name)
    (child,) = workers
    after = [r for r in recs if r["boot_ns"] > hi]
    check(len(after) >= 4 * 4 and all(r["pid"] == child and r["comm"] == name for r in after),
          "after the parent's exit every record names the exec'd %d/%s:\n%s"
          % (child, name, show(after)))


@test("63_daemon_socket_activation_prefers_accepter")
def t_activation():
    """The manager keeps its copy of the listener and never accepts; the
    exec'd service accepts. Both hold it: the records before accept may
    name either, but once the service has accepted, the tool prefers it."""
    name = "ttsvc%d" % (os.getpid() % 1000)
    recs, parent, workers, lo, hi = run_daemon(1, before=1, after=4, exec_name=name, stays=True)
    (svc,) = workers
    bad = [r for r in recs if r["pid"] not in (parent, svc)]
    check(not bad, "records name no holder (manager %d, service %d):\n%s"
          % (parent, svc, show(bad)))
    after = [r for r in recs if r["boot_ns"] > hi and r["old_state"] != "LISTEN"]
    check(len(after) >= 4 * 4 and all(r["pid"] == svc and r["comm"] == name for r in after),
          "after the service's first accept, records name the service %d/%s:\n%s"
          % (svc, name, show(after)))


@test("64_daemon_listener_from_the_snapshot")
def t_existing():
    """The daemon was already running: the listener and its owner come from
    the snapshot, whose owner's exit the tool must watch as well."""
    recs, parent, workers, lo, hi = run_daemon(2, before=0, after=4, existing=True)
    check_holders(recs, parent, workers, lo, hi)
    after = [r for r in recs if r["boot_ns"] > hi]
    check(len(after) >= 4 * 4, "records after the parent's exit:\n%s" % show(after))


@test("65_daemon_owner_closes_its_copy")
def t_closed():
    """The parent closes its copy of the listener after the fork and keeps
    running. No tracepoint marks that close: the first connection may still
    name the parent (documented); once the worker has accepted, within a
    second, the records name the worker, the only holder."""
    recs, parent, workers, lo, hi = run_daemon(1, before=1, after=4, stays=True, close=True)
    (child,) = workers
    bad = [r for r in recs if r["pid"] not in (parent, child)]
    check(not bad, "records name neither the parent nor the worker:\n%s" % show(bad))
    after = [r for r in recs if r["boot_ns"] > hi and r["old_state"] != "LISTEN"]
    check(len(after) >= 4 * 4 and all(r["pid"] == child for r in after),
          "after the worker's first accept, records name it (%d), not the parent "
          "that closed its copy (%d):\n%s" % (child, parent, show(after)))
