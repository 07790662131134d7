"""gunicorn's sync worker, woken one at a time for a new connection.

gunicorn's own sync workers wait for a connection in `select()` on the shared listening socket, so
every connection wakes every idle worker: all of them try `accept()`, one gets the connection, the
others find nothing and go back to waiting, each having paid for a wake-up, a few system calls and
a turn of Python. This worker waits in an epoll set of its own where the listening socket is
registered with EPOLLEXCLUSIVE (Linux 4.5 and later), so the kernel wakes one waiting worker per
connection. Everything else is gunicorn's: accepting, serving, the heartbeat to the arbiter at
least every `timeout / 2`, and waking on the arbiter's pipe.

Where EPOLLEXCLUSIVE is not available (not Linux), it waits in `select()` as gunicorn's does.
"""
from __future__ import annotations

import errno
import os
import select

from gunicorn.workers.sync import StopWaiting
from gunicorn.workers.sync import SyncWorker as GunicornSyncWorker

EXCLUSIVE = getattr(select, "EPOLLEXCLUSIVE", None)


class SyncWorker(GunicornSyncWorker):
    _poller = None

    def wait(self, timeout):
        if EXCLUSIVE is None:
            return super().wait(timeout)
        if self._poller is None:
            poller = select.epoll()
            for listener in self.sockets:
                poller.register(listener.fileno(), select.EPOLLIN | EXCLUSIVE)
            poller.register(self.PIPE[0], select.EPOLLIN)
            self._poller = poller
        self.notify()
        try:
            events = self._poller.poll(timeout)
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
