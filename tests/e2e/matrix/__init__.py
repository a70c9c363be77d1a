"""The end-to-end matrix's cells, one case book per group of client × upstream pairs; the harness
that runs every cell is tests/e2e/test_matrix.py. What the books share is here."""

from dataclasses import dataclass


class CaseBook:
    """A group's cells by (client style, scenario): `@book.case("openai", "text")` registers one."""

    def __init__(self):
        self.cases = {}

    def case(self, client, scenario):
        def register(fn):
            self.cases[client, scenario] = fn
            return fn

        return register


@dataclass
class Call:
    """A tool call a cell scripts. The upstream's id is its prefix (call_ / toolu_) + `suffix`; a
    Gemini upstream sends none."""

    suffix: str
    name: str
    input: dict
