"""`scim-authz pdp`: a decision point beside the application (scim_authz/dataplane), served by gunicorn
without any database setting."""
from __future__ import annotations

import os

import click


@click.command("pdp")
@click.option("--control-plane", envvar="PDP_CONTROL_PLANE", required=True,
              help="The control plane's base URL, e.g. https://authz.example.com.")
@click.option("--key", envvar="PDP_KEY", required=True,
              help="A PDP key (pdp_…) of the tenant to serve; better given as PDP_KEY in the environment.")
@click.option("--bind", envvar="PDP_BIND", default="127.0.0.1:8181", show_default=True)
@click.option("--data-dir", envvar="PDP_DATA_DIR", default="pdp-data", show_default=True,
              help="Where the last snapshot, the changes after it and unsent decisions are kept.")
@click.option("--workers", envvar="PDP_WORKERS", type=int, default=None,
              help="Worker processes, each holding the tenants' data [default: one per core, at least two].")
@click.option("--threads", envvar="PDP_THREADS", default=1, show_default=True, type=int,
              help="Threads per worker (more than 1: gunicorn's threaded workers).")
@click.option("--poll-seconds", envvar="PDP_POLL_SECONDS", default=0.05, show_default=True, type=float,
              help="How often the control plane is asked for changes.")
@click.option("--wait-seconds", envvar="PDP_WAIT_SECONDS", default=2.0, show_default=True, type=float,
              help="How long a check with at_least waits for that revision before a 409.")
@click.option("--ship-seconds", envvar="PDP_SHIP_SECONDS", default=2.0, show_default=True, type=float,
              help="How often each worker sends its decisions to the control plane's decision log (on average).")
def pdp_cmd(control_plane, key, bind, data_dir, workers, threads, poll_seconds, wait_seconds, ship_seconds):
    """Serve the decision API for the tenant of a PDP key, synced from the control plane."""
    import multiprocessing

    from gunicorn.app.base import BaseApplication

    from scim_authz.dataplane.server import begin, create_pdp_app, prepare, stop

    class PdpServer(BaseApplication):
        def load_config(self):
            # As the control plane serves checks (config/gunicorn.conf.py): single-threaded workers,
            # one per core, keeping connections alive. The master loads the data before it forks
            # (preload_app, when_ready), so every worker starts with it, shared copy-on-write; each
            # then syncs on its own (dataplane/server.py: prepare, begin).
            settings = {
                "bind": bind, "workers": workers or max(2, multiprocessing.cpu_count()), "threads": max(1, threads),
                "worker_class": "gthread" if threads > 1 else "scim_authz.ops.sync_worker.SyncWorker",
                "keepalive": int(os.environ.get("GUNICORN_KEEPALIVE", 5)),
                "timeout": int(os.environ.get("GUNICORN_TIMEOUT", 60)),
                "accesslog": os.environ.get("ACCESS_LOG") or None,
                "preload_app": True,
                "when_ready": lambda arbiter: prepare(arbiter.app.wsgi()),
                "post_worker_init": lambda worker: begin(worker.wsgi),
                "worker_exit": lambda _arbiter, worker: stop(worker.wsgi)}
            for k, v in settings.items():
                self.cfg.set(k, v)

        def load(self):  # in the master (preloaded)
            return create_pdp_app(control_plane, key, os.path.abspath(data_dir), poll_seconds=poll_seconds,
                                  wait_seconds=wait_seconds, ship_seconds=ship_seconds, start=False)

    PdpServer().run()
