#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""What the twin state programs earn (issue 13, item 4).

inet_sock_set_state has three programs: tt_set_state does the work;
tt_set_state_irq and tt_set_state_nest2 take a state change only when the
kernel's per-program recursion guard skipped the first (a change nested in
an interrupt that came while tt_set_state ran on that CPU). This runs
tcptrail under the churn of bench/loadgen, with HOGS busy loops beside it
(test 13b's load) or none, and prints from the kernel's own counts:
  - the first program's runs and recursion misses (bpftool prog show),
  - how many changes the second and third program took (TT_CNT_STATE_NESTED,
    _NESTED2 in the .bss counters),
  - what was lost anyway (misses - taken; the run's summary says the same).

  bench/twins.py BUILD_DIR [SECONDS] [HOGS] [ROUNDS]

Loopback in a network namespace of its own (ttwins<pid>), port 22960; every
process it starts is stopped by PID; the namespace is removed.
"""
import json, os, shutil, signal, subprocess, sys, tempfile, time

build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
secs = sys.argv[2] if len(sys.argv) > 2 else "10"
hogs = int(sys.argv[3]) if len(sys.argv) > 3 else 0
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
ns = "ttwins%d" % os.getpid()
NESTED, NESTED2 = 3, 4  # enum tt_counter, include/tcptrail.h


def bpftool(*args):
    return json.loads(subprocess.run(["bpftool", "-j"] + list(args), check=True,
                                     capture_output=True, text=True).stdout)


def fd_ids(pid, key):
    """The BPF object ids (prog_id: or map_id:) behind the process's fds:
    bpftool's own pid column needs a feature Debian's build lacks."""
    ids = set()
    for fd in os.listdir("/proc/%d/fdinfo" % pid):
        try:
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                for line in f:
                    if line.startswith(key):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def owned(objs, pid, key):
    ids = fd_ids(pid, key)
    return [o for o in objs if o["id"] in ids]


def counters(pid):
    bss = [m for m in owned(bpftool("map", "list"), pid, "map_id:") if m.get("name", "").endswith(".bss")]
    total = {NESTED: 0, NESTED2: 0}
    for m in bss:
        for ent in bpftool("map", "dump", "id", str(m["id"])):
            sec = ent.get("formatted", ent).get("value", {})
            for var in sec.get(".bss", []):
                if "tt_counters" in var:
                    for cpu in var["tt_counters"]:
                        for k in total:
                            total[k] += cpu[k]
    progs = {p["name"]: p for p in owned(bpftool("prog", "show"), pid, "prog_id:")}
    return total, progs


def one_round(r):
    subprocess.run(["ip", "netns", "add", ns], check=True)
    procs = []
    tmp = tempfile.mkdtemp(prefix="tt-twins.")
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        tr = subprocess.Popen(["ip", "netns", "exec", ns, build + "/tcptrail", "--json", "-q",
                               "--no-snapshot", "-o", os.path.join(tmp, "cap.jsonl")],
                              stderr=subprocess.PIPE, text=True)
        procs.append(tr)
        time.sleep(1.5)
        tpid = tr.pid  # ip netns exec execs the command: same pid
        if tr.poll() is not None:
            sys.exit("twins.py: tcptrail did not start: " + tr.stderr.read())
        for _ in range(hogs):
            procs.append(subprocess.Popen(["sh", "-c", "while :; do :; done"]))
        lg = subprocess.run(["ip", "netns", "exec", ns, build + "/bench/loadgen", "churn",
                             "-t", "1", "-d", secs, "-p", "22960"],
                            capture_output=True, text=True)
        time.sleep(0.5)
        total, progs = counters(tpid)
        if "tt_set_state" not in progs:
            sys.exit("twins.py: cannot find tcptrail's programs and counters (pid %d)" % tpid)
        first = progs["tt_set_state"]
        misses = first.get("recursion_misses", 0)
        taken = total[NESTED] + total[NESTED2]
        print("round %d, %d hogs: %s; tt_set_state recursion misses %d; taken by "
              "tt_set_state_irq %d, tt_set_state_nest2 %d; not taken %d"
              % (r, hogs, lg.stdout.strip().splitlines()[-1], misses,
                 total[NESTED], total[NESTED2], max(0, misses - taken)), flush=True)
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if procs:
            print("  tcptrail: " + procs[0].stderr.read().strip().splitlines()[-1], flush=True)
        subprocess.run(["ip", "netns", "del", ns])
        shutil.rmtree(tmp, ignore_errors=True)


if os.geteuid() != 0:
    sys.exit("twins.py: needs root (bpf stats, namespaces)")
for r in range(1, rounds + 1):
    one_round(r)
