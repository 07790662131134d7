"""A deadline for each request, shorter than the app server's own timeout.

When a sync gunicorn worker runs past `timeout`, the master aborts it and gunicorn answers with its
own HTML page. Before that, this deadline raises RequestTimedOut inside the request (a timer signal,
in the worker's main thread), so the request's transaction is rolled back and the client gets the
protocol's 503 body (scim_authz/http_errors.py). Threaded workers, and any request not served on the
main thread, are left to the app server's timeout: a signal reaches only the main thread."""
from __future__ import annotations

import signal
import threading

from flask import Flask, current_app


class RequestTimedOut(Exception):
    """The request ran past REQUEST_DEADLINE_SECONDS and was stopped; nothing it did was committed."""


def _expired(signum, frame):
    raise RequestTimedOut(f"the request took longer than {current_app.config['REQUEST_DEADLINE_SECONDS']} s")


def arm() -> None:
    seconds = current_app.config["REQUEST_DEADLINE_SECONDS"]
    if seconds > 0 and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGALRM, _expired)
        signal.setitimer(signal.ITIMER_REAL, seconds)


def disarm(_exc=None) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.setitimer(signal.ITIMER_REAL, 0)


def register(app: Flask) -> None:
    """Arm the deadline before every request; disarm it when the request ends, however it ends."""
    app.before_request_funcs.setdefault(None, []).insert(0, arm)
    app.teardown_request(disarm)
