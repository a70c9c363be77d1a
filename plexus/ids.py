"""Random identifiers (request ids, usage rows' keys, translated answers' ids) without a system call
each: one generator per process, seeded from the operating system at start and again in every
forked worker (`os.urandom` or `uuid4` cost a getrandom call per id, on every request). They need
to be unique, not secret."""

import os
import random

_random = random.Random()  # its own: tests (hypothesis) seed the module's generator
os.register_at_fork(after_in_child=_random.seed)


def hex_id(digits: int = 32) -> str:
    return f"{_random.getrandbits(digits * 4):0{digits}x}"
