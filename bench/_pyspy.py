"""py-spy on check_http's workers (--profile): where a check's time goes, not part of the figures."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from _paths import BIN
from _server import Server
from _stats import rnd
from _wrk import parse_wrk, wrk_argv

GENERIC_FRAMES = ("(threading.py)", "(concurrent/futures/thread.py)", "(gunicorn/arbiter.py)", "(gunicorn/app/",
                  "<module> (gunicorn)", "Worker.init_process", "ThreadWorker.run ", "SyncWorker.run ")


def summarize_collapsed(path: Path, top: int = 25) -> dict:
    """py-spy's raw (collapsed) stacks of the workers (not the master) -> the functions with most
    samples: inclusive (a function and what it calls; generic thread/boot frames left out) and self."""
    total, incl, selfc = 0, {}, {}
    for line in path.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        parts = stack.split(";")
        if sum(1 for f in parts if f.startswith("process ")) < 2:  # the master's own samples
            continue
        frames = [re.sub(r":\d+\)$", ")", f) for f in parts if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        n = int(n)
        total += n
        for f in set(frames):
            if not any(g in f for g in GENERIC_FRAMES):
                incl[f] = incl.get(f, 0) + n
        selfc[frames[-1]] = selfc.get(frames[-1], 0) + n

    def pct(d):
        return [{"frame": f, "pct": round(100 * c / total, 1)} for f, c in sorted(d.items(), key=lambda x: -x[1])[:top]]
    return {"samples": total, "inclusive": pct(incl), "self": pct(selfc)}


def profile(server: Server, script: Path, seconds: int, out_dir: Path, label: str, wrk_args: tuple,
            gil: bool = False) -> dict:
    """py-spy every worker of `server` for `seconds` while wrk drives it (wrk starts 1 s earlier, ends 1 s later)."""
    pyspy = shutil.which("py-spy") or str(BIN / "py-spy")
    if not Path(pyspy).exists():
        return {"error": "py-spy is not installed (pip install py-spy)"}
    raw = out_dir / f"pyspy_{label}.txt"
    threads, conns = wrk_args
    argv = [pyspy, "record", "--pid", str(server.proc.pid), "--subprocesses", "--nonblocking", "--rate", "200",
            "--duration", str(seconds), "--format", "raw", "--output", str(raw), *(["--gil"] if gil else [])]
    wrk = subprocess.Popen(wrk_argv(script, server.url, threads, conns, seconds + 2), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        time.sleep(1.0)
        spy = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=seconds + 60)
        out, _ = wrk.communicate(timeout=seconds + 60)
    finally:
        if wrk.poll() is None:
            os.killpg(wrk.pid, signal.SIGKILL)
            wrk.wait(timeout=10)
    if spy.returncode != 0 or not raw.exists():
        return {"error": f"py-spy failed ({spy.returncode}): {spy.stderr[-500:]}"}
    summary = summarize_collapsed(raw)
    summary.update({"raw": str(raw), "command": " ".join(argv[:2] + ["--pid", "<master>"] + argv[4:]),
                    "wrk_req_s_while_profiled": rnd(parse_wrk(out)["req_s"], 1)})
    return summary

