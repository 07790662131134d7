"""The peer of bench/scim_peer.py: scim2-server 0.8.3, served two ways.

Its data lives in its process's memory only (InMemoryStorage): it is lost when the server stops,
and cannot be shared by several workers.
"""
from __future__ import annotations

import os
from pathlib import Path

from _paths import BENCH_DIR, BIN
from _server import LOOPBACK, Server, free_port


def start_peer_cli(name: str, token: str, log_dir: Path) -> Server:
    """The peer as its docs serve it: `scim2-server --hostname 127.0.0.1 --port P --bearer-token T`.

    That is a wsgiref ThreadingWSGIServer (one process, a thread per request, HTTP/1.0 so one
    connection per request) over InMemoryStorage (an RLock serialises every storage operation;
    data lives only in the process's memory). Default RFC 7643 schemas and resource types.
    """
    port = free_port()
    return Server.start(name, [str(BIN / "scim2-server"), "--hostname", LOOPBACK, "--port", str(port),
                               "--bearer-token", token],
                        f"http://{LOOPBACK}:{port}/v2", token, log_dir / f"{name}.log", cwd=BENCH_DIR,
                        notes={"server": "scim2-server CLI (wsgiref ThreadingWSGIServer, HTTP/1.0)", "workers": 1,
                               "threads": "one per request", "storage": "InMemoryStorage (memory only)"})


def peer_app():
    """A WSGI app built exactly as `scim2-server` builds its own (default schemas, resource types,
    service provider config plus the bearer scheme, InMemoryStorage, BearerTokenApplication); the
    token comes from BENCH_PEER_TOKEN. Served by gunicorn as `_peer:peer_app()`, one worker only,
    since the data lives in that process's memory."""
    import secrets

    from scim2_models import ScimProvider
    from scim2_server.memory import InMemoryStorage
    from scim2_server.service import ScimService
    from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
    from scim2_server.utils import (
        load_default_resource_types,
        load_default_schemas,
        load_default_service_provider_config,
    )

    config = load_default_service_provider_config()
    config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
    provider = ScimProvider.from_discovery(load_default_schemas().values(), load_default_resource_types().values(),
                                           config=config, policy=None)
    service = ScimService(provider, secret=secrets.token_urlsafe(32))
    return BearerTokenApplication(InMemoryStorage(), provider, service=service,
                                  bearer_tokens=[os.environ["BENCH_PEER_TOKEN"]])


def start_peer_gunicorn(name: str, token: str, log_dir: Path, threads: int = 4) -> Server:
    """The same peer app under gunicorn: 1 gthread worker (in-memory data cannot span workers),
    HTTP/1.1 keep-alive; the fairest serving the peer's in-memory design allows."""
    port = free_port()
    env = {**os.environ, "BENCH_PEER_TOKEN": token}
    return Server.start(name, [str(BIN / "gunicorn"), "--bind", f"{LOOPBACK}:{port}", "--workers", "1",
                               "--threads", str(threads), "--worker-class", "gthread", "--keep-alive", "5",
                               "--pythonpath", str(BENCH_DIR), "_peer:peer_app()"],
                        f"http://{LOOPBACK}:{port}/v2", token, log_dir / f"{name}.log", cwd=BENCH_DIR, env=env,
                        notes={"server": "gunicorn _peer:peer_app() (scim2-server WSGIApplication)",
                               "workers": 1, "threads": threads, "storage": "InMemoryStorage (memory only)"})
