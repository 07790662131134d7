"""gunicorn's access log, paid for only when it is written, and only for what it prints.

gunicorn's own logger builds a line's parts before it knows whether a line is wanted (with a
logging config, which config/gunicorn.conf.py always gives, even when ACCESS_LOG is empty), and it
builds all of them: every request header, response header and WSGI environ entry becomes an atom,
and each is copied once more to escape its quotes. That was about a twentieth of a SCIM request's
CPU. This logger writes nothing when ACCESS_LOG is empty; otherwise it makes the fixed atoms at
once and looks a `%({name}i)s`, `%({name}o)s` or `%({name}e)s` atom up only when the format asks
for it. The lines are the same as gunicorn's.
"""
from __future__ import annotations

import os

from gunicorn import glogging

REQUEST_ID = "{x-request-id}o"


class Atoms(dict):
    """gunicorn's SafeAtoms (quotes escaped, "-" for what is missing, `{...}` names in any case),
    with header and environ atoms looked up when asked for."""

    def __init__(self, fixed: dict, request_headers, response_headers, environ):
        super().__init__((k, _escaped(v)) for k, v in fixed.items())
        self._sources = {"i": request_headers, "o": response_headers, "e": environ}

    def __getitem__(self, key):
        if key.startswith("{"):
            key = key.lower()
            if key not in self and key.endswith(("}i", "}o", "}e")):
                source, name = self._sources[key[-1]], key[1:-2]
                pairs = source.items() if key[-1] == "e" else source
                value = next((v for k, v in pairs if k.lower() == name), None)
                if value is not None:
                    dict.__setitem__(self, key, _escaped(value))
        return dict.get(self, key, "-")


def _escaped(value):
    return value.replace('"', '\\"') if isinstance(value, str) else value


class AccessLogger(glogging.Logger):
    """config/gunicorn.conf.py's `logger_class`."""

    def _compute_access_log_enabled(self):
        return bool(self.cfg.accesslog)  # ACCESS_LOG empty: no line, so no atoms either

    def atoms(self, resp, req, environ, request_time):
        """The atoms that need no look-up (gunicorn's, computed the same way), and the request id,
        a field of every JSON access line (ops/logs.AccessJsonLines)."""
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        sent = getattr(resp, "sent", None)
        seconds, micro = request_time.seconds, request_time.seconds * 1_000_000 + request_time.microseconds
        atoms = {
            "h": environ.get("REMOTE_ADDR", "-"), "l": "-", "u": self._get_user(environ) or "-", "t": self.now(),
            "r": f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}", "s": status,
            "m": environ.get("REQUEST_METHOD"), "U": environ.get("PATH_INFO"), "q": environ.get("QUERY_STRING"),
            "H": environ.get("SERVER_PROTOCOL"), "b": str(sent) if sent is not None else "-", "B": sent,
            "f": environ.get("HTTP_REFERER", "-"), "a": environ.get("HTTP_USER_AGENT", "-"),
            "T": seconds, "D": micro, "M": micro // 1000, "L": f"{seconds}.{request_time.microseconds:06d}",
            "p": f"<{os.getpid()}>",
        }
        rid = next((v for k, v in resp.headers if k.lower() == "x-request-id"), None)
        if rid is not None:
            atoms[REQUEST_ID] = rid
        return atoms

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        atoms = Atoms(self.atoms(resp, req, environ, request_time), getattr(req, "headers", req), resp.headers,
                      environ)
        try:
            self.access_log.info(self.cfg.access_log_format, atoms)
        except Exception:  # noqa: BLE001 - as gunicorn's own: a log line never fails a request
            self.exception(f"Failed to format log message: {self.cfg.access_log_format!r}")
