#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Start-up and idle cost of tcptrail.

  startup.py TCPTRAIL N IDLE_SECONDS [ARGS...]

Start-up: wall time from just before exec to the meta record on stdout (it is
written right after the programs are attached), N times; tcptrail runs with
--json --no-snapshot plus ARGS and is stopped by SIGINT after each run.
Idle: one more run left alone for IDLE_SECONDS; its utime+stime from
/proc/PID/stat over that window, as a share of one CPU.
Prints key=value lines.
"""
import os
import signal
import subprocess
import sys
import time


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): utime is field 14, stime field 15
    return int(fields[11]) + int(fields[12])


def run_ns(pid):
    # on-CPU time in ns of the main thread (tcptrail is single-threaded)
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def main():
    tt, n, idle = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    args = [tt, "--json", "--no-snapshot"] + sys.argv[4:]
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            line = p.stdout.readline()
            t1 = time.monotonic()
            if b'"type":"meta"' not in line:
                print("startup_error=no_meta_record")
                return 1
            times.append((t1 - t0) * 1000)
        finally:
            stop(p)
    times.sort()
    print("startup_ms=" + ",".join(f"{t:.1f}" for t in times))
    print(f"startup_ms_median={times[len(times) // 2]:.1f} startup_ms_max={times[-1]:.1f}")

    hz = os.sysconf("SC_CLK_TCK")
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        p.stdout.readline()
        time.sleep(0.5)
        c0, r0, t0 = cpu_ticks(p.pid), run_ns(p.pid), time.monotonic()
        time.sleep(idle)
        c1, r1, t1 = cpu_ticks(p.pid), run_ns(p.pid), time.monotonic()
    finally:
        stop(p)
    cpu_s = (c1 - c0) / hz
    print(f"idle_seconds={t1 - t0:.1f} idle_cpu_s={cpu_s:.2f} "
          f"idle_cpu_pct={100 * cpu_s / (t1 - t0):.2f} "
          f"idle_oncpu_ms={(r1 - r0) / 1e6:.1f} "
          f"idle_oncpu_pct={100 * (r1 - r0) / 1e9 / (t1 - t0):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
