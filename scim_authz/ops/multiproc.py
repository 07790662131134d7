"""The directory prometheus_client's multiprocess mode keeps each gunicorn worker's metrics in.

Under a pre-forking gunicorn every worker counts in files of its own (named by its pid) in
PROMETHEUS_MULTIPROC_DIR, and a scrape answered by any worker sums them all. prometheus_client
decides between that and plain in-memory metrics when it is first imported, so the directory must
be in the environment before the app (which imports it) is loaded: config/gunicorn.conf.py calls
`prepare()` at its top, which gunicorn runs before preloading the app.

A directory left from an earlier run must never be summed in silently: its counters would be added
to this run's, and its gauges would stand for workers long gone. So:
- unset, the master makes a fresh private directory, and removes it when it exits (a master
  re-executed by USR2 starts from the environment gunicorn started with, and makes its own);
- set by the operator, the metric files found there are removed (and said so on stderr) when the
  processes that wrote them are gone; if one of them is still running (another server sharing the
  directory), the server refuses to start.
This module imports nothing of prometheus_client at its top, for that reason.
"""
from __future__ import annotations

import atexit
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"
# The directory this process made and its pid; and the directory already found fit in this process
# (gunicorn reads its configuration again on HUP, while the workers it started are still writing).
_OWN = {"path": None, "pid": None, "checked": None}
# prometheus_client's files: counter_<pid>.db, histogram_<pid>.db, gauge_<mode>_<pid>.db, ...
_METRIC_FILE = re.compile(r"^(?:counter|gauge_[a-z]+|histogram|summary)_(\d+)\.db$")


def running_under_gunicorn() -> bool:
    """True in a gunicorn process (its arbiter is imported before it reads its configuration file);
    False where a tool merely evaluates that file (runpy, in a test)."""
    return "gunicorn.arbiter" in sys.modules


def prepare(environ=os.environ, *, gunicorn: bool | None = None) -> str | None:
    """Make sure `environ` names a directory fit for this run's metrics; returns it (None when not
    under gunicorn, where metrics stay in the process's memory)."""
    if not (running_under_gunicorn() if gunicorn is None else gunicorn):
        return None
    given = environ.get(ENV)
    if given and given == _OWN["checked"]:
        return given
    if not given:
        given = tempfile.mkdtemp(prefix="scim-authz-metrics-")
        environ[ENV] = given
        _OWN["path"], _OWN["pid"] = given, os.getpid()
        atexit.register(remove_own_dir)
    else:
        clear_stale(Path(given))
    _OWN["checked"] = given
    return given


def clear_stale(folder: Path) -> int:
    """Remove the metric files of processes no longer running from `folder`; returns how many.
    Raises RuntimeError when a running process other than this one still writes there."""
    if not folder.is_dir():
        raise RuntimeError(f"{ENV}={folder} is not a directory: create it (empty), or unset {ENV} "
                           "to let the server make its own")
    stale, live = [], set()
    for f in folder.iterdir():
        m = _METRIC_FILE.match(f.name)
        if m is None:
            continue
        pid = int(m.group(1))
        if pid != os.getpid() and _alive(pid):
            live.add(pid)
        stale.append(f)
    if live:
        raise RuntimeError(f"{ENV}={folder} holds the metrics of running processes {sorted(live)}: each server "
                           f"needs a directory of its own (or unset {ENV} to let it make one)")
    for f in stale:
        f.unlink(missing_ok=True)
    if stale:
        print(f"scim-authz: removed {len(stale)} metric files of an earlier run from {folder}", file=sys.stderr)
    return len(stale)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def worker_gone(pid: int) -> None:
    """Drop the live gauges of a worker that exited (its counters stay: they are part of the totals)."""
    if os.environ.get(ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def remove_own_dir() -> None:
    """Remove the directory `prepare` made, from the process that made it (a forked worker inherits
    the exit handler and must leave the directory to the others)."""
    path = _OWN["path"]
    if path and _OWN["pid"] == os.getpid():
        shutil.rmtree(path, ignore_errors=True)
        _OWN["path"] = None

