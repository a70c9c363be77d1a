"""Each worker's usage journal (plexus/usage/journal.py): rows kept until stored, files dropped
once done, a dead worker's journal replayed by another, a live one's left alone."""

import os
import signal
import subprocess
import sys

from plexus.usage.journal import Journal
from tests.support.gateway_process import ROOT


def files(prefix):
    folder, name = os.path.split(prefix)
    return sorted(f for f in os.listdir(folder) if f.startswith(name + "."))


def test_rows_stay_until_done_and_generations_rotate(tmp_path):
    prefix = str(tmp_path / "plexus.worker")
    journal = Journal(prefix, rotate_bytes=200)
    gens = [journal.append({"request_id": f"r{i}", "pad": "x" * 50}) for i in range(6)]
    assert gens == [0] * 6 and len(files(prefix)) == 1
    journal.done(gens[:5])
    assert len(files(prefix)) == 2  # past 200 bytes: a new generation; the old one still owes a row
    assert journal.append({"request_id": "r6"}) == 1
    journal.done([0])
    assert files(prefix) == [os.path.basename(journal._files[1][1])]
    journal.close()  # generation 1 still owes r6: kept for a successor
    seen = []
    assert Journal(prefix).replay_orphans(seen.extend) == 1 and [r["request_id"] for r in seen] == ["r6"]


def test_a_live_workers_journal_is_left_alone(tmp_path):
    prefix = str(tmp_path / "plexus.worker")
    live = Journal(prefix)
    live.append({"request_id": "busy"})
    seen, other = [], Journal(prefix)
    assert other.replay_orphans(seen.extend) == 0 and seen == []
    live.done([0])
    live.close()
    other.close()
    assert files(prefix) == []  # both were done: nothing left behind


KILLED = """
import os, signal, sys
from plexus.usage.journal import Journal
journal = Journal(sys.argv[1])
for i in range(100):
    journal.append({"request_id": f"k{i}"})
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_worker_killed_outright_leaves_its_rows_for_the_next(tmp_path):
    prefix = str(tmp_path / "plexus.worker")
    proc = subprocess.run([sys.executable, "-c", KILLED, prefix], cwd=ROOT)
    assert proc.returncode == -signal.SIGKILL
    seen = []
    successor = Journal(prefix)
    assert successor.replay_orphans(seen.extend) == 100
    assert [r["request_id"] for r in seen] == [f"k{i}" for i in range(100)]
    assert len(files(prefix)) == 1  # only the successor's own
    successor.close()
    assert files(prefix) == []
