"""Identifiers made without a system call: unique, 32 hex digits, and different in a forked worker."""

import os
import random
import re

from plexus.ids import hex_id


def test_ids_are_hex_of_the_asked_length_and_do_not_repeat():
    ids = [hex_id() for _ in range(10_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids) and len(set(ids)) == len(ids)
    assert re.fullmatch(r"[0-9a-f]{24}", hex_id(24))


def test_seeding_the_random_module_does_not_repeat_them():
    random.seed(0)
    first = hex_id()
    random.seed(0)
    assert hex_id() != first


def test_a_forked_worker_draws_other_ids_than_its_parent():
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, hex_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    assert len(child) == 32 and child != hex_id()
