"""What the per-request edges of the operations work cost: the request id (scim_authz/ops/logs.py),
the trusted-proxy middleware (scim_authz/web/proxy.py) and the decision id set on `g` for the log.

Each is timed in this process around a WSGI app that does nothing, in CPU time of this thread
(time.thread_time: what other processes on the machine do does not count), as the best of several
repetitions, minus the bare app's own time. Prints a table and, last, one JSON line.

    .venv/bin/python bench/request_edges.py            # ~20 s
    .venv/bin/python bench/request_edges.py --quick
"""
from __future__ import annotations

import argparse
import time
import timeit

import _paths  # noqa: F401 - the repository first on sys.path
from _report import emit_json, log, print_table, product_state

from scim_authz.ops.logs import RequestIds
from scim_authz.web.proxy import TrustedProxies, parse_trusted

BASE = {"REQUEST_METHOD": "POST", "PATH_INFO": "/v1/check", "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http", "HTTP_HOST": "127.0.0.1:8000"}


def bare(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b"{}"]


def _start_response(status, headers, exc_info=None):
    return None


def per_call_us(fn, number: int, repeat: int) -> float:
    """Best CPU microseconds per call of fn() over `repeat` runs of `number` calls."""
    return min(timeit.repeat(fn, number=number, repeat=repeat, timer=time.thread_time)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (noisier)")
    args = parser.parse_args()
    number, repeat = (20_000, 5) if args.quick else (100_000, 15)

    proxies = TrustedProxies(bare, parse_trusted("10.0.0.0/8"))
    cases = [
        ("request id, none sent (one is made)", RequestIds(bare), {}),
        ("request id, a sane one sent (uuid)", RequestIds(bare),
         {"HTTP_X_REQUEST_ID": "0f8fad5b-d9cb-469f-a165-70867728950e"}),
        ("request id, an insane one sent (replaced)", RequestIds(bare), {"HTTP_X_REQUEST_ID": "x" * 200}),
        ("proxy middleware, untrusted peer", proxies, {}),
        ("proxy middleware, trusted peer + X-Forwarded-For/-Proto", proxies,
         {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "198.51.100.7", "HTTP_X_FORWARDED_PROTO": "https"}),
    ]
    log(f"timing {len(cases) + 2} cases, {repeat} x {number} calls each")
    floor = per_call_us(lambda: bare(dict(BASE), _start_response), number, repeat)
    rows, results = [], {}
    for name, app, extra in cases:
        environ = {**BASE, **extra}
        us = per_call_us(lambda app=app, environ=environ: app(dict(environ), _start_response), number, repeat) - floor
        rows.append((name, f"{us:.2f}"))
        results[name] = round(us, 3)

    class Globals:
        pass

    g = Globals()
    us = per_call_us(lambda: setattr(g, "decision_id", "x"), number * 5, repeat)
    rows.append(("decision id set on g (per check)", f"{us:.2f}"))
    results["decision id set on g (per check)"] = round(us, 3)

    print_table(["edge", "CPU µs per request (above a bare WSGI app)"], rows)
    print(f"bare WSGI app and environ copy: {floor:.2f} µs")
    emit_json({"bench": "request_edges", "unit": "cpu_us_per_request", "bare_app_us": round(floor, 3),
               "results": results, "calls": number, "repeats": repeat, "product": product_state()})


if __name__ == "__main__":
    main()
