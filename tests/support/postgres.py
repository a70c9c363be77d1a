"""A throw-away PostgreSQL cluster for the tests: Debian's server binaries, a temporary folder, a free
port on 127.0.0.1, trust auth for the local `postgres` role. Started once per test session by the
`postgres` fixture; stopped (and its folder removed) at the end. It can be stopped and started again
in between, for the tests of a database that goes away.

As root (CI), the server runs as the `postgres` system user that Debian's package creates: initdb
refuses to run as root. `.ci/run` installs the package where it is missing."""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid


def server_binaries():
    """The newest installed server's bin folder, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return os.path.dirname(found[-1]) if found else None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresCluster:
    def __init__(self, bindir):
        self.bindir = bindir
        self.dir = tempfile.mkdtemp(prefix="plexus-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = _free_port()
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *cmd, timeout=60):
        done = subprocess.run([*self.as_user, *cmd], capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed ({done.returncode}): {done.stdout}{done.stderr}")
        return done.stdout

    def init(self):
        self._run(f"{self.bindir}/initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-locale", "--no-sync")
        return self

    def start(self):
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._run(f"{self.bindir}/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"),
                  "-w", "-t", "30", "-o", options, "start")
        return self

    def stop(self, mode="fast"):
        self._run(f"{self.bindir}/pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def running(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def create_database(self, name=None):
        """A new empty database; returns its URL."""
        name = name or "plexus_" + uuid.uuid4().hex[:12]
        subprocess.run([f"{self.bindir}/psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-qAt",
                        "-c", f'CREATE DATABASE "{name}"'], check=True, capture_output=True, timeout=30)
        return self.url(name)

    def url(self, database="postgres"):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def destroy(self):
        if self.running():
            try:
                self.stop("immediate")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
