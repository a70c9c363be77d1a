"""Integration fixtures: the store on each backend."""

import pytest

from plexus.storage import open_storage

BACKENDS = ("sqlite", "postgres")


@pytest.fixture(params=BACKENDS)
def storage(request, tmp_path):
    """A new, migrated store on each backend (PostgreSQL: a new database in the session's cluster)."""
    if request.param == "sqlite":
        url = str(tmp_path / "sub" / "usage.db")
    else:
        url = request.getfixturevalue("postgres").create_database()
    opened = open_storage(url)
    yield opened
    opened.close()
