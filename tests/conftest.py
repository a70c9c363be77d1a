"""Fixtures and hooks for the whole suite; shared helpers live in tests/support/."""

import gc
import os
import threading
import warnings
from pathlib import Path

import pytest

from plexus import create_app, services
from tests.support.configs import config_text
from tests.support.fake_upstream import FakeUpstream
from tests.support.postgres import PostgresCluster, server_binaries
from tests.support.secrets import CLIENT_SECRET, ENV, SECRETS

TESTS = Path(__file__).resolve().parent

# The gateway honours the environment's proxy variables (plexus/core/upstream.py): on a machine that
# sets them, the tests' own servers on 127.0.0.1 are still reached directly.
for _name in ("NO_PROXY", "no_proxy"):
    os.environ[_name] = ",".join(filter(None, [os.environ.get(_name), "127.0.0.1", "localhost"]))
KINDS = ("unit", "integration", "e2e", "browser")  # one folder each, one marker each (pyproject.toml)


def pytest_collection_modifyitems(items):
    """Mark every test with the kind its folder names, so `-m "not e2e"` and the like select."""
    for item in items:
        kind = Path(item.fspath).resolve().relative_to(TESTS).parts[0]
        if kind in KINDS:
            item.add_marker(kind)


def pytest_collection_finish(session):
    """What exists once the tests are collected (the imported SDKs, Flask, Hypothesis...) lives for
    the whole run: freeze it, so that the collection after each test walks only what tests made.
    Walking everything made that collection most of the suite's time."""
    gc.collect()
    gc.freeze()


def _collect_quietly():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.fixture(scope="module", autouse=True)
def collect_module_client_sockets():
    """The same for clients that module-scoped fixtures made (torn down after them)."""
    yield
    _collect_quietly()


@pytest.fixture(autouse=True)
def collect_client_sockets():
    """SDK clients a test made (openai, anthropic, google-genai) keep pooled sockets to the fake
    servers until they are garbage-collected; collect them at the end of their own test, quietly,
    rather than let a later test trip over their ResourceWarning. The gateway's own sockets are
    checked by counting its file descriptors (tests/e2e/test_disconnects.py)."""
    yield
    _collect_quietly()


@pytest.fixture(scope="session", autouse=True)
def database_in_tmp(tmp_path_factory):
    """No test writes into the repository's data/: apps and gateway processes (which inherit the
    environment) keep their SQLite files in a temporary folder unless a test names its own.
    Session-scoped, so that module-scoped gateways started before any test see it too."""
    with pytest.MonkeyPatch.context() as mp:
        folder = tmp_path_factory.mktemp("db")
        mp.setenv("DATABASE_URL", str(folder / "plexus-test.db"))
        mp.setenv("PLEXUS_SPOOL_DIR", str(folder))  # a PostgreSQL store's local spool
        yield


@pytest.fixture(autouse=True)
def close_apps():
    """Every app a test built is closed at its end (services.close_app: the scheduler, the usage
    writer, the upstream pools), and no background thread of Plexus may outlive its test."""
    threads, apps = set(threading.enumerate()), set(services.running())
    yield
    for running in set(services.running()) - apps:
        running.close()
    leaked = [t.name for t in threading.enumerate() if t not in threads and t.name.startswith("plexus-") and t.is_alive()]
    assert not leaked, f"background threads outlived the test: {leaked}"


@pytest.fixture
def make_app():
    """create_app for one test, closed at its end."""
    made = []

    def make(*args, **kwargs):
        app = create_app(*args, **kwargs)
        made.append(app)
        return app

    yield make
    for app in made:
        services.close_app(app)


@pytest.fixture
def env(monkeypatch):
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    return ENV


@pytest.fixture
def upstream():
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture
def write_config(tmp_path):
    def write(text, name="plexus.yaml"):
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture
def app(env, write_config, upstream, make_app):
    app = make_app(str(write_config(config_text(upstream.url))), watch=False)
    app.testing = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth():
    return {"Authorization": f"Bearer {CLIENT_SECRET}"}


@pytest.fixture(autouse=True)
def no_secret_in_any_answer(monkeypatch):
    """Every answer any test gets from the app through Flask's test client is checked: none of the
    recognisable secrets may appear in it (error bodies, management API, dashboard pages)."""
    from flask.testing import FlaskClient

    original = FlaskClient.open

    def open_and_check(self, *args, **kwargs):
        resp = original(self, *args, **kwargs)
        if not resp.is_streamed:
            body = resp.get_data()
            leaked = [s for s in SECRETS if s.encode() in body]
            assert not leaked, f"a secret leaked into an answer to {args[:1]}: {body[:300]!r}"
        return resp

    monkeypatch.setattr(FlaskClient, "open", open_and_check)


@pytest.fixture(scope="session")
def postgres():
    """A throw-away PostgreSQL cluster for the session (tests.support.postgres); `.create_database()`
    gives each test a database of its own. Skips only where Debian's server binaries are missing."""
    bindir = server_binaries()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): "
                    "install Debian's postgresql package (.ci/run does)")
    cluster = PostgresCluster(bindir).init().start()
    yield cluster
    cluster.destroy()
