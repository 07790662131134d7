"""Log lines: one JSON object a line (LOG_FORMAT=json, the default under gunicorn) or plain text for a
terminal (LOG_FORMAT=text, the default elsewhere), at LOG_LEVEL (INFO) and above.

A JSON line holds time (UTC, ISO 8601), level, logger, message, pid, and, for a line logged while a
request is served, request_id, tenant (the caller's tenant key) and, for a line about one decision,
decision_id (the check view sets it before deciding; a line may also pass `extra={"decision_id": ...}`).
The three are null outside a request. A traceback comes as exc_info.

Every request has an id: the caller's X-Request-ID when it is sane (1 to 128 characters of letters,
digits and `._:-`), else one made here (a random prefix per process and a counter: no system call
per request). It is sent back in the response's X-Request-ID whatever the status, so a client, the
proxy's log and these lines can be matched; gunicorn's access log can print it too (its atom
`%({x-request-id}o)s`, and the JSON access lines carry it).

Under gunicorn, config/gunicorn.conf.py hands `logging_config()` to its logconfig_dict: the root
logger (so every `scim_authz.*` line) and gunicorn's error log go to stderr in one format, and in
JSON the access log (ACCESS_LOG: `-` for stdout, a path, or empty for none) becomes JSON lines too.
Elsewhere (`flask run`, the CLI) create_app sets up the same on stderr, unless the root logger has
handlers already (pytest's capture, an embedding application's own set-up), which are left alone.
"""
from __future__ import annotations

import itertools
import logging
import os
import re
import sys
import time

from flask import Flask, current_app, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

ENVIRON_KEY = "scim_authz.request_id"
HEADER = "X-Request-ID"
FORMATS = ("json", "text")
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}").fullmatch
_JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(process)d"
_RENAMED = {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"}
# Request ids made here: a random prefix per process and a counter. A preloading gunicorn imports
# this module in its master: each forked worker draws its own prefix.
_ids = {"prefix": os.urandom(6).hex(), "counter": itertools.count(1)}


def _new_id_space() -> None:
    _ids["prefix"], _ids["counter"] = os.urandom(6).hex(), itertools.count(1)


os.register_at_fork(after_in_child=_new_id_space)


def settings(fmt: str | None = None, level: str | int | None = None) -> tuple[str, int]:
    """The format and level to log with: the arguments, else LOG_FORMAT (json) and LOG_LEVEL (INFO).
    A bad value stops the server from starting, naming the setting."""
    fmt = (fmt or os.environ.get("LOG_FORMAT") or "json").strip().lower()
    if fmt not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be json or text, not {fmt!r}")
    level = level or os.environ.get("LOG_LEVEL") or "INFO"
    number = level if isinstance(level, int) else logging.getLevelName(str(level).strip().upper())
    if not isinstance(number, int):
        raise ValueError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {level!r}")
    return fmt, number


# ---- request ids ------------------------------------------------------------------------------

class RequestIds:
    """WSGI middleware: keep a sane incoming X-Request-ID or make one, put it in the environ for the
    log filter, and send it back. About a microsecond a request (no Flask proxy is touched)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        rid = environ.get("HTTP_X_REQUEST_ID")
        if rid is None or _SANE(rid) is None:
            rid = f"{_ids['prefix']}-{next(_ids['counter']):x}"
        environ[ENVIRON_KEY] = rid

        def start(status, headers, exc_info=None):
            headers.append((HEADER, rid))
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


# ---- what every line says about its request ---------------------------------------------------

def _tenant(ctx) -> tuple[str | None, int | None]:
    """The tenant of the request's caller: (key, id). Read from what authentication left in `g`
    (never a query: this runs inside logging calls, possibly about a failing database)."""
    st = ctx.get("store")  # SCIM and /v1: the tenant's policy, which knows its key
    if st is not None:
        return getattr(st, "key", None), getattr(st, "tenant_id", None)
    tenant = ctx.get("tenant")  # the console's current tenant, a row: only what it has loaded
    if tenant is not None:
        return vars(tenant).get("key"), vars(tenant).get("id")
    holder = ctx.get("caller") or ctx.get("ctx")
    tid = getattr(holder, "tenant_id", None)
    if tid is None:
        return None, None
    if getattr(holder, "tenant_key", ""):
        return holder.tenant_key, tid
    from scim_authz.pdp import ENGINE_KEY  # here: gunicorn's settings file imports this module, lightly

    eng = current_app.extensions.get(ENGINE_KEY)
    st = eng.stores.get(tid) if eng is not None else None
    return (st.key if st is not None else None), tid


class RequestFields(logging.Filter):
    """Add request_id, tenant and decision_id to every record (None outside a request); a value
    given with `extra=` is kept. Put on handlers, so records of every logger get them."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = record.__dict__
        rid = tenant = tenant_id = decision = None
        if has_request_context():
            try:
                rid = request.environ.get(ENVIRON_KEY)
                ctx = g._get_current_object()
                decision = ctx.get("decision_id")
                tenant, tenant_id = _tenant(ctx)
            except Exception:  # noqa: BLE001 - a log line is never lost to its decoration
                pass
        fields.setdefault("request_id", rid)
        fields.setdefault("tenant", tenant)
        if tenant is None and tenant_id is not None:
            fields.setdefault("tenant_id", tenant_id)  # the key was not at hand without a query
        fields.setdefault("decision_id", decision)
        return True


# ---- formats ----------------------------------------------------------------------------------

def _utc(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class JsonLines(JsonFormatter):
    """One JSON object a line: time, level, logger, message, pid, then the request's fields."""

    def __init__(self):
        super().__init__(_JSON_FIELDS, rename_fields=_RENAMED)

    def formatTime(self, record, datefmt=None):  # noqa: N802 - logging's name
        return _utc(record)


class AccessJsonLines(JsonLines):
    """gunicorn's access log as JSON lines: the usual line as message, and its parts as fields."""

    _ATOMS = (("h", "remote_addr"), ("m", "method"), ("U", "path"), ("q", "query"), ("s", "status"),
              ("B", "bytes"), ("D", "duration_us"), ("a", "user_agent"), ("{x-request-id}o", "request_id"))

    def add_fields(self, log_data, record, message_dict):
        super().add_fields(log_data, record, message_dict)
        atoms = record.args
        if isinstance(atoms, dict):
            for atom, field in self._ATOMS:
                value = dict.get(atoms, atom)  # the raw value (gunicorn's wrapper answers "-" for none)
                if value is not None and value != "":
                    log_data[field] = int(value) if field == "status" and str(value).isdigit() else value


class TextLines(logging.Formatter):
    """A plain line for a terminal: time, level, logger, message, then the request's fields if any."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        tags = [f"{name}={value}" for name in ("request_id", "tenant", "tenant_id", "decision_id")
                if (value := getattr(record, name, None)) is not None]
        if not tags:
            return line
        first, newline, rest = line.partition("\n")  # after the message, before any traceback
        return f"{first} [{' '.join(tags)}]{newline}{rest}"


FORMATTERS = {"json": JsonLines, "text": TextLines}


# ---- set-up -----------------------------------------------------------------------------------

def logging_config(fmt: str | None = None, level: str | int | None = None, access_log: str | None = None) -> dict:
    """A dictConfig for gunicorn's logconfig_dict: everything to stderr in one format, gunicorn's
    error log included; in JSON, gunicorn's access log (`access_log`: "-" for stdout, a path, or
    None for none) as JSON lines. In text the access log is left as gunicorn makes it."""
    fmt, number = settings(fmt, level)
    level_name = logging.getLevelName(number)
    handlers = {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": fmt,
                           "filters": ["request"]}}
    loggers = {"gunicorn.error": {"level": level_name, "handlers": ["stderr"], "propagate": False},
               # Flask-Migrate imports alembic, whose plugins announce themselves at INFO; no migration
               # runs in the server (`scim-authz db upgrade` does, with its own logging).
               "alembic": {"level": "WARNING"}}
    if fmt == "json" and access_log:
        target = ({"class": "logging.StreamHandler", "stream": "ext://sys.stdout"} if access_log == "-"
                  else {"class": "logging.FileHandler", "filename": access_log})
        handlers["access"] = {**target, "formatter": "access"}
        loggers["gunicorn.access"] = {"level": "INFO", "handlers": ["access"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": RequestFields}},
        "formatters": {"json": {"()": JsonLines}, "text": {"()": TextLines}, "access": {"()": AccessJsonLines}},
        "handlers": handlers,
        "loggers": loggers,
        "root": {"level": level_name, "handlers": ["stderr"]},
    }


def init_app(app: Flask) -> None:
    """Give every request an id; outside gunicorn, log to stderr unless logging is set up already."""
    app.wsgi_app = RequestIds(app.wsgi_app)
    root = logging.getLogger()
    if root.handlers:
        return  # gunicorn's logconfig_dict, pytest's capture or an embedding application: theirs
    fmt, level = settings(app.config.get("LOG_FORMAT") or "text", app.config.get("LOG_LEVEL"))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(FORMATTERS[fmt]())
    handler.addFilter(RequestFields())
    root.addHandler(handler)
    root.setLevel(level)
