# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""--metrics' socket gauges (src/sockgauge.c) against the kernel's own view:
sockets per state must equal what ss shows in the test's namespace, also
after the ring lost events; ESTABLISHED sockets per container must follow
real cgroup v2 groups named as Docker names them.
"""
import os
import signal
import subprocess
import time

from harness import LOADGEN, PYTHON, TCPTRAIL, Netns, Proc, check, pick_port, skip, test
from test_cgroup import Groups, hex64, tracer as cg_tracer
from test_metrics import http, parse_expo, series, wait_metrics

# ss's state names -> tcptrail's (netstat's)
SS_STATES = {
    "ESTAB": "ESTABLISHED", "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RECV",
    "FIN-WAIT-1": "FIN_WAIT1", "FIN-WAIT-2": "FIN_WAIT2", "TIME-WAIT": "TIME_WAIT",
    "CLOSE-WAIT": "CLOSE_WAIT", "LAST-ACK": "LAST_ACK", "LISTEN": "LISTEN",
    "CLOSING": "CLOSING",
}


def ss_counts(ns, port):
    """{state: n} of the namespace's TCP sockets on port, as ss shows them."""
    r = ns.sh(["ss", "-tanH", "( sport = :%d or dport = :%d )" % (port, port)])
    out = {}
    for line in r.stdout.splitlines():
        st = SS_STATES.get(line.split()[0]) if line.strip() else None
        if st:
            out[st] = out.get(st, 0) + 1
    return out


def gauge_counts(expo):
    return {st: int(series(expo, "tcptrail_sockets", state=st) or 0)
            for st in SS_STATES.values() if series(expo, "tcptrail_sockets", state=st)}


@test("55_metrics_socket_gauge_across_ring_loss")
def t_gauge_across_loss():
    """A 64 KiB ring under a flat-out churn loses events; the gauge of
    sockets per state must still equal ss once the churn is over: the
    kernel counts the transitions it could not send, by state, and the
    gauge counts them as if seen. (Fed only the events it was sent, the
    gauge keeps a socket in the state of its last event seen: a lost
    FIN_WAIT2 -> TIME_WAIT leaves it in FIN_WAIT2 for good.)"""
    check(os.access(LOADGEN, os.X_OK), "%s is missing: make integration builds it" % LOADGEN)
    port, mport = pick_port(), pick_port()
    with Netns() as ns:
        # -q: no stdout for a reader to fall behind on; the loss comes from
        # the small ring alone
        t = Proc(ns.exec_argv([TCPTRAIL, "-q", "--metrics", str(mport), "-P", str(port),
                               "--ring-size", "64K"]))
        ns.procs.append(t)
        wait_metrics(ns, mport)
        out = ns.sh([LOADGEN, "churn", "-t", "1", "-d", "1.5", "-p", str(port)], timeout=60).stdout
        rate = float(dict(f.split("=", 1) for f in out.split()[1:]).get("rate", 0))
        # the reader drains the ring; the sockets settle (no new ones: the
        # TIME_WAITs end in 60 s, after the test)
        deadline = time.monotonic() + 30
        while True:
            expo = parse_expo(http(ns, "http://127.0.0.1:%d/metrics" % mport)[1])
            got, want = gauge_counts(expo), ss_counts(ns, port)
            if got == want or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        lost_ring = series(expo, "tcptrail_events_lost_total", reason="ring_full")
        lost_rec = series(expo, "tcptrail_events_lost_total", reason="recursion")
        print("  55: %s; lost ring_full %d, recursion %d; gauge %s; ss %s"
              % (out.strip(), lost_ring, lost_rec, got, want), flush=True)
        if lost_ring == 0 and rate < 2000:
            # an emulated VM of the kernel matrix: its reader keeps up
            skip("no ring loss at %.0f connections/s (a flat-out churn makes over 2000)" % rate)
        check(lost_ring > 0, "no ring loss with a 64 KiB ring: the test tests nothing")
        if lost_rec:
            # the kernel skipped a program: no state is known for those
            skip("%d events lost to nested hooks, whose states nothing counts" % lost_rec)
        # A known defect (README, "Known defects"): under this loss, 2 runs
        # in 5 left 22-129 sockets (0.1-0.3 %) counted in FIN_WAIT1 whose
        # exit the kernel neither sent nor counted as lost, the silent
        # FIN_WAIT1 loss 13b sees. So the gauge must be within 0.5 % of ss
        # here, not equal; without the kernel's counts it is off by about
        # half the events lost (15,000-30,000 sockets in these runs).
        off = sum(abs(got.get(st, 0) - want.get(st, 0)) for st in set(got) | set(want))
        total = sum(want.values())
        print("  55: %d sockets where gauge and ss differ, of %d" % (off, total), flush=True)
        check(total > 1000 and off <= total // 200,
              "sockets per state: the gauge says %s, ss says %s (%d apart)" % (got, want, off))
        os.kill(t.pid, signal.SIGINT)
        check(t.wait(20) in (0, 1), "tcptrail exited %r" % t.p.returncode)


HOLDER = r"""
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
sys.stdin.readline()                 # moved into its cgroup first
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port)); l.listen(64)
keep = []
for _ in range(n):
    c = socket.create_connection(("127.0.0.1", port)); a, _ = l.accept(); keep += [c, a]
print("ready", flush=True)
sys.stdin.readline()
for s in keep:
    s.close()
print("closed", flush=True)
sys.stdin.readline()
"""


def holder(ns, port, n):
    p = Proc(["nsenter", "--net=/run/netns/" + ns.name, PYTHON, "-c", HOLDER, str(port), str(n)],
             stdin=True)
    ns.procs.append(p)
    return p


def say(p, line="go"):
    p.p.stdin.write(line + "\n")
    p.p.stdin.flush()


def containers(ns, mport, want, timeout=20):
    """The container gauge once it equals want ({container: n}), or fails."""
    deadline = time.monotonic() + timeout
    while True:
        body = http(ns, "http://127.0.0.1:%d/metrics" % mport)[1]
        expo = parse_expo(body)
        got = {dict(labels)["container"]: int(v) for (name, labels), v in expo.items()
               if name == "tcptrail_container_established_sockets"}
        if got == want:
            return body
        check(time.monotonic() < deadline, "container gauge %s, want %s" % (got, want))
        time.sleep(0.2)


@test("56_metrics_container_gauge_follows_cgroups")
def t_container_gauge():
    """Two Docker-like groups, a process in each holding loopback
    connections (both ends in its group): the gauge lists each container
    id with its ESTABLISHED sockets, and drops it when they close; a
    systemd unit with a hostile name is a label value, escaped."""
    ports = [pick_port() for _ in range(3)]
    with Groups() as g, Netns() as ns:
        ids = [hex64(), hex64()]
        paths = [g.make("system.slice/docker-%s.scope" % i) for i in ids]
        # a quote and a backslash (systemd writes a newline as \x0a)
        unit = 'ev"il\\x0a.service'
        paths.append(g.make("system.slice/%s" % unit))
        # its text-safe form (the backslash as \x5c) is the label value
        label = 'ev"il\\x5cx0a.service'
        mport = pick_port()
        t = cg_tracer(ns, "--metrics", str(mport))
        wait_metrics(ns, mport)
        hs = []
        for k, (path, port, n) in enumerate(zip(paths, ports, (3, 5, 2))):
            h = holder(ns, port, n)
            g.add(path, h.pid)
            say(h)
            check(h.next_line(20) == "ready", "holder %d did not start" % k)
            hs.append(h)
        want = {ids[0]: 6, ids[1]: 10, label: 4}
        body = containers(ns, mport, want)
        check('container="ev\\"il\\\\x5cx0a.service"' in body,
              "the unit's label is not escaped as expected:\n%s" % body)
        r = subprocess.run(["promtool", "check", "metrics"], input=body, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30) \
            if os.path.exists("/usr/bin/promtool") else None
        check(r is None or r.returncode == 0, "promtool: %s" % (r and r.stdout + r.stderr))
        say(hs[1])
        check(hs[1].next_line(20) == "closed", "holder 1 did not close")
        containers(ns, mport, {ids[0]: 6, label: 4})
        for h in hs:
            say(h, "")
        t.stop()
