"""gunicorn settings; each can be overridden from the environment."""
import multiprocessing
import os

from scim_authz.ops import multiproc
from scim_authz.ops.logs import logging_config

# Metrics under pre-forked workers: prometheus_client's multiprocess mode needs PROMETHEUS_MULTIPROC_DIR
# set before the app (and prometheus_client with it) is loaded, and gunicorn runs this file first.
# Unset, a fresh directory is made and removed on exit; set, files of an earlier run are cleared.
multiproc.prepare()

bind = os.environ.get("BIND", "127.0.0.1:8000")
# Single-threaded (sync) workers, one per core and at least two. A check is CPU work under Python's
# GIL: threads in one process queue for it, so one process's threads gain nothing over one thread,
# and they hand each request between them (bench/check_http.py on 2 cores, closing connections:
# sync workers 4,000 checks/s and p99 8 ms, against 2,900-4,000 and 13-21 ms with 2 workers x 4
# threads). Sync workers expect a proxy in front that buffers slow clients; TLS needs one anyway.
# GUNICORN_THREADS > 1 selects threaded workers instead.
# The sync worker is gunicorn's, woken one at a time for a new connection and keeping connections
# alive (scim_authz/ops/sync_worker.py). gunicorn's own wakes every idle worker for each one, which
# cost a request 100-280 us of CPU with 4 workers (bench/serving_cost.py), and closes every
# connection after its answer, which cost client and server 150-350 us a request together.
# Once connections are kept, more processes than cores only share the cores' caches and queue for
# them: on 2 cores, 2 workers served 4,550 checks/s with p99 7.0 ms, 4 workers 4,100 and 13.3 ms
# (bench/check_http.py --configs 2x1,4x1, one run), and a SCIM provisioning cycle spent 1.2 ms of
# server CPU a request with 2 workers, 1.5-1.8 with 4 (bench/scim_cycle.py). A kept connection stays
# with the worker that accepted it, so under saturation a request can wait behind another client's
# on a busy worker. With PostgreSQL on another machine, a worker waits for each round trip: raise
# WEB_CONCURRENCY to keep the cores busy meanwhile.
workers = int(os.environ.get("WEB_CONCURRENCY", max(2, multiprocessing.cpu_count())))
threads = int(os.environ.get("GUNICORN_THREADS", 1))
worker_class = "gthread" if threads > 1 else "scim_authz.ops.sync_worker.SyncWorker"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
accesslog = os.environ.get("ACCESS_LOG", "-") or None
# Logs (scim_authz/ops/logs.py): JSON lines on stderr (LOG_FORMAT=text for plain ones) at LOG_LEVEL,
# the application's INFO lines and gunicorn's error log alike; in JSON the access lines too.
logconfig_dict = logging_config(access_log=accesslog)
# gunicorn's logger, with an access line's parts built only when a line is written (ops/access_log.py).
logger_class = "scim_authz.ops.access_log.AccessLogger"
# X-Forwarded-Proto and friends are believed only from TRUSTED_PROXIES, by gunicorn as by the app.
forwarded_allow_ips = os.environ.get("TRUSTED_PROXIES", "")
# Seconds a connection is kept open for its next request (HTTP/1.1 keep-alive), by the sync worker
# too (ops/sync_worker.py): a client then pays for one TCP connection, not one per request. 0 closes
# the connection after every answer, as gunicorn's own sync worker does.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 5))
# No request-line cap of gunicorn's own by default (its 414 is an HTML page; GUNICORN_LIMIT_REQUEST_LINE
# sets one): the app caps the URL at MAX_URL_BYTES and answers with the protocol's 414, so an IdP's
# long SCIM filter in a GET gets a SCIM error. Headers keep gunicorn's limits; a buffering proxy in
# front caps both anyway.
limit_request_line = int(os.environ.get("GUNICORN_LIMIT_REQUEST_LINE", 0))
# The master loads every tenant's policy once, then forks: the workers share it copy-on-write
# and none of them pays for a build on its first check.
preload_app = True


def when_ready(server):
    from scim_authz.pdp import share_revisions, warm_up

    app = server.app.wsgi()
    warm_up(app)
    # On PostgreSQL the master alone listens for committed revisions, for every worker.
    share_revisions(app)


def child_exit(server, worker):
    multiproc.worker_gone(worker.pid)  # its live gauges go; its counters stay in the totals


def on_exit(server):
    multiproc.remove_own_dir()


def worker_exit(server, worker):
    from scim_authz import pdp

    app = server.app.wsgi()
    writer = app.extensions.get(pdp.AUDIT_KEY)
    if writer is not None:
        writer.flush()
