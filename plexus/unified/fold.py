"""The outcome of a unified event stream as one fold over its events (as the official SDKs
accumulate a message): the usage (the last report, else what Start said), the stop, the failure.
Renderers keep one per stream; the translated stream reads the call's usage and finish from it."""

from .events import Failure, Start, Stop, UsageReport
from .usage import Usage


class Outcome:
    __slots__ = ("start_usage", "reported", "stop", "error")

    def __init__(self) -> None:
        self.start_usage: Usage | None = None
        self.reported: Usage | None = None  # from UsageReport events only
        self.stop: Stop | None = None
        self.error = None

    def add(self, event: tuple) -> bool:
        """Fold one event in. True for the events the fold owns (Stop, UsageReport, Failure)."""
        kind = type(event)
        if kind is UsageReport:
            self.reported = event.usage
        elif kind is Stop:
            self.stop = event
        elif kind is Failure:
            self.error = event.error
        else:
            if kind is Start:
                self.start_usage = event.usage
            return False
        return True

    @property
    def usage(self) -> Usage | None:
        return self.reported if self.reported is not None else self.start_usage

    @property
    def finish_reason(self) -> str | None:
        return self.stop.reason if self.stop is not None else None

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def complete(self) -> bool:
        return self.stop is not None and self.error is None
