"""One background thread (a greenlet under gunicorn's gevent worker) for every periodic job of a
worker: the config watch, the shared-state sync (cooldowns, capture switch, config), metrics publishing, capture writing,
retention. Each job runs at its interval; it may be asked to run sooner (`Job.soon`, `Job.within`);
what it returns is ignored. A failing job is logged and tried again at its next turn: the thread outlives
any surprise. Jobs run one after another, so none may block for long."""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("plexus.scheduler")


@dataclass(eq=False)
class Job:
    name: str
    interval: float
    run: Callable[[], object]
    due: float = 0.0  # time.monotonic() of the next run
    scheduler: "Scheduler | None" = field(default=None, repr=False)

    def soon(self) -> None:
        """Run at the scheduler's next turn (cheap: the request path may call it)."""
        self.due = 0.0
        if self.scheduler is not None:
            self.scheduler._wake.set()

    def within(self, seconds: float) -> None:
        """Run again no later than `seconds` from now (a job may call this on itself)."""
        self.due = min(self.due, time.monotonic() + seconds)
        if self.scheduler is not None:
            self.scheduler._wake.set()


class Scheduler:
    def __init__(self, name: str = "plexus-scheduler"):
        self.name = name
        self.jobs: list[Job] = []
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def every(self, seconds: float, name: str, run: Callable[[], object], *, first: float = 0.0) -> Job:
        """Run `run()` every `seconds`, the first time `first` seconds after start."""
        job = Job(name, seconds, run, time.monotonic() + first, self)
        self.jobs.append(job)
        self._wake.set()
        return job

    def start(self) -> "Scheduler":
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Let the running job finish, run no other, and end the thread. Safe to call twice."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run_due(self) -> None:
        """Run every job whose time has come (the thread's turn; tests call it directly)."""
        for job in list(self.jobs):
            if self._stopping:
                return
            if time.monotonic() >= job.due:
                job.due = time.monotonic() + job.interval  # before running: soon() during the run counts
                try:
                    job.run()
                except Exception:
                    log.exception("background job %s failed", job.name)

    def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            self.run_due()
            wait = min((job.due for job in self.jobs), default=time.monotonic() + 60) - time.monotonic()
            if wait > 0:
                self._wake.wait(wait)
