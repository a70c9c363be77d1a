"""`python -m plexus migrate-usage`: a SQLite store copied into PostgreSQL, rows from before record
keys included, rerun safely, with the same summaries on both sides."""

import io
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path

from plexus.cli import main
from plexus.storage import copy, open_storage
from plexus.usage import summary
from plexus.usage.params import Filters

T0 = 1_736_942_400.0


def rows(n):
    return [{"record_key": uuid.uuid4().hex, "time": T0 + i * 97, "request_id": f"r{i}", "key_name": "test",
             "alias": f"a{i % 3}", "status": 500 if i % 10 == 0 else ("cancelled" if i % 10 == 1 else 200),
             "input_tokens": i, "output_tokens": 2 * i, "cost": i / 1e6, "duration_ms": 10.0 + i,
             "streamed": i % 2 == 0, "attempts": '[{"provider":"up","model":"m"}]'} for i in range(n)]


def summaries(storage):
    win = summary.window("day", T0 + 12 * 3600)
    return rounded([summary.build("day", win, g, storage.usage.summary(win, g)) for g in ("alias", "key")])


def rounded(value):
    """Sums of floats added in another order differ in the last bits."""
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return round(value, 12) if isinstance(value, float) else value


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    return copy.main(list(argv), out, err), out.getvalue(), err.getvalue()


def test_a_sqlite_store_is_copied_resumably_with_a_count(tmp_path, postgres):
    path = str(tmp_path / "old.db")
    old = open_storage(path)
    old.usage.write_batch(rows(250))
    old.usage.write_batch([{"record_key": None, "time": T0 + 5, "request_id": "legacy-1", "status": 200},
                           {"record_key": None, "time": T0 + 6, "request_id": "legacy-2", "status": 200}])
    with closing(sqlite3.connect(path)) as conn:  # as rows from before record keys have them
        assert conn.execute("SELECT COUNT(*) FROM usage WHERE record_key IS NULL").fetchone() == (2,)
    old.responses.put("resp_1", "test", {"response": {"id": "resp_1"}})
    old.responses.put("resp_2", None, {"response": {"id": "resp_2"}})
    url = postgres.create_database()

    status, out, err = run(f"sqlite:///{path}", url, "--chunk", "100")
    assert status == 0, err
    assert "usage records: 252 read, 252 copied, 0 already there" in out
    assert "stored responses: 2 read, 2 copied, 0 already there" in out
    status, out, _ = run(path, url)  # again, as after a cut
    assert status == 0 and "usage records: 252 read, 0 copied, 252 already there" in out

    new = open_storage(url)
    try:
        assert new.usage.query(Filters(), 1, 0)[1] == 252
        assert summaries(new) == summaries(old)  # the rollups counted each row once
        assert new.responses.get("resp_1", "test") == {"response": {"id": "resp_1"}}
        assert new.responses.get("resp_2", None) is not None
        assert {r["request_id"] for r in new.usage.query(Filters(request_id="legacy-1"), 5, 0)[0]} == {"legacy-1"}
    finally:
        new.close()


def test_the_command_is_on_the_cli_and_refuses_the_wrong_direction(tmp_path, capsys):
    assert main(["migrate-usage", "postgresql://x@h/db", str(tmp_path / "x.db")]) == 2
    assert main(["migrate-usage", str(tmp_path / "missing.db"), "postgresql://x@h/db"]) == 2
    assert "no such SQLite file" in capsys.readouterr().err
    assert not Path(tmp_path / "missing.db").exists()
