"""The processes a benchmark run starts (each pinned to a core, stopped by its PID) and what /proc
says about them: CPU time, resident memory, and how busy each core was."""

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 only, never a proxy


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=2.0):
    with _opener.open(url, timeout=timeout) as r:
        return r.status, r.read()


def pinned(argv, core):
    return ["taskset", "-c", str(core), *argv] if core is not None else list(argv)


def _stat_fields(pid):
    """/proc/<pid>/stat from field 3 (state) on; the command name may hold spaces and parentheses."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read()
    return raw[raw.rindex(b")") + 2 :].split()


def children(pid):
    """Direct children of `pid`, from /proc/<pid>/task/*/children, else by scanning every ppid."""
    found = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found += [int(c) for c in f.read().split()]
        return found
    except FileNotFoundError:
        pass
    except OSError:
        return []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(_stat_fields(entry)[1]) == pid:
                    found.append(int(entry))
            except (OSError, ValueError):
                pass
    return found


def tree(pid):
    """`pid` and all its descendants that are alive now."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        if os.path.exists(f"/proc/{p}"):
            out.append(p)
            todo += children(p)
    return out


def cpu_seconds(pid):
    """utime + stime of one process (all its threads), in seconds."""
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def core_busy_seconds():
    """{core: busy seconds since boot} from /proc/stat (everything but idle and iowait)."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            name, *values = line.split()
            if name.startswith("cpu") and name != "cpu":
                v = [int(x) for x in values[:8]]
                out[int(name[3:])] = (sum(v) - v[3] - v[4]) / CLK_TCK
    return out


class Proc:
    """One process we started, with its children (gunicorn's workers). Stopped by PID only."""

    def __init__(self, name, argv, *, cwd, log_path, core=None, env=None, pipe_stdout=False):
        self.name = name
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(
            pinned(argv, core), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipe_stdout else self._log, stderr=self._log,
            start_new_session=True,  # a Ctrl-C in the terminal reaches only run.py, which stops us in order
        )

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def pids(self):
        return tree(self.pid) if self.alive() else []

    def cpu_s(self):
        return sum(cpu_seconds(p) for p in self.pids())

    def rss_kib(self):
        return sum(rss_kib(p) for p in self.pids())

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.alive():
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        if self.popen.stdout:
            self.popen.stdout.close()
        self._log.close()

    def log_tail(self, lines=25):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_http(proc, url, timeout=40.0):
    """Wait for `url` to answer 200; raises with the process's log if it dies or stays silent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        try:
            if get(url, timeout=1.0)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not answer {url} within {timeout:.0f}s:\n{proc.log_tail()}")


class Window:
    """CPU used by some processes, and by each core, between `start()` and `stop()`."""

    def __init__(self, procs):
        self.procs = procs  # name -> Proc

    def start(self):
        self.t0 = time.monotonic()
        self.cpu0 = {n: p.cpu_s() for n, p in self.procs.items()}
        self.core0 = core_busy_seconds()
        return self

    def stop(self):
        wall = time.monotonic() - self.t0
        cpu = {n: p.cpu_s() - self.cpu0[n] for n, p in self.procs.items()}
        core1 = core_busy_seconds()
        busy = {c: (core1[c] - self.core0.get(c, 0.0)) / wall for c in core1}
        return {"wall_s": wall, "cpu_s": cpu, "core_busy": busy}
