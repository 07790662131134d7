"""gunicorn's sync worker, woken one at a time for a new connection, and keeping connections alive.

Woken one at a time: gunicorn's own sync workers wait for a connection in `select()` on the shared
listening socket, so every connection wakes every idle worker: all of them try `accept()`, one gets
the connection, the others find nothing and go back to waiting, each having paid for a wake-up, a
few system calls and a turn of Python. This worker waits in an epoll set of its own where the
listening socket is registered with EPOLLEXCLUSIVE (Linux 4.5 and later), so the kernel wakes one
waiting worker per connection.

Kept alive: gunicorn's sync worker closes the connection after every answer, so a client pays for
a new TCP connection per request (connect, accept, and a close that waits for the client's own),
a third of what the server spends on a SCIM look-up and more of what the client spends. This one
serves HTTP/1.1 keep-alive as gunicorn's threaded worker does, without its threads: one request at
a time, from whichever connection is ready, in the same epoll set as the listening socket. A
connection idle for `keepalive` seconds is closed; one whose answer says "close", or whose request
body was not read to its end within a few seconds, is closed after it; a stopping worker closes
the idle ones and answers no more on them. With `keepalive = 0` it closes after every answer.

Everything else is gunicorn's: parsing, serving, the access log, the heartbeat to the arbiter at
least every `timeout / 2`, and waking on the arbiter's pipe. Where EPOLLEXCLUSIVE is not available
(not Linux), it is gunicorn's sync worker, waiting in `select()`.
"""
from __future__ import annotations

import errno
import inspect
import os
import select
import time
from datetime import datetime

from gunicorn import http, util
from gunicorn.http import wsgi
from gunicorn.http.parser import Parser
from gunicorn.workers.sync import StopWaiting
from gunicorn.workers.sync import SyncWorker as GunicornSyncWorker

EXCLUSIVE = getattr(select, "EPOLLEXCLUSIVE", None)
# How long a kept connection's unread request body may take to drain before the connection is
# closed instead (gunicorn's threaded worker allows the same). A gunicorn whose parser cannot drain
# within a deadline (before 27) gets gunicorn's sync worker, closing after every answer.
DRAIN_SECONDS = 5.0
DRAINS = "deadline" in inspect.signature(getattr(Parser, "finish_body", lambda self: None)).parameters


class Connection:
    """A client connection between requests: its socket, its parser (which may hold bytes of the
    next request already), and when it is closed if nothing comes."""

    __slots__ = ("sock", "addr", "listener", "parser", "expires")

    def __init__(self, sock, addr, listener, parser):
        self.sock, self.addr, self.listener, self.parser = sock, addr, listener, parser
        self.expires = 0.0

    def buffered(self) -> bool:
        return bool(self.parser.unreader.buf.getvalue())


class SyncWorker(GunicornSyncWorker):
    _poller = None

    # ---- waiting for a connection (also what gunicorn's loop calls, with keep-alive off) ----

    def wait(self, timeout):
        if EXCLUSIVE is None:
            return super().wait(timeout)
        poller = self._epoll()
        self.notify()
        try:
            events = poller.poll(timeout)
        except OSError as e:
            if e.errno == errno.EBADF:  # (as gunicorn's: the listening sockets were closed)
                if self.nr < 0:
                    return self.sockets
                raise StopWaiting from e
            raise
        ready = []
        for fd, _ in events:
            if fd == self.PIPE[0]:
                os.read(self.PIPE[0], 1)
            ready.append(next((s for s in self.sockets if s.fileno() == fd), fd))
        return ready

    def _epoll(self):
        if self._poller is None:
            poller = select.epoll()
            for listener in self.sockets:
                poller.register(listener.fileno(), select.EPOLLIN | EXCLUSIVE)
            poller.register(self.PIPE[0], select.EPOLLIN)
            self._poller = poller
        return self._poller

    # ---- serving with keep-alive ----

    def run(self):
        if not self._keeps_alive():
            return super().run()
        for s in self.sockets:
            s.setblocking(False)
        listeners = {s.fileno(): s for s in self.sockets}
        kept: dict[int, Connection] = {}
        poller = self._epoll()
        heartbeat = self.timeout or 0.5  # (gunicorn's: half the configured timeout)
        try:
            while self.alive:
                self.notify()
                now = time.monotonic()
                soonest = min((c.expires for c in kept.values()), default=now + heartbeat)
                try:
                    events = poller.poll(max(0.0, min(heartbeat, soonest - now)))
                except InterruptedError:
                    continue
                for fd, _ in events:
                    if fd == self.PIPE[0]:
                        os.read(self.PIPE[0], 1)
                    elif fd in listeners:
                        self._accept_one(listeners[fd], kept, poller)
                    elif fd in kept:
                        conn = kept.pop(fd)
                        poller.unregister(fd)
                        self._serve(conn, kept, poller)
                    if not self.alive:
                        break
                self._expire(kept, time.monotonic())
                if not self.is_parent_alive():
                    break
        finally:
            for fd, conn in kept.items():
                poller.unregister(fd)
                conn.sock.close()  # idle: nothing of a request was read from it

    def _accept_one(self, listener, kept, poller) -> None:
        try:
            client, addr = listener.accept()
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return  # another worker took it
            raise
        client.setblocking(True)
        util.close_on_exec(client)
        conn = Connection(client, addr, listener, None)
        try:
            conn.parser = http.get_parser(self.cfg, client, addr)
        except BaseException:
            client.close()
            raise
        self._serve(conn, kept, poller)

    def _serve(self, conn: Connection, kept, poller) -> None:
        """Answer the connection's next request (and any it already sent behind it); then keep it,
        registered for its next one, or close it."""
        keep = True
        while keep:
            self._full = len(kept) >= self.cfg.worker_connections
            keep = self._one_request(conn)
            if keep and not conn.buffered():
                conn.expires = time.monotonic() + self.cfg.keepalive
                kept[conn.sock.fileno()] = conn
                poller.register(conn.sock.fileno(), select.EPOLLIN)
                return
        util.close_graceful(conn.sock)

    def _one_request(self, conn: Connection) -> bool:
        """Serve one request as gunicorn's sync worker does; True when the connection can be kept."""
        req = None
        try:
            req = next(conn.parser)
            if not req:
                return False
            if not self.handle_request(conn.listener, req, conn.sock, conn.addr):
                return False
            return self.alive and bool(conn.parser.finish_body(deadline=time.monotonic() + DRAIN_SECONDS))
        except http.errors.NoMoreData as e:
            self.log.debug("Ignored premature client disconnection. %s", e)
        except StopIteration as e:
            self.log.debug("Closing connection. %s", e)
        except OSError as e:
            if e.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                self.log.exception("Socket error processing request.")
            else:
                self.log.debug("Ignoring %s", errno.errorcode.get(e.errno, e.errno))
        except BaseException as e:  # (as gunicorn's: an error page if nothing was sent yet)
            self.handle_error(req, conn.sock, conn.addr, e)
        return False

    def handle_request(self, listener, req, client, addr):
        """gunicorn's sync handling of one request, except that the answer keeps the connection open
        unless the request, a stopping worker or the worker's last request before its restart says
        otherwise; True when it did."""
        if not self._keeps_alive():
            return super().handle_request(listener, req, client, addr)
        environ, resp = {}, None
        try:
            self.cfg.pre_request(self, req)
            started = datetime.now()
            resp, environ = wsgi.create(req, client, addr, listener.getsockname(), self.cfg)
            self.nr += 1
            if self.nr >= self.max_requests:
                self.log.info("Autorestarting worker after current request.")
                self.alive = False
            if not self.alive or self._full:
                resp.force_close()
            body = self.wsgi(environ, resp.start_response)
            try:
                if isinstance(body, environ["wsgi.file_wrapper"]):
                    resp.write_file(body)
                else:
                    for i, chunk in enumerate(body):
                        if i:
                            self.notify()  # a long streamed answer (a decision point's snapshot) is not a hung worker
                        resp.write(chunk)
                resp.close()
            finally:
                self.log.access(resp, req, environ, datetime.now() - started)
                if hasattr(body, "close"):
                    body.close()
            return not resp.should_close()
        except OSError:
            raise
        except (Exception, SystemExit):
            if resp is not None and resp.headers_sent:
                # (The request deadline's abort, past the status line: nothing more can be sent.)
                self.log.exception("Error handling request")
                raise StopIteration() from None
            raise
        finally:
            try:
                self.cfg.post_request(self, req, environ, resp)
            except Exception:  # noqa: BLE001 - as gunicorn's: a hook's failure is logged, not raised
                self.log.exception("Exception in post_request hook")

    _full = False  # as many connections kept as `worker_connections`: this one closes after its answer

    def _keeps_alive(self) -> bool:
        return EXCLUSIVE is not None and DRAINS and bool(self.cfg.keepalive) and not self.cfg.is_ssl

    def _expire(self, kept, now) -> None:
        for fd in [fd for fd, c in kept.items() if c.expires <= now or not self.alive]:
            conn = kept.pop(fd)
            self._poller.unregister(fd)
            conn.sock.close()
