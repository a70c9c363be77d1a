"""Noticing a client that hung up while its stream waits on a slow upstream.

A server only learns of a closed client socket when it next writes to it, which may be long after
the client left if the upstream is slow to send. Under gunicorn's gevent worker the client's
socket is in the WSGI environ: a small watcher polls it and, when it reads as closed, closes the
upstream connection, which ends the relay at once (and the usage record says `cancelled`)."""

import select
import socket
import threading

POLL_S = 0.5


class ClientWatcher:
    def __init__(self, environ, upstream):
        self.sock = environ.get("gunicorn.socket")
        self.upstream = upstream
        self.client_gone = False
        self._stop = threading.Event()
        if self.sock is not None:
            threading.Thread(target=self._run, name="plexus-client-watch", daemon=True).start()

    def _run(self):
        while not self._stop.is_set():
            try:
                readable, _, _ = select.select([self.sock], [], [], POLL_S)
                if not readable or self._stop.is_set():
                    continue
                if self.sock.recv(1, socket.MSG_PEEK):
                    return  # the client sent more (pipelining): not a hang-up; stop watching
            except (OSError, ValueError):
                pass  # reset or already closed: gone as well
            self.client_gone = True
            self.upstream.abort()
            return

    def stop(self):
        self._stop.set()
