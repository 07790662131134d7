"""A deadline for each request, shorter than the app server's own timeout.

When a sync gunicorn worker runs past `timeout`, the master aborts it and gunicorn answers with its
own HTML page. Before that, this deadline raises RequestTimedOut inside the request (a timer signal,
in the worker's main thread), so the request's transaction is rolled back and the client gets the
protocol's 503 body (scim_authz/http_errors.py). Threaded workers, and any request not served on the
main thread, are left to the app server's timeout: a signal reaches only the main thread."""
from __future__ import annotations

import os
import signal
import threading

from flask import Flask


class RequestTimedOut(Exception):
    """The request ran past REQUEST_DEADLINE_SECONDS and was stopped; nothing it did was committed."""


def register(app: Flask) -> None:
    """Arm the deadline before every request; disarm it when the request ends, however it ends.
    It runs around every check, so it costs one timer call each way and looks nothing up."""
    config = app.config
    main = threading.main_thread()
    handled_in: list[int] = []  # the process whose SIGALRM handler is ours (set once, after a fork too)

    def expired(signum, frame):
        raise RequestTimedOut(f"the request took longer than {config['REQUEST_DEADLINE_SECONDS']} s")

    def arm() -> None:
        seconds = config["REQUEST_DEADLINE_SECONDS"]
        if seconds > 0 and threading.current_thread() is main:
            if handled_in != [os.getpid()]:
                signal.signal(signal.SIGALRM, expired)
                handled_in[:] = [os.getpid()]
            signal.setitimer(signal.ITIMER_REAL, seconds)

    def disarm(_exc=None) -> None:
        if threading.current_thread() is main:
            signal.setitimer(signal.ITIMER_REAL, 0)

    app.before_request_funcs.setdefault(None, []).insert(0, arm)
    app.teardown_request(disarm)
