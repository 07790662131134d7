"""ops/access_log.py: the same access lines as gunicorn's own logger, and none of the work when
ACCESS_LOG is empty."""
from __future__ import annotations

import datetime
import logging

import pytest
from gunicorn import glogging
from gunicorn.config import Config

from scim_authz.ops.access_log import AccessLogger
from scim_authz.ops.logs import AccessJsonLines

FORMATS = [
    None,  # gunicorn's default: %(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"
    '%(h)s %(m)s %(U)s %(q)s %(H)s %(s)s %(B)s %(D)s %(M)s %(L)s %(T)s %(p)s',
    '%({X-Request-ID}o)s %({user-agent}i)s %({Content-Type}o)s %({remote_addr}e)s %({nosuch}i)s %({wsgi.x}e)s',
    '"%({x-quoted}i)s" %(u)s',
]


class _Resp:
    status = "201 CREATED"
    sent = 345
    headers = [("Content-Type", "application/scim+json"), ("X-Request-ID", "req-7"), ("ETag", 'W/"1"')]


class _Req:
    headers = [("HOST", "example.test"), ("USER-AGENT", "Okta SCIM Client 1.0.0"), ("X-QUOTED", 'say "hi"'),
               ("AUTHORIZATION", "Basic YW5uOnNlY3JldA==")]


ENVIRON = {"REQUEST_METHOD": "POST", "RAW_URI": "/scim/v2/Users?x=1", "SERVER_PROTOCOL": "HTTP/1.1",
           "PATH_INFO": "/scim/v2/Users", "QUERY_STRING": "x=1", "REMOTE_ADDR": "10.0.0.9",
           "HTTP_USER_AGENT": "Okta SCIM Client 1.0.0", "HTTP_AUTHORIZATION": "Basic YW5uOnNlY3JldA==",
           "wsgi.x": "y"}
ELAPSED = datetime.timedelta(seconds=1, microseconds=2345)


def _lines(logger_class, fmt, accesslog="-"):
    cfg = Config()
    cfg.set("accesslog", accesslog)
    if fmt is not None:
        cfg.set("access_log_format", fmt)
    logger = logger_class(cfg)
    logger.now = lambda: "[06/Dec/2026:20:00:00 +0000]"
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.access_log.handlers = [handler]
    logger.access(_Resp(), _Req(), dict(ENVIRON), ELAPSED)
    return records


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_lines_are_gunicorns(fmt):
    ours, theirs = _lines(AccessLogger, fmt), _lines(glogging.Logger, fmt)
    assert len(ours) == len(theirs) == 1
    assert ours[0].getMessage() == theirs[0].getMessage()


def test_the_json_line_has_the_same_fields():
    formatter = AccessJsonLines()
    ours, theirs = _lines(AccessLogger, None)[0], _lines(glogging.Logger, None)[0]
    ours.created = theirs.created
    ours.msecs = theirs.msecs
    ours.process = theirs.process
    assert formatter.format(ours) == formatter.format(theirs)
    assert '"request_id": "req-7"' in formatter.format(ours)


def test_without_an_access_log_nothing_is_built(monkeypatch):
    def refuse(*args):
        raise AssertionError("atoms built for a line nobody writes")
    monkeypatch.setattr(AccessLogger, "atoms", refuse)
    assert _lines(AccessLogger, None, accesslog=None) == []
