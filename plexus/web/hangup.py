"""Noticing a client that hung up while its stream waits on a slow upstream.

A server only learns of a closed client socket when it next writes to it, which may be long after
the client left if the upstream is slow to send. Under gunicorn's gevent worker the client's
socket is in the WSGI environ: a read watcher on the gevent loop (no greenlet, no polling) fires
when the socket turns readable; if that is the end of the connection, the upstream read is
stopped at once, which ends the relay (and the usage record says `cancelled`)."""

import socket

try:
    from gevent import get_hub
    from gevent.monkey import is_module_patched
except ImportError:  # not running under gevent: there is no loop to watch from
    get_hub = None

READ = 1  # libev's EV_READ


class ClientWatcher:
    def __init__(self, environ, upstream):
        self.upstream = upstream
        self.client_gone = False
        self._io = None
        self.sock = environ.get("gunicorn.socket")
        if self.sock is None or get_hub is None or not is_module_patched("socket"):
            return
        self._io = get_hub().loop.io(self.sock.fileno(), READ)
        self._io.start(self._readable)

    def _readable(self):
        """Runs in the gevent hub: must not block. The socket is readable, so a peek returns at once."""
        raw = getattr(self.sock, "_sock", self.sock)  # the OS-level socket, not gevent's waiting wrapper
        try:
            data = raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return  # a spurious wake-up: keep watching
        except OSError:
            data = b""  # reset: gone as well
        self.stop()
        if not data:  # end of stream: the client hung up (data would be a pipelined request)
            self.client_gone = True
            self.upstream.abort()

    def stop(self):
        if self._io is not None:
            self._io.stop()
            self._io.close()
            self._io = None
