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
# Single-threaded (sync) workers, two per core. A check is CPU work under Python's GIL: threads in
# one process queue for it, and a keep-alive connection stays with the worker that accepted it,
# so one worker can end up with most clients while another idles. A sync worker takes one request
# at a time and accepts the next only when free, which spreads the load by itself: measured with
# bench/check_http.py on 2 cores, p99 8 ms and 4,000 checks/s, against 13-21 ms and 2,900-4,000
# with 2 workers x 4 threads. Sync workers expect a proxy in front that buffers slow clients;
# TLS needs one anyway. GUNICORN_THREADS > 1 selects threaded workers instead.
# The sync worker is gunicorn's, woken one at a time for a new connection (scim_authz/ops/sync_worker.py):
# gunicorn's own wakes every idle worker for each one, which cost a request 100-280 us of CPU with 4
# workers (bench/serving_cost.py).
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * max(1, multiprocessing.cpu_count())))
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
keepalive = 5
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
