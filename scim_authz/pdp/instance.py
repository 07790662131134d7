"""The decision point of one application instance: its engine and its decision log."""
from __future__ import annotations

import gc
import logging
import threading
import time

from flask import Flask, current_app

from scim_authz.authz.engine import Engine
from scim_authz.authz.sql_store import SQLReader
from scim_authz.db.extensions import db
from scim_authz.db.txn import read_only
from scim_authz.pdp import revision_signal
from scim_authz.pdp.decision_log import AuditLog

log = logging.getLogger("scim_authz.pdp")
_lock = threading.Lock()
ENGINE_KEY, AUDIT_KEY = "scim_authz.engine", "scim_authz.decision_log"
COUNTS_KEY = "scim_authz.directory_write_counts"


def engine(app: Flask | None = None) -> Engine:
    """This instance's engine (created on first use; `warm_up` loads it at start-up)."""
    app = app or current_app
    eng = app.extensions.get(ENGINE_KEY)
    if eng is None:
        with _lock:
            eng = app.extensions.get(ENGINE_KEY)
            if eng is None:
                how = app.config["AUTHZ_REVISION_SIGNAL"]
                if how not in ("auto", "file", "listen", "none"):
                    raise ValueError(f"AUTHZ_REVISION_SIGNAL must be auto, file, listen or none, not {how!r}")
                eng = Engine(SQLReader(db.engine, read_guard=read_only),
                             max_depth=app.config["AUTHZ_MAX_DEPTH"],
                             revision_poll_seconds=app.config["AUTHZ_REVISION_POLL_SECONDS"],
                             signal=revision_signal.for_engine(db.engine, how in ("auto", "file")),
                             feed=revision_signal.feed_for(db.engine, how in ("auto", "listen")))
                eng.observer = app.extensions.get("scim_authz.metrics")  # ops/metrics.py, when metrics are on
                app.extensions[ENGINE_KEY] = eng
    return eng


def audit(app: Flask | None = None) -> AuditLog:
    """This instance's decision log writer."""
    app = app or current_app
    log_ = app.extensions.get(AUDIT_KEY)
    if log_ is None:
        with _lock:
            log_ = app.extensions.get(AUDIT_KEY)
            if log_ is None:
                log_ = AuditLog(db.engine, app.config["AUTHZ_AUDIT_FLUSH_SECONDS"])
                app.extensions[AUDIT_KEY] = log_
    return log_


def write_counter(app: Flask | None = None):
    """This instance's counter of SCIM writes per token and day (governance/directory_writes.py)."""
    from scim_authz.governance.directory_writes import WriteCounter

    app = app or current_app
    counter = app.extensions.get(COUNTS_KEY)
    if counter is None:
        with _lock:
            counter = app.extensions.setdefault(COUNTS_KEY, WriteCounter(db.engine))
    return counter


def close(app: Flask) -> None:
    """Stop what the decision point started for this app: the decision log writer (flushed), the
    SCIM write counter (flushed) and the revision feed's listener."""
    writer = app.extensions.get(AUDIT_KEY)
    if writer is not None:
        writer.close()
    counter = app.extensions.get(COUNTS_KEY)
    if counter is not None:
        counter.close()
    with app.app_context():
        revision_signal.forget(db.engine)


def share_revisions(app: Flask) -> None:
    """Under a forking server, called in the parent before it forks: the parent alone listens for
    committed revisions, for every worker (pdp/revision_board.py). Nothing to do on SQLite."""
    with app.app_context():
        feed = engine(app).feed
    if feed is not None:
        feed.share()


def warm_up(app: Flask) -> None:
    """Load every tenant's policy before serving, then freeze it out of the garbage collector's
    way (and, under a preloading gunicorn, share it copy-on-write with the workers)."""
    started = time.perf_counter()
    gc.collect()  # before, not after: the load makes (almost) no garbage, and collecting its objects costs seconds
    with app.app_context():
        n = engine(app).load_all()
        db.engine.dispose()  # no connection may cross a fork
    gc.freeze()
    log.info("loaded %d tenants in %.2fs", n, time.perf_counter() - started)
