"""What the AuthZEN tests share: a client for /access/v1 and a request builder."""
from __future__ import annotations

import json
import os
from pathlib import Path

# The OpenID Foundation's public interop data, read in place (never copied into the repository).
INTEROP = Path(os.environ.get("AUTHZEN_INTEROP_DIR") or
               Path(__file__).resolve().parents[2].parent / "shared" / "authzen-interop")


class AuthZEN:
    """POSTs to /access/v1 with the tenant's API key."""

    def __init__(self, client, key: str):
        self.client, self.key = client, key

    def post(self, path: str, body=None, *, raw=None, headers=None, content_type="application/json", **kw):
        h = {"Authorization": f"Bearer {self.key}", "Content-Type": content_type, **(headers or {})}
        data = raw if raw is not None else json.dumps(body)
        return self.client.post("/access/v1" + path, data=data, headers=h, **kw)


def ask(subject_id, action="edit", resource=("document", "1"), **extra) -> dict:
    return {"subject": {"type": "user", "id": subject_id}, "action": {"name": action},
            "resource": {"type": resource[0], "id": resource[1]}, **extra}
