"""Fetching a JSON document from a URL that a tenant configured (its IdP's JWKS), without letting
that URL reach into the network the service runs in. Flask-free.

A tenant's administrator chooses the URL; the server fetches it. Pointed at 169.254.169.254, at
127.0.0.1:5432 or at an intranet host, that fetch would let a tenant probe (or read from) what
only the server can reach. So the address the connection actually reached is checked after the
TCP connect and before a byte is sent: a host name that resolves to a private, loopback,
link-local or otherwise non-public address is refused, whichever way DNS answers at the time
(re-resolving to an internal address later does not get around it). An IdP inside the operator's
own network (Keycloak on the intranet, say) is allowed by AUTHZ_JWKS_ALLOW_PRIVATE_NETWORKS.

Connections go direct (no proxy from the environment: a proxy's own address would be the one
checked), redirects are refused, and the body is capped.
"""
from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

MAX_BYTES = 1 << 20  # a JWKS is a few kilobytes; an answer this large is not one


class FetchError(Exception):
    """The document could not be fetched; .reason is safe to log and show."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def public_address(host: str) -> bool:
    """True for an address on the public internet."""
    ip = ipaddress.ip_address(host.partition("%")[0])  # (an IPv6 zone, fe80::1%eth0)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _guarded_connect(allow_private: bool):
    def create_connection(address, timeout=None, source_address=None, **kw):  # http.client passes one
        sock = socket.create_connection(address, timeout, source_address, **kw)
        peer = sock.getpeername()[0]
        if not allow_private and not public_address(peer):
            sock.close()
            raise FetchError(f"{address[0]} is at {peer}, which is not a public address "
                             "(AUTHZ_JWKS_ALLOW_PRIVATE_NETWORKS allows an IdP inside your network)")
        return sock
    return create_connection


def _handlers(allow_private: bool) -> list:
    connect = _guarded_connect(allow_private)

    class HTTPConnection(http.client.HTTPConnection):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self._create_connection = connect

    class HTTPSConnection(http.client.HTTPSConnection):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self._create_connection = connect

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(HTTPConnection, req)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(HTTPSConnection, req, context=self._context)

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req, fp, code, msg, headers, newurl):
            raise FetchError(f"the server redirected (HTTP status {code}); give the final URL")

    return [urllib.request.ProxyHandler({}), HTTPHandler(), HTTPSHandler(), NoRedirects()]


def fetch_json(url: str, *, timeout: float, allow_private: bool = False) -> Any:
    """The JSON document at `url` (http or https); FetchError saying why not."""
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        raise FetchError("only http and https URLs are fetched")
    opener = urllib.request.build_opener(*_handlers(allow_private))
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "scim-authz"})
    try:
        with opener.open(request, timeout=timeout) as response:
            body = response.read(MAX_BYTES + 1)
    except FetchError:
        raise
    except urllib.error.HTTPError as e:
        raise FetchError(f"HTTP status {e.code}") from None
    except urllib.error.URLError as e:  # (urllib wraps the socket's errors: refused, timed out, no such host)
        raise FetchError(str(e.reason)[:200]) from None
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise FetchError(str(e)[:200] or type(e).__name__) from None
    if len(body) > MAX_BYTES:
        raise FetchError(f"the response is larger than {MAX_BYTES // 1024} KiB")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise FetchError("the response is not JSON") from None
