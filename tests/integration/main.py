#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Runs every integration test module; writes "PASSED FAILED SKIPPED" to argv[1]."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import test_states  # noqa: E402,F401
import test_snapshot  # noqa: E402,F401
import test_load  # noqa: E402,F401
import test_cli  # noqa: E402,F401
import test_stats  # noqa: E402,F401
import test_forensic  # noqa: E402,F401
import test_loss  # noqa: E402,F401
import test_everyday  # noqa: E402,F401
import test_cgroup  # noqa: E402,F401
import test_metrics  # noqa: E402,F401
import test_gauges  # noqa: E402,F401
import test_fleet  # noqa: E402,F401
import test_daemons  # noqa: E402,F401
import test_rotate  # noqa: E402,F401


def main():
    counts = sys.argv[1] if len(sys.argv) > 1 else None
    only = [a for a in os.environ.get("TT_ONLY", "").split(",") if a]
    passed, failed, skipped = harness.run_all(only)
    if counts:
        with open(counts, "w") as f:
            f.write("%d %d %d\n" % (passed, failed, skipped))
    return 1 if failed or not (passed or skipped) else 0


if __name__ == "__main__":
    sys.exit(main())
