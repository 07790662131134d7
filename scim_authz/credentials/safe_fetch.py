"""Fetching a JSON document from a URL that a tenant configured (its IdP's JWKS), without letting
that URL reach into the network the service runs in. Flask-free.

A tenant's administrator chooses the URL; the server fetches it. Pointed at 169.254.169.254, at
127.0.0.1:5432 or at an intranet host, that fetch would let a tenant probe (or read from) what
only the server can reach. So the host is resolved once, every address it resolves to is vetted
before any connection is made (a private, loopback, link-local or otherwise non-public address is
refused), and the connection goes to a vetted address, never to a second answer from DNS: a name
that rebinds to an internal address after vetting gets nowhere. The request, TLS SNI and the
certificate check still use the host name. An IdP inside the operator's own network (Keycloak on
the intranet, say) is allowed by AUTHZ_JWKS_ALLOW_PRIVATE_NETWORKS.

`url_problem` judges a URL without the network, for when a tenant writes it.

Connections go direct (no proxy from the environment: the proxy would make the connection we
vetted), redirects are refused, and the body is capped. A FetchError's reason says what happened,
for the server log; it describes the network the server sees, so it is not for the tenant.
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
# URLs are cache keys (end_user_jwt); a bounded cache of unbounded keys would not be bounded.
MAX_URL_CHARS = 2048
PRIVATE_HINT = "AUTHZ_JWKS_ALLOW_PRIVATE_NETWORKS allows an IdP inside your network"


class FetchError(Exception):
    """The document could not be fetched; .reason says why, for the server log."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def public_address(host: str) -> bool:
    """True for an address on the public internet."""
    ip = ipaddress.ip_address(host.partition("%")[0])  # (an IPv6 zone, fe80::1%eth0)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def url_problem(url: str, *, require_https: bool, allow_private: bool) -> str | None:
    """What is wrong with `url` as a JWKS URL, judged without the network; None when nothing is.

    Private addresses are caught here only when the URL spells them (127.0.0.1, [::1], 2130706433,
    localhost): a name is not resolved, so writing a URL neither tells a tenant what the server's
    DNS knows nor fails while the IdP's DNS is being set up. fetch_json vets what names resolve to."""
    if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
        return f"must be a URL of at most {MAX_URL_CHARS} characters"
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port  # raises ValueError for a port out of range
    except ValueError:
        return "is not a valid URL"
    scheme = parts.scheme.lower()
    if scheme not in (("https",) if require_https else ("http", "https")):
        return "must be an https URL" if require_https else "must be an http or https URL"
    if not parts.hostname:
        return "must name a host"
    if parts.username is not None or parts.password is not None:
        return "must not contain a user name or password"
    if not allow_private and not _may_be_public(parts.hostname):
        return f"points at a private or loopback address ({PRIVATE_HINT})"
    return None


def _may_be_public(host: str) -> bool:
    host = host.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):  # loopback by definition (RFC 6761 §6.3)
        return False
    try:
        return public_address(host)
    except ValueError:
        pass
    try:  # the forms only the C resolver reads as IPv4: 127.1, 2130706433, 0x7f.0.0.1
        return public_address(socket.inet_ntoa(socket.inet_aton(host)))
    except OSError:
        return True  # a name: what it resolves to is vetted when it is fetched


def fetch_json(url: str, *, timeout: float, allow_private: bool = False) -> Any:
    """The JSON document at `url` (http or https); FetchError saying why not."""
    problem = url_problem(url, require_https=False, allow_private=True)  # addresses: vetted below
    if problem:
        raise FetchError(f"the URL {problem}")
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    addresses = _vetted_addresses(parts.hostname, port, allow_private)
    opener = urllib.request.build_opener(*_handlers(addresses))
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "scim-authz"})
    try:
        with opener.open(request, timeout=timeout) as response:
            body = response.read(MAX_BYTES + 1)
    except FetchError:
        raise
    except urllib.error.HTTPError as e:
        raise FetchError(f"HTTP status {e.code}") from None
    except urllib.error.URLError as e:  # (urllib wraps the socket's errors: refused, timed out)
        raise FetchError(_printable(str(e.reason))) from None
    except (OSError, http.client.HTTPException, ValueError) as e:  # a bad status line quotes the server
        raise FetchError(_printable(str(e)) or type(e).__name__) from None
    if len(body) > MAX_BYTES:
        raise FetchError(f"the response is larger than {MAX_BYTES // 1024} KiB")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise FetchError("the response is not JSON") from None


def _printable(text: str) -> str:
    """`text` cut short, with what would break a log line escaped: it may quote whatever the URL's
    server sent, and a line break in it would let that server write lines of its own into the log."""
    text = text[:200]
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def _vetted_addresses(host: str, port: int, allow_private: bool) -> list[tuple]:
    """Every (family, type, proto, sockaddr) `host` resolves to, once; FetchError when any is not
    public (a name with one public and one private address could otherwise be aimed at the latter)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as e:
        raise FetchError(f"{host} does not resolve: {_printable(str(e))}") from None
    found = []
    for family, type_, proto, _, sockaddr in infos:
        if not allow_private and not public_address(sockaddr[0]):
            raise FetchError(f"{host} is at {sockaddr[0]}, which is not a public address ({PRIVATE_HINT})")
        found.append((family, type_, proto, sockaddr))
    if not found:
        raise FetchError(f"{host} does not resolve")
    return found


def _connect_to(addresses: list[tuple]):
    """http.client's connect step, bound to the vetted addresses: the host name it is handed is
    not resolved again (it stays the connection's host, for the Host header, SNI and the
    certificate check)."""
    def create_connection(address, timeout=None, source_address=None, **kw):
        error: OSError | None = None
        for family, type_, proto, sockaddr in addresses:
            sock = socket.socket(family, type_, proto)
            try:
                if isinstance(timeout, (int, float)):  # (not socket's "default timeout" marker)
                    sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as e:
                sock.close()
                error = e
        raise error
    return create_connection


def _handlers(addresses: list[tuple]) -> list:
    connect = _connect_to(addresses)

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
