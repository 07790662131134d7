"""Loopback-only network fixtures for the JWKS fetch tests: a resolver that answers for test host
names, an HTTP(S) server, a listener that accepts and never answers, and a port nobody listens on.
Nothing here reaches beyond 127.0.0.1."""
from __future__ import annotations

import contextlib
import datetime
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class FakeDNS:
    """Answers for the names it was given; `.invalid` names do not exist (RFC 6761); every other
    name goes to the real resolver. Records each name asked for, so a test can count look-ups."""

    def __init__(self, answers: dict[str, list[str]]):
        self.answers, self.asked = answers, []
        self._real = socket.getaddrinfo

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        self.asked.append(name)
        if name in self.answers:
            ips = self.answers[name]
            if callable(ips):
                ips = ips()
            return [(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                     (ip, int(port or 0)) if ":" not in ip else (ip, int(port or 0), 0, 0)) for ip in ips]
        if isinstance(name, str) and name.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self._real(host, port, family, type, proto, flags)


def fake_dns(monkeypatch, answers: dict) -> FakeDNS:
    """Install a FakeDNS as the process's resolver for the test."""
    dns = FakeDNS(answers)
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    return dns


class Served:
    """What the test server answers, and what it saw."""

    def __init__(self):
        self.status, self.body, self.requests, self.hosts, self.sni = 200, b'{"keys": []}', 0, [], []
        self.port, self.raw = 0, None  # raw: bytes written instead of an HTTP answer

    def jwks(self, data: dict) -> None:
        self.body = json.dumps(data).encode()


@contextlib.contextmanager
def http_server(tls: ssl.SSLContext | None = None) -> Iterator[Served]:
    """An HTTP (or, given a server context, HTTPS) server on 127.0.0.1, stopped on exit."""
    served, lock = Served(), threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            with lock:
                served.requests += 1
                served.hosts.append(self.headers.get("Host"))
            if served.raw is not None:
                self.wfile.write(served.raw)
                return
            self.send_response(served.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(served.body)))
            self.end_headers()
            self.wfile.write(served.body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        tls.sni_callback = lambda sock, name, ctx: served.sni.append(name)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    served.port = server.server_port
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def silent_listener() -> Iterator[socket.socket]:
    """A socket listening on 127.0.0.1 that never accepts: the kernel completes the TCP handshake,
    nothing ever answers (a fetch from it times out)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield sock
    finally:
        sock.close()


def connections_made(listener: socket.socket) -> int:
    """How many TCP connections reached `listener` (accepted now and closed)."""
    listener.setblocking(False)
    n = 0
    try:
        while True:
            conn, _ = listener.accept()
            conn.close()
            n += 1
    except BlockingIOError:
        return n
    finally:
        listener.setblocking(True)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tls_contexts(tmp: Path, name: str) -> tuple[ssl.SSLContext, Path]:
    """A server context with a certificate for `name` issued by a CA made for the test, and the CA's
    file (point SSL_CERT_FILE at it so clients trust it)."""
    now = datetime.datetime.now(datetime.UTC)

    def cert(subject: str, key, issuer: str, issuer_key, *, ca: bool):
        b = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
             .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5))
             .not_valid_after(now + datetime.timedelta(hours=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            b = b.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                              content_commitment=False, key_encipherment=False,
                                              data_encipherment=False, key_agreement=False,
                                              encipher_only=False, decipher_only=False), critical=True)
        else:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = cert("test CA", ca_key, "test CA", ca_key, ca=True)
    leaf = cert(name, leaf_key, "test CA", ca_key, ca=False)
    pem = serialization.Encoding.PEM
    ca_file, leaf_file, key_file = tmp / "ca.pem", tmp / "leaf.pem", tmp / "leaf.key"
    ca_file.write_bytes(ca_cert.public_bytes(pem))
    leaf_file.write_bytes(leaf.public_bytes(pem))
    key_file.write_bytes(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(leaf_file, key_file)
    return server, ca_file
