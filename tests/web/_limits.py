"""What the rate-limit tests share: an app made with the test's own limits, a clock the test moves,
and worker processes forked from one app, as gunicorn forks its workers from the preloaded app."""
from __future__ import annotations

import json
import os

from scim_authz import create_app
from scim_authz.db.extensions import db
from tests.conftest import DATABASE_URL, _reset_postgres, app_config


class Clock:
    """A clock that stands still until the test moves it (limits read it instead of the real one)."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def limited_app(tmp_path, settings: dict, clock: Clock):
    """An app with the conftest's database settings plus the test's limits and clock."""
    url = DATABASE_URL if DATABASE_URL.startswith("postgresql") else f"sqlite:///{tmp_path / 'test.db'}"
    app = create_app({**app_config(url), "RATE_LIMIT_CLOCK": clock, **settings})
    with app.app_context():
        if DATABASE_URL.startswith("postgresql"):
            _reset_postgres(app)
        else:
            db.create_all()
    return app


def in_workers(app, count: int, work) -> list:
    """Run `work()` in `count` processes forked from this process, all at once, as gunicorn's
    workers are forked from the master that created `app`; returns what each returned (JSON)."""
    with app.app_context():
        db.engine.dispose()  # no pooled connection crosses a fork
    go_r, go_w = os.pipe()
    children = []
    for _ in range(count):
        out_r, out_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: wait for the start, work, report, and leave without pytest's teardown
            code = 1
            try:
                os.close(go_w)
                os.read(go_r, 1)
                with os.fdopen(out_w, "w") as out:
                    out.write(json.dumps(work()))
                code = 0
            finally:
                os._exit(code)
        os.close(out_w)
        children.append((pid, out_r))
    os.close(go_r)
    os.write(go_w, b"x" * count)  # start them together, so they race for the same budget
    os.close(go_w)
    results = []
    for pid, out_r in children:
        with os.fdopen(out_r) as f:
            text = f.read()
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "a worker failed"
        results.append(json.loads(text))
    return results
