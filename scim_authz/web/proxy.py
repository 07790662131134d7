"""The proxy's forwarded headers, believed only when the peer is a proxy named in TRUSTED_PROXIES.

Behind a reverse proxy every request comes from the proxy's address, over plain HTTP, to whatever
host the proxy dialled. The proxy says who the client was and how it was reached in
X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host; anyone else can send the same headers, so
they are read only when REMOTE_ADDR is one of TRUSTED_PROXIES (comma-separated addresses and CIDR
networks; empty, the default, believes nobody and leaves the app unwrapped). Then:
- REMOTE_ADDR becomes the client's: X-Forwarded-For read from the right, past every trusted proxy,
  to the first address that is not one (what a client wrote further left is not believed); so the
  per-address rate limits (scim_authz/web/rate_limit.py) and the logs count real clients;
- wsgi.url_scheme becomes X-Forwarded-Proto's last value when it is http or https;
- HTTP_HOST becomes X-Forwarded-Host's last value (still checked against TRUSTED_HOSTS by Flask).
The peer's own address is kept in the environ under PEER_KEY.

Cost: a dictionary look-up per request for a peer seen before (a fraction of a microsecond); the
headers are read only from a trusted one (a few microseconds more, addresses seen before not parsed
again).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from flask import Flask

PEER_KEY = "scim_authz.proxy.peer"
_MAX_REMEMBERED = 4096  # addresses whose kind is kept (a client can be anyone: bounded)
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted(value: str | Iterable[str] | None, name: str = "TRUSTED_PROXIES") -> list[_Network]:
    """Networks from "10.0.0.5, 10.1.0.0/16, ::1": a bad entry stops the app from starting, named."""
    items = value.split(",") if isinstance(value, str) else list(value or ())
    networks = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item))  # strict: 10.0.0.1/24 is a mistake, not 10.0.0.0/24
        except ValueError as e:
            raise ValueError(f"{name}: {item!r} is neither an IP address nor a network (as in 10.0.0.0/8): {e}") from e
    return networks


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    return (ip.ipv4_mapped or ip) if ip.version == 6 else ip


NOT_AN_ADDRESS, CLIENT, PROXY = 0, 1, 2


class TrustedProxies:
    """WSGI middleware applying forwarded headers from trusted peers only (see the module's docstring)."""

    def __init__(self, wsgi_app, networks: list[_Network]):
        self.wsgi_app = wsgi_app
        self.networks = networks
        self._kinds: dict[str, int] = {}  # address text -> NOT_AN_ADDRESS, CLIENT or PROXY

    def kind(self, address: str) -> int:
        """NOT_AN_ADDRESS, CLIENT (an address, not a trusted proxy's) or PROXY, for text as in REMOTE_ADDR."""
        kind = self._kinds.get(address)
        if kind is None:
            ip = _address(address)
            kind = NOT_AN_ADDRESS if ip is None else PROXY if any(ip in net for net in self.networks) else CLIENT
            if len(self._kinds) >= _MAX_REMEMBERED:
                self._kinds.clear()  # parsing again costs a few microseconds; memory stays bounded
            self._kinds[address] = kind
        return kind

    def trusted(self, address: str) -> bool:
        """Whether `address` is one of the trusted proxies."""
        return self.kind(address) == PROXY

    def __call__(self, environ, start_response):
        peer = environ.get("REMOTE_ADDR") or ""
        if self.trusted(peer):
            environ[PEER_KEY] = peer
            self.apply(environ)
        return self.wsgi_app(environ, start_response)

    def apply(self, environ) -> None:
        """Rewrite the environ from the forwarded headers of a trusted peer."""
        forwarded_for = environ.get("HTTP_X_FORWARDED_FOR")
        if forwarded_for:
            client = None
            for hop in reversed(forwarded_for.split(",")):
                hop = hop.strip()
                kind = self.kind(hop)
                if kind == NOT_AN_ADDRESS:
                    break  # nothing left of it is believed
                client = hop
                if kind == CLIENT:
                    break
            if client is not None:
                environ["REMOTE_ADDR"] = client
        proto = environ.get("HTTP_X_FORWARDED_PROTO")
        if proto:
            proto = proto.rpartition(",")[2].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        host = environ.get("HTTP_X_FORWARDED_HOST")
        if host:
            host = host.rpartition(",")[2].strip()
            if host:
                environ["HTTP_HOST"] = host


def init_app(app: Flask) -> None:
    """Wrap the app when TRUSTED_PROXIES names any proxy; leave it alone (no cost) when it names none."""
    networks = parse_trusted(app.config.get("TRUSTED_PROXIES"))
    if networks:
        app.wsgi_app = TrustedProxies(app.wsgi_app, networks)
