"""A decision point as production runs it: `scim-authz pdp` in its own process group, with no
database setting in its environment, on a free loopback port."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx

from tests.faults.service import BIN, ROOT, free_port, stop_group


class PdpProcess:
    def __init__(self, control_plane: str, key: str, data_dir: Path, log_path: Path, port: int | None = None):
        self.control_plane, self.key, self.data_dir, self.log_path = control_plane, key, data_dir, log_path
        self.port = port or free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> PdpProcess:
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "TEST_DATABASE_URL", "SCIM_AUTHZ_INSTANCE")}
        env.update(PDP_KEY=self.key, ACCESS_LOG="")
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [str(BIN / "scim-authz"), "pdp", "--control-plane", self.control_plane, "--bind",
                 f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir)],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.origin}/readyz", timeout=5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the decision point did not become ready; log:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            stop_group(self.proc)
            self.proc = None

    def ready(self) -> dict:
        return httpx.get(f"{self.origin}/readyz", timeout=5).json()

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""
