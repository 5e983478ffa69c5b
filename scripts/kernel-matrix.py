#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""The kernel x test table of `make test-kernels`.

  kernel-matrix.py --list [DIR]      names of the integration tests (TT_ONLY applies)
  kernel-matrix.py [--counts FILE] RESULTS NAME...
                                     the markdown table from RESULTS/NAME/{out.log,info};
                                     FILE gets "passed failed skipped" (not run = failed)

demo.log, where there is one, is scripts/demo.sh's: its normalized part is
compared with the host's. out.log is tests/integration/run.sh's output: "PASS name (Ns)", "FAIL name
(Ns)" followed by the message indented by two spaces, "SKIP name: reason".
info holds key=value lines written by scripts/test-kernels.sh.
A test that a kernel did not report is shown as "not run", with the reason
the suite gave (tcptrail did not load, the VM stopped...).
"""
import difflib
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
INTEGRATION = os.path.join(os.path.dirname(HERE), "tests", "integration")

RESULT = re.compile(r"^(PASS|FAIL) (\S+) \(([0-9.]+)s\)$")
SKIP = re.compile(r"^SKIP (\S+): (.*)$")
# a test's own progress line ("  13c: churn ..."), printed before its result
PROGRESS = re.compile(r"^  [0-9]+[a-z]?: ")


def list_tests(where):
    sys.path.insert(0, where)
    import main  # noqa: F401  registers every test module
    import harness
    only = [a for a in os.environ.get("TT_ONLY", "").split(",") if a]
    for name, _fn, _slow in harness.TESTS:
        if not only or any(o in name for o in only):
            print(name)


def parse(path):
    """{test: (status, seconds, message lines)}, and the lines outside any test."""
    results, loose, cur = {}, [], None
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        m = RESULT.match(line)
        if m:
            cur = m.group(2)
            results[cur] = (m.group(1), float(m.group(3)), [])
            continue
        m = SKIP.match(line)
        if m:
            results[m.group(1)] = ("SKIP", None, [m.group(2)])
            cur = None
            continue
        if cur and line.startswith("  ") and not PROGRESS.match(line):
            results[cur][2].append(line[2:])
            continue
        cur = None
        loose.append(line)
    return results, loose


def read_info(path):
    info = {}
    try:
        with open(path) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("=")
                info[k] = v
    except OSError:
        pass
    return info


def why_not_run(info, loose):
    """One line: why the suite did not report every test on this kernel."""
    if info.get("note"):
        return info["note"]
    text = [l for l in loose if l.strip()]
    for i, line in enumerate(text):
        if "cannot load its BPF programs" in line:
            before = [l for l in text[:i] if not l.startswith("integration:")]
            return "tcptrail did not load: " + (before[-1] if before else line)
    for line in reversed(text):
        if line.startswith("integration:") or line.startswith("kernel-vm"):
            return line
    return "the suite stopped before this test (see the log)"


def demo_lines(path):
    """The normalized part of scripts/demo.sh's output, or None."""
    try:
        with open(path, errors="replace") as f:
            text = f.read().splitlines()
    except OSError:
        return None
    if "--- normalized ---" not in text:
        return None
    return text[text.index("--- normalized ---") + 1:]


def by_socket(lines):
    """Each socket's transitions in order, keyed by its two addresses."""
    groups = {}
    for line in lines:
        f = line.split()
        groups.setdefault(tuple(f[3:5]), []).append(line)
    return groups


def demo(results_dir, cols, counts):
    """The demonstration row and section: every kernel against the host's
    (or the first kernel's) normalized transitions; a difference fails."""
    runs = [(n, demo_lines(os.path.join(results_dir, n, "demo.log"))) for n, _, _, _ in cols]
    if not any(os.path.exists(os.path.join(results_dir, n, "demo.log")) for n, _ in runs):
        return [], []
    done = [(n, l) for n, l in runs if l is not None]
    ref = next(((n, l) for n, l in done if n == "host"), done[0] if done else (None, None))
    row, section = ["demonstration (scripts/demo.sh)"], []
    for name, lines in runs:
        if lines is None:
            row.append("FAIL: did not run (see demo.log)")
            counts[1] += 1
        elif name == ref[0]:
            row.append("reference")
        elif by_socket(lines) == by_socket(ref[1]):
            # the same transitions per connection side; sides may interleave
            # differently (the client's TIME_WAIT waits for a 50 ms tick)
            row.append("same" if lines == ref[1] else "same (other interleaving)")
        else:
            row.append("FAIL: differs")
            counts[1] += 1
            section += ["", "%s against %s:" % (name, ref[0]), "", "```diff"]
            section += list(difflib.unified_diff(ref[1], lines, ref[0], name, lineterm="", n=1))[2:]
            section.append("```")
    if ref[0]:
        section = ["", "Demonstration, normalized (%s):" % ref[0], "", "```"] + ref[1] + ["```"] + section
    return ["| " + " | ".join(row) + " |"], section


def secs(v):
    try:
        return "%d s" % round(float(v))
    except (TypeError, ValueError):
        return "—"


def table(results_dir, names, tests):
    cols = []
    for name in names:
        d = os.path.join(results_dir, name)
        info = read_info(os.path.join(d, "info"))
        res, loose = parse(os.path.join(d, "out.log"))
        cols.append((name, info, res, loose))
    out = []
    head = ["test"] + ["%s<br>`%s`" % (n, i.get("kernel", "?")) for n, i, _, _ in cols]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    out.append("| boot | " + " | ".join(secs(i.get("boot")) for _, i, _, _ in cols) + " |")
    out.append("| suite | " + " | ".join(secs(i.get("suite")) for _, i, _, _ in cols) + " |")
    notes, failures = [], []
    for t in tests:
        row = [t]
        for name, info, res, loose in cols:
            if t not in res:
                row.append("not run")
                continue
            status, dt, msg = res[t]
            if status == "SKIP":
                row.append("SKIP: " + (msg[0] if msg else "?"))
            else:
                row.append(status if dt is None else "%s (%.0f s)" % (status, dt))
                if status == "FAIL":
                    failures.append((name, t, msg))
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
    totals = []
    for name, info, res, loose in cols:
        st = [res[t][0] for t in tests if t in res]
        n_run = len(st)
        totals.append("%d / %d / %d" % (st.count("PASS"), st.count("FAIL"), st.count("SKIP"))
                      + ("" if n_run == len(tests) else ", %d not run" % (len(tests) - n_run)))
        if n_run < len(tests):
            notes.append("- **%s**: %d of %d tests not run: %s"
                         % (name, len(tests) - n_run, len(tests), why_not_run(info, loose)))
    counts = [0, 0, 0]   # a test that did not run counts as failed
    for name, info, res, loose in cols:
        for t in tests:
            st = res[t][0] if t in res else "FAIL"
            counts[("PASS", "FAIL", "SKIP").index(st)] += 1
    demo_row, demo_section = demo(results_dir, cols, counts)
    out += demo_row
    out.append("| passed / failed / skipped | " + " | ".join(totals) + " |")
    events = ["- **%s**: %s" % (name, info["event"]) for name, info, _, _ in cols if info.get("event")]
    if notes:
        out += ["", "Not run:", ""] + notes
    if events:
        out += ["", "VM events:", ""] + events
    out += demo_section
    if failures:
        out += ["", "Failures (first lines of each message):", ""]
        for name, t, msg in failures:
            first = [l for l in msg if l.strip()][:3] or ["(no message)"]
            out.append("- **%s** `%s`:" % (name, t))
            out += ["      " + l for l in first]
    return "\n".join(out) + "\n", counts


def main():
    if len(sys.argv) in (2, 3) and sys.argv[1] == "--list":
        list_tests(sys.argv[2] if len(sys.argv) == 3 else INTEGRATION)
        return 0
    args = sys.argv[1:]
    counts_file = None
    if len(args) > 2 and args[0] == "--counts":
        counts_file, args = args[1], args[2:]
    if len(args) < 2:
        print("usage: kernel-matrix.py --list [DIR] | [--counts FILE] RESULTS_DIR NAME... (< test names)",
              file=sys.stderr)
        return 2
    tests = [l.strip() for l in sys.stdin if l.strip()]
    text, counts = table(args[0], args[1:], tests)
    sys.stdout.write(text)
    if counts_file:
        with open(counts_file, "w") as f:
            f.write("%d %d %d\n" % tuple(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
