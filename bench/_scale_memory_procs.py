"""Memory as the kernel counts it, from /proc/<pid>/smaps_rollup: RSS (every resident page, shared
or not), PSS (each shared page divided among the processes sharing it: summed over processes, the
memory they really take) and USS (pages only this process has: what it would free by exiting,
and what copy-on-write has cost a forked worker)."""
from __future__ import annotations

from pathlib import Path

FIELDS = ("Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty", "Swap")


def smaps(pid: int | str = "self") -> dict:
    """A process's memory in MiB: rss, pss, uss (private clean + dirty), shared, swap."""
    kb: dict[str, int] = {}
    for line in (Path("/proc") / str(pid) / "smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in FIELDS:
            kb[name] = int(rest.split()[0])
    mb = {k: v / 1024 for k, v in kb.items()}
    return {"rss_mb": mb["Rss"], "pss_mb": mb["Pss"], "uss_mb": mb["Private_Clean"] + mb["Private_Dirty"],
            "shared_mb": mb["Shared_Clean"] + mb["Shared_Dirty"], "swap_mb": mb.get("Swap", 0.0)}


def server_memory(server) -> dict:
    """The master's and each worker's memory, and the workers' sums (the target is on their USS)."""
    master = smaps(server.proc.pid)
    workers = []
    for pid in server.worker_pids():
        try:
            workers.append({"pid": pid, **smaps(pid)})
        except OSError:  # a worker that exited meanwhile
            continue
    return {
        "master": {"pid": server.proc.pid, **master},
        "workers": workers,
        "workers_uss_mb": sum(w["uss_mb"] for w in workers),
        "workers_pss_mb": sum(w["pss_mb"] for w in workers),
        "workers_rss_mb": sum(w["rss_mb"] for w in workers),
        "all_pss_mb": master["pss_mb"] + sum(w["pss_mb"] for w in workers),
        "all_uss_mb": master["uss_mb"] + sum(w["uss_mb"] for w in workers),
    }
