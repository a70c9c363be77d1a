"""End-to-end fixtures: one fake upstream and one gateway process for the whole session, shared by
every module whose tests fit the shared config; modules that need their own gateway (several
workers, workers killed, special env) start it with tests.support.gateways.gateway_for."""

import pytest

from tests.support.fake_upstream import FakeUpstream
from tests.support.gateways import gateway_for, shared_config


@pytest.fixture(scope="session")
def shared_fake():
    with FakeUpstream() as up:
        yield up


@pytest.fixture(scope="session")
def shared_gateway(shared_fake, tmp_path_factory):
    with gateway_for(shared_config(shared_fake.url), tmp_path_factory.mktemp("shared-gateway")) as gw:
        yield gw


@pytest.fixture
def fake(shared_fake):
    """The shared fake upstream, with nothing seen and nothing scripted left from an earlier test."""
    shared_fake.reset()
    return shared_fake


@pytest.fixture
def gateway(shared_gateway, fake):
    return shared_gateway
