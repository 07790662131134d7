"""What the machine and the processes on it use, read from /proc, and the tools a benchmark needs.

The machine is shared (2 cores): a run records the load it ran under, so that figures taken in a
busy minute can be told apart from the code's own.
"""
from __future__ import annotations

import os
import resource
import shutil
import sys
from pathlib import Path


def require_tool(name: str, install: str) -> str:
    """The path of `name`, or exit at once with how to install it: better than a run whose every
    row fails on the same missing program."""
    path = shutil.which(name)
    if path is None:
        print(f"{name} is not installed: {install}", file=sys.stderr, flush=True)
        sys.exit(2)
    return path


def loadavg() -> str:
    """/proc/loadavg as it reads (1, 5 and 15 min averages, runnable/total tasks, last pid)."""
    return Path("/proc/loadavg").read_text().strip()


def machine_busy_seconds() -> float:
    """Busy CPU seconds of the whole machine since boot (user+nice+system+irq+softirq+steal)."""
    f = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in f[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """User+system CPU seconds of this process's waited-for children (wrk, say)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def rss_kb() -> int:
    """This process's resident set size now (VmRSS), in kB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def maxrss_kb() -> int:
    """This process's peak resident set size (ru_maxrss), in kB on Linux."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
