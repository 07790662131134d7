"""gunicorn settings; each can be overridden from the environment."""
import multiprocessing
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", max(2, multiprocessing.cpu_count())))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
accesslog = os.environ.get("ACCESS_LOG", "-") or None
keepalive = 5
# The master loads every tenant's policy once, then forks: the workers share it copy-on-write
# and none of them pays for a build on its first check.
preload_app = True


def when_ready(server):
    from scim_authz.pdp import warm_up

    warm_up(server.app.wsgi())


def worker_exit(server, worker):
    from scim_authz import pdp

    app = server.app.wsgi()
    writer = app.extensions.get(pdp.AUDIT_KEY)
    if writer is not None:
        writer.flush()
