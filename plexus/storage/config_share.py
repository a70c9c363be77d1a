"""One config for every gateway machine on a shared (PostgreSQL) store: each machine keeps its own
config file — still the thing every worker loads, watches and the dashboard edits — and the store
keeps a copy of its text with a version. A job on every worker, each `poll_interval`:

- the local file changed since it was last in step (a dashboard edit, an operator's edit): its text
  is published as the new version;
- else the store holds a version this worker has not seen: its text is written over the local
  file (atomically), and the config watch applies it as it would any edit.

At start, whichever is newer wins: the file (by its modification time) or the stored copy. Two
machines editing within the same second: the last to publish wins on every machine. The copy is the
file's text as written, so `${ENV}` references stay references: each machine fills in its own
environment, and secrets written that way never reach the database."""

import logging
import os
import socket

from ..config import ConfigError, parse_config
from ..config.edit import write_atomic
from .base import ConfigStore

log = logging.getLogger("plexus.config")


class ConfigShare:
    def __init__(self, store: ConfigStore, path: str, on_written=lambda: None):
        """`on_written()` runs after the store's text was written to the file (the config watch's check)."""
        self.store = store
        self.path = path
        self.on_written = on_written
        self.origin = f"{socket.gethostname()}:{os.getpid()}"
        self._text = None  # the text this worker knows to be in step with the store
        self._version = None

    def sync(self) -> None:
        text, mtime = self._read()
        shared = self.store.load()
        if self._version is None:  # the first look since start
            if shared is None or (text is not None and text != shared[1] and mtime > shared[2]):
                self._publish(text, mtime)
            else:
                self._take(shared, text)
            return
        if text is not None and text != self._text:
            self._publish(text, mtime)
        elif shared is not None and shared[0] != self._version:
            self._take(shared, text)

    def _read(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                return f.read(), os.stat(self.path).st_mtime
        except OSError:
            return None, 0.0

    def _publish(self, text, mtime):
        if text is None or text == self._text:
            return
        try:
            parse_config(text, self.path)
        except ConfigError:  # the config watch logs why; other machines keep their good config
            self._text = text
            return
        self._version = self.store.publish(text, mtime, self.origin)
        self._text = text

    def _take(self, shared, text):
        version, shared_text, _ = shared
        if shared_text != text:
            write_atomic(self.path, shared_text)
            log.info("config version %d taken from the shared store into %s", version, self.path)
            self.on_written()
        self._text, self._version = shared_text, version
