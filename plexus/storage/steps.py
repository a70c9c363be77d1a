"""What both backends' migrations share: a step is a name and a function of a connection; the
steps a database has not had are applied in list order and recorded by name in
`schema_migrations`; and a store migrates once per process — at start, or on first use when the
database was away then (`MigratedOnce`)."""

import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple


class Migration(NamedTuple):
    name: str
    apply: Callable[[Any], None]


def apply_missing(conn, migrations: list[Migration], done: set[str], mark: str = "?") -> list[str]:
    """Apply each step not in `done` and record it (`mark`: the driver's parameter marker).
    Returns the names applied now."""
    now = []
    for step in migrations:
        if step.name not in done:
            step.apply(conn)
            conn.execute(f"INSERT INTO schema_migrations (name, applied) VALUES ({mark}, {mark})", (step.name, time.time()))
            now.append(step.name)
    return now


def applied(conn) -> set[str]:
    return {name for (name,) in conn.execute("SELECT name FROM schema_migrations")}


class MigratedOnce:
    """For a storage.base.Storage whose migrate() sets `self._migrated` once it has worked."""

    _migrated = False
    _schema_lock = threading.Lock()

    def ensure_schema(self) -> None:
        """Migrate unless that has worked already in this process."""
        if not self._migrated:
            with self._schema_lock:
                if not self._migrated:
                    self.migrate()
