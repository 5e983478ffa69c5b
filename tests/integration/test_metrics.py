# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""--metrics against real clients: promtool's checks, a real Prometheus
that scrapes tcptrail and must store the counts of the run's own JSON
capture, and scrapers that misbehave.

tcptrail, Prometheus and every client run in the test's namespace, on its
loopback; scrapes go through curl (or a Python client) run there.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from harness import (PYTHON, TCPTRAIL, Netns, Proc, check, pick_port, skip, test,
                     transitions)

# ---- the exposition format, read back independently ------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def unescape(v):
    return re.sub(r'\\([\\"n])', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def parse_expo(text):
    """{(name, frozenset(labels)): value}; fails on any line the format does not allow."""
    out = {}
    check(text.endswith("\n"), "the exposition does not end with a newline")
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = SAMPLE.match(line)
        check(m is not None, "not a sample line: %r" % line)
        labels, rest = {}, m.group(2) or ""
        while rest:
            lm = LABEL.match(rest)
            check(lm is not None, "bad labels in %r" % line)
            labels[lm.group(1)] = unescape(lm.group(2))
            rest = rest[lm.end():]
        key = (m.group(1), frozenset(labels.items()))
        check(key not in out, "duplicate series %r" % line)
        out[key] = float(m.group(3))
    return out


def series(expo, name, **labels):
    return expo.get((name, frozenset(labels.items())))


def http(ns, url, timeout=5, args=()):
    """(status, body) of a request made inside the namespace."""
    r = ns.sh(["curl", "-sS", "--max-time", str(timeout), "-o", "-", "-w", "\n%{http_code}"]
              + list(args) + [url], check_rc=False, timeout=timeout + 10)
    body, _, code = r.stdout.rpartition("\n")
    return int(code or 0), body


def wait_metrics(ns, port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, body = http(ns, "http://127.0.0.1:%d/metrics" % port, timeout=2)
        if code == 200:
            return body
        time.sleep(0.1)
    check(False, "no answer on http://127.0.0.1:%d/metrics within %gs" % (port, timeout))


def need(*cmds):
    for c in cmds:
        if not shutil.which(c):
            skip("%s is not installed (scripts/install-deps.sh installs it)" % c)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---- expected values, from the JSON records ----------------------------------

ENDS_FROM = {"ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "CLOSE_WAIT", "LAST_ACK", "CLOSING"}


def expected(records):
    """The counters the metrics must show, computed from the records alone."""
    trs = transitions(records)
    trans = {}
    for r in trs:
        trans[(r["old_state"], r["state"])] = trans.get((r["old_state"], r["state"]), 0) + 1
    durations = [r["duration_ms"] for r in trs if "duration_ms" in r and
                 (r["state"] == "TIME_WAIT" and r["old_state"] != "TIME_WAIT" or
                  r["state"] == "CLOSE" and r["old_state"] in ENDS_FROM)]
    last = {}
    for r in records:
        if r["type"] in ("snapshot", "transition"):
            last[r["sock"]] = r["state"]
    states = {}
    for st in last.values():
        if st != "CLOSE":
            states[st] = states.get(st, 0) + 1
    events = sum(1 for r in records if "seq" in r and r["type"] not in ("lost", "skipped"))
    events += sum(r["count"] for r in records if r["type"] == "skipped")
    return {"trans": trans, "durations": durations, "states": states, "events": events}


def check_against(expo_get, exp, label):
    """expo_get(name, **labels) -> value or None."""
    errs = []

    def eq(what, got, want):
        if got != want:
            errs.append("%s: %s is %r, the JSON records say %r" % (label, what, got, want))

    for (old, new), n in sorted(exp["trans"].items()):
        eq("transitions %s->%s" % (old, new),
           expo_get("tcptrail_transitions_total", **{"from": old, "to": new}), n)
    eq("opened active", expo_get("tcptrail_connections_opened_total", side="active"),
       exp["trans"].get(("SYN_SENT", "ESTABLISHED"), 0))
    eq("opened passive", expo_get("tcptrail_connections_opened_total", side="passive"),
       exp["trans"].get(("SYN_RECV", "ESTABLISHED"), 0))
    eq("refused", expo_get("tcptrail_connections_refused_total"),
       exp["trans"].get(("SYN_SENT", "CLOSE"), 0))
    eq("duration count", expo_get("tcptrail_connection_duration_seconds_count"),
       len(exp["durations"]))
    got_sum = expo_get("tcptrail_connection_duration_seconds_sum")
    want_sum = sum(exp["durations"]) / 1000
    # duration_ms keeps microseconds: each record is up to 1 us short
    if got_sum is None or not (want_sum - 1e-9 <= got_sum <= want_sum + 1e-6 * len(exp["durations"]) + 1e-9):
        errs.append("%s: duration sum is %r s, the records' duration_ms add up to %r s"
                    % (label, got_sum, want_sum))
    for st in ("ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
               "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING"):
        eq("sockets %s" % st, expo_get("tcptrail_sockets", state=st), exp["states"].get(st, 0))
    eq("events", expo_get("tcptrail_events_total"), exp["events"])
    for reason in ("ring_full", "recursion", "write"):
        eq("lost %s" % reason, expo_get("tcptrail_events_lost_total", reason=reason), 0)
    check(not errs, "\n".join(errs))


def capture_records(*paths):
    out = []
    for p in paths:
        with open(p) as f:
            out += [json.loads(l) for l in f if l.strip()]
    return out


# ---- a process with a hostile name that owns ESTABLISHED sockets ------------

HOLDER = r"""
import ctypes, socket, sys
name = sys.argv[2].encode("utf-8", "surrogateescape")
ctypes.CDLL(None).prctl(15, ctypes.c_char_p(name), 0, 0, 0)
port = int(sys.argv[1])
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port)); l.listen(8)
keep = []
for _ in range(3):
    c = socket.create_connection(("127.0.0.1", port)); a, _ = l.accept(); keep += [c, a]
print("ready", flush=True)
sys.stdin.readline()
"""

# a quote, a backslash, a newline and a brace: each could end a label or a line
HOSTILE = 'a"b\\c\nd}e{f=\udcff'


@test("50_metrics_promtool_and_hostile_names")
def t_promtool():
    need("promtool", "curl")
    port, mport = pick_port(), pick_port()
    tmp = tempfile.mkdtemp(prefix="tt-metrics.")
    cap = os.path.join(tmp, "cap.jsonl")
    try:
        with Netns() as ns:
            t = ns.tracer("-P", str(port), "--metrics", str(mport), capture=cap)
            wait_metrics(ns, mport)
            holder = Proc(ns.exec_argv([PYTHON, "-c", HOLDER, str(port), HOSTILE]), stdin=True)
            ns.procs.append(holder)
            check(holder.next_line(20) == "ready", "the holder did not start")
            # the name as the JSON records give it (the text-safe form) is
            # the label value: wait for the six ESTABLISHED sockets
            deadline = time.monotonic() + 15
            while True:
                t.wait_for(lambda trs: sum(1 for r in trs if r["state"] == "ESTABLISHED") == 6)
                names = {r["comm"] for r in transitions(t.seen()) if r["pid"] == holder.pid}
                check(len(names) == 1, "the holder's records name %r" % names)
                name = names.pop()
                body = http(ns, "http://127.0.0.1:%d/metrics" % mport)[1]
                expo = parse_expo(body)
                if series(expo, "tcptrail_owner_established_sockets", comm=name) == 6:
                    break
                check(time.monotonic() < deadline, "no owner gauge of 6 for %r in:\n%s"
                      % (name, body))
                time.sleep(0.1)
            check("\n" not in name and "\\x0a" in name and '"' in name, "unexpected text form %r" % name)
            r = subprocess.run(["promtool", "check", "metrics"], input=body, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            check(r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(),
                  "promtool check metrics: exit %d\n%s%s\n--- the exposition:\n%s"
                  % (r.returncode, r.stdout, r.stderr, body))
            # the other names of the contract, with the values this run must have
            check(series(expo, "tcptrail_connections_opened_total", side="active") == 3 and
                  series(expo, "tcptrail_connections_opened_total", side="passive") == 3,
                  "opened: %r" % body)
            check(series(expo, "tcptrail_sockets", state="ESTABLISHED") == 6 and
                  series(expo, "tcptrail_sockets", state="LISTEN") == 1, "sockets: %r" % body)
            check(series(expo, "tcptrail_ring_buffer_bytes") == t.meta["ring_size"], "ring size")
            check(series(expo, "tcptrail_build_info", version=t.meta["version"],
                         kernel=t.meta["kernel"]) == 1, "build_info: %r" % body)
            code, text = http(ns, "http://127.0.0.1:%d/" % mport)
            check(code == 404, "GET / answered %d" % code)
            code, text = http(ns, "http://127.0.0.1:%d/metrics" % mport, args=["-X", "POST", "-d", "x"])
            check(code == 405, "POST /metrics answered %d" % code)
            holder.p.stdin.write("\n")
            holder.p.stdin.flush()
            holder.wait(10)
            t.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- a real Prometheus ---------------------------------------------------------

PROM_CONFIG = """global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: tcptrail
    static_configs:
      - targets: ['127.0.0.1:%d']
"""


def prom_query(ns, pport, q):
    code, body = http(ns, "http://127.0.0.1:%d/api/v1/query" % pport,
                      args=["-G", "--data-urlencode", "query=" + q])
    check(code == 200, "Prometheus query %r: HTTP %d %s" % (q, code, body))
    res = json.loads(body)
    check(res["status"] == "success", "Prometheus query %r: %s" % (q, body))
    return res["data"]["result"]


def prom_getter(ns, pport):
    """expo_get over Prometheus' stored samples (one query per metric name)."""
    cache = {}

    def get(name, **labels):
        if name not in cache:
            cache[name] = prom_query(ns, pport, name)
        for s in cache[name]:
            m = dict(s["metric"])
            for k in ("__name__", "job", "instance"):
                m.pop(k, None)
            if m == labels:
                return float(s["value"][1])
        return None
    return get


def drive(ns, srv, cli, port, rport, n, refused):
    srv.cmd("serve %d" % n)
    cli.cmd("bulk 4 127.0.0.1 %d %d" % (port, n), timeout=60)
    srv.expect("done serve %d" % n, timeout=60)
    for _ in range(refused):
        r = cli.cmd("connect 4 127.0.0.1 %d 2" % rport, ok=False)
        check(r.startswith("err connect"), "a connect to a closed port: %r" % r)


def all_ended(n, refused):
    def pred(trs):
        ends = sum(1 for r in trs if r["old_state"] == "LAST_ACK" and r["state"] == "CLOSE")
        tw = sum(1 for r in trs if r["state"] == "TIME_WAIT" and r["old_state"] != "TIME_WAIT")
        ref = sum(1 for r in trs if r["old_state"] == "SYN_SENT" and r["state"] == "CLOSE")
        return ends == n and tw == n and ref == refused
    return pred


@test("51_metrics_prometheus_stores_the_json_counts")
def t_prometheus():
    need("prometheus", "curl")
    port, rport, mport, pport = pick_port(), pick_port(), pick_port(), pick_port()
    tmp = tempfile.mkdtemp(prefix="tt-prom.")
    cap, cap1 = os.path.join(tmp, "cap.jsonl"), os.path.join(tmp, "cap.1.jsonl")
    conf = os.path.join(tmp, "prometheus.yml")
    with open(conf, "w") as f:
        f.write(PROM_CONFIG % mport)
    try:
        with Netns() as ns:
            t = ns.tracer("-P", "%d,%d" % (port, rport), "--metrics", str(mport), capture=cap)
            prom = Proc(ns.exec_argv(["prometheus", "--config.file=" + conf,
                                      "--storage.tsdb.path=" + os.path.join(tmp, "data"),
                                      "--web.listen-address=127.0.0.1:%d" % pport,
                                      "--log.level=warn"]))
            ns.procs.append(prom)
            deadline = time.monotonic() + 60
            while http(ns, "http://127.0.0.1:%d/-/ready" % pport, timeout=2)[0] != 200:
                check(prom.p.poll() is None and time.monotonic() < deadline,
                      "Prometheus did not become ready: %s" % "\n".join(prom.err_lines[-20:]))
                time.sleep(0.2)
            srv, cli = ns.peer("server"), ns.peer("client")
            srv.cmd("listen 4 127.0.0.1 %d" % port)
            drive(ns, srv, cli, port, rport, 40, 3)
            t.wait_for(all_ended(40, 3), timeout=20, what="40 connections and 3 refusals")
            # a rotation between the two batches: counters must go on
            os.rename(cap, cap1)
            os.kill(t.proc.pid, signal.SIGHUP)
            deadline = time.monotonic() + 10
            while not os.path.exists(cap):
                check(time.monotonic() < deadline, "no new capture after SIGHUP")
                time.sleep(0.05)
            drive(ns, srv, cli, port, rport, 25, 2)
            t.wait_for(all_ended(25, 2), timeout=20, what="25 connections and 2 refusals")
            exp = expected(capture_records(cap1, cap))
            # Prometheus has the run's counts once a scrape after the last event
            deadline = time.monotonic() + 30
            while True:
                got = prom_query(ns, pport, "tcptrail_events_total")
                if got and float(got[0]["value"][1]) == exp["events"]:
                    break
                check(time.monotonic() < deadline, "Prometheus' tcptrail_events_total is %r, the "
                      "JSON stream has %d events" % (got, exp["events"]))
                time.sleep(0.5)
            check_against(prom_getter(ns, pport), exp, "Prometheus")
            check(exp["trans"][("SYN_SENT", "ESTABLISHED")] == 65 and
                  exp["trans"][("SYN_SENT", "CLOSE")] == 5, "the run drove 65 connections and 5 "
                  "refusals, the JSON says %r" % exp["trans"])
            up = prom_query(ns, pport, 'up{job="tcptrail"}')
            check(len(up) == 1 and up[0]["value"][1] == "1", "up: %r" % up)
            # across the SIGHUP nothing went back, as Prometheus saw it
            resets = prom_query(ns, pport, "sum(resets(tcptrail_transitions_total[5m])) + "
                                "sum(resets(tcptrail_events_total[5m]))")
            check(resets and float(resets[0]["value"][1]) == 0, "counter resets: %r" % resets)
            srv.quit()
            cli.quit()
            t.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- scrapers that misbehave ---------------------------------------------------

SCRAPER = r"""
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
def get(path=b"/metrics"):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    return data
if sys.argv[3] == "bad":
    # one that connects and says nothing, one that sends garbage, one with
    # a 1 MiB header: a scrape must still be answered at once
    silent = socket.create_connection(("127.0.0.1", port))
    g = socket.create_connection(("127.0.0.1", port), timeout=5)
    g.sendall(b"\x00\xff\x16\x03\x01 garbage \r\n\r\n" + bytes(range(256)) * 16)
    try:
        g.recv(65536)
    except OSError:
        pass
    big = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        big.sendall(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * (1 << 20) + b"\r\n\r\n")
    except OSError:
        pass
    t0 = time.monotonic()
    d = get()
    print("bad-then-scrape %.3f %s" % (time.monotonic() - t0, d.split(b"\r\n")[0].decode()), flush=True)
    silent.close(); g.close(); big.close()
ok = 0
for _ in range(n):
    d = get()
    ok += d.startswith(b"HTTP/1.1 200") and b"\ntcptrail_events_total " in d
print("scrapes %d ok %d" % (n, ok), flush=True)
"""


def scrape_run(ns, mport, n, bad=False):
    r = ns.sh([PYTHON, "-c", SCRAPER, str(mport), str(n), "bad" if bad else "good"], timeout=300)
    return r.stdout


@test("52_metrics_bad_scrapers_no_loss_flat_memory")
def t_bad_scrapers():
    need("curl")
    port, mport = pick_port(), pick_port()
    tmp = tempfile.mkdtemp(prefix="tt-scrape.")
    cap = os.path.join(tmp, "cap.jsonl")
    try:
        with Netns() as ns:
            t = ns.tracer("-P", str(port), "--metrics", str(mport), capture=cap)
            wait_metrics(ns, mport)
            out = scrape_run(ns, mport, 100)
            check("scrapes 100 ok 100" in out, "warm-up scrapes: %r" % out)
            # connections while the bad scrapers and 1000 scrapes run
            srv, cli = ns.peer("server"), ns.peer("client")
            srv.cmd("listen 4 127.0.0.1 %d" % port)
            srv.cmd("serve 2000")
            cli.send("bulk 4 127.0.0.1 %d 2000" % port)
            out = scrape_run(ns, mport, 1000, bad=True)
            m = re.search(r"bad-then-scrape ([0-9.]+) (.*)", out)
            check(m and m.group(2).startswith("HTTP/1.1 200") and float(m.group(1)) < 2,
                  "a scrape beside a silent, a garbage and a huge request: %r" % out)
            check("scrapes 1000 ok 1000" in out, "1000 scrapes: %r" % out)
            cli.expect("ok bulk 2000", timeout=120)
            srv.expect("done serve 2000", timeout=60)
            t.wait_for(all_ended(2000, 0), timeout=30, what="2000 connections")
            # memory: 1000 more scrapes once the traffic is over
            before = rss_kib(t.proc.pid)
            out = scrape_run(ns, mport, 1000)
            check("scrapes 1000 ok 1000" in out, "1000 scrapes: %r" % out)
            after = rss_kib(t.proc.pid)
            check(after - before <= 256, "RSS grew from %d to %d KiB over 1000 scrapes"
                  % (before, after))
            print("  52: RSS %d -> %d KiB over 1000 scrapes" % (before, after), flush=True)
            # the counters still equal the JSON
            body = wait_metrics(ns, mport)
            expo = parse_expo(body)
            exp = expected(t.seen())
            check_against(lambda name, **lb: series(expo, name, **lb), exp, "/metrics")
            srv.quit()
            cli.quit()
            t.stop()   # and the harness checks the summary: 0 lost
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@test("53_metrics_usage_and_bind_errors")
def t_metrics_usage():
    cases = [
        (["--metrics", "0"], "invalid --metrics address"),
        (["--metrics", "localhost:9100"], "invalid --metrics address"),
        (["--metrics", "9100", "-r", "x.jsonl"], "--read replays a capture"),
        (["--metrics", "9100", "--snapshot-only"], "--metrics serves counters"),
        (["--metrics", "9100", "--metrics", "9101"], "--metrics given twice"),
    ]
    for args, want in cases:
        r = subprocess.run([TCPTRAIL] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=10)
        check(r.returncode == 2 and want in r.stderr, "%s: exit %d, stderr %r"
              % (" ".join(args), r.returncode, r.stderr))
    port = pick_port()
    with Netns() as ns:
        # the port is taken: the error comes before anything is loaded
        holder = Proc(ns.exec_argv(["nc", "-l", "127.0.0.1", str(port)]))
        ns.procs.append(holder)
        deadline = time.monotonic() + 10
        while str(port) not in ns.sh(["ss", "-ltnH"]).stdout:
            check(time.monotonic() < deadline, "nc did not listen")
            time.sleep(0.05)
        r = ns.sh([TCPTRAIL, "-q", "--metrics", str(port), "-d", "1"], check_rc=False)
        check(r.returncode == 1 and "cannot listen on %d" % port in r.stderr
              and "another process has that port" in r.stderr and "summary" not in r.stdout,
              "a taken port: exit %d, stderr %r" % (r.returncode, r.stderr))


@test("53b_metrics_daemon_keeps_serving_across_sighup")
def t_metrics_daemon_sighup():
    """An exporter daemon (-q --metrics, no capture) takes SIGHUP as a
    rotation with nothing to rotate: it keeps serving, counters kept."""
    need("curl")
    port, mport = pick_port(), pick_port()
    with Netns() as ns:
        d = Proc(ns.exec_argv([TCPTRAIL, "-q", "--no-snapshot", "-P", str(port),
                               "--metrics", str(mport)]))
        ns.procs.append(d)
        wait_metrics(ns, mport)
        srv, cli = ns.peer("server"), ns.peer("client")
        srv.cmd("listen 4 127.0.0.1 %d" % port)
        srv.cmd("serve 20")
        cli.cmd("bulk 4 127.0.0.1 %d 20" % port, timeout=60)
        srv.expect("done serve 20", timeout=60)

        def opened():
            expo = parse_expo(wait_metrics(ns, mport))
            return series(expo, "tcptrail_connections_opened_total", side="active") or 0

        deadline = time.monotonic() + 10
        while opened() < 20:
            check(time.monotonic() < deadline, "the 20 connections never reached /metrics")
            time.sleep(0.3)
        os.kill(d.pid, signal.SIGHUP)
        time.sleep(1)
        check(d.p.poll() is None, "the daemon ended on SIGHUP: exit %r, stderr %s"
              % (d.p.returncode, d.err_lines))
        after = opened()
        check(after == 20, "after SIGHUP: %r active connections opened, before: 20" % after)
        srv.quit()
        cli.quit()
        os.kill(d.pid, signal.SIGTERM)
        check(d.p.wait(10) == 0, "exit %r after SIGTERM" % d.p.returncode)
