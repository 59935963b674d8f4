"""The pytest fixtures of ``aiokit.testing``; only pytest imports this module.

``aiokit.testing`` names this module in its ``pytest_plugins``, so ``-p aiokit.testing`` and
``pytest_plugins = ["aiokit.testing"]`` load it, while ``import aiokit.testing`` (the demo,
a notebook, a script) needs no pytest.

The async fixture ``aiokit_pool`` works under pytest-asyncio (strict or auto mode) and
under anyio's pytest plugin alike: it is a plain fixture that hands the test the pool from
whichever async fixture fits the plugin that runs the test, so the pool is opened and
closed on the test's own event loop.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from .._pool import SessionPool
from . import TEST_CREDENTIALS
from ._faults import FaultProxy
from ._moto import MotoServer
from ._organization import FakeOrganization, make_fake_organization

try:
    import pytest_asyncio
except ImportError:  # anyio's plugin only
    HAVE_PYTEST_ASYNCIO = False
else:
    HAVE_PYTEST_ASYNCIO = True


@pytest.fixture
def aws_isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Hide the developer's AWS setup: environment variables and config files."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config-absent"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials-absent"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_CREDENTIALS.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_CREDENTIALS.secret_access_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """A moto server on 127.0.0.1 for the whole session."""
    with MotoServer() as server:
        yield server


@pytest.fixture
def moto_endpoint(moto_server: MotoServer, aws_isolated_env: None) -> str:
    """The moto server's URL, its state fresh for this test."""
    moto_server.reset()
    return moto_server.endpoint_url


def _new_pool(moto_endpoint: str) -> SessionPool:
    return SessionPool(endpoint_url=moto_endpoint, region="us-east-1", credentials=TEST_CREDENTIALS)


# One pool fixture for each plugin, as two function objects (pytest-asyncio marks the
# function itself): in strict mode pytest-asyncio runs only async fixtures it marked, and
# anyio's plugin runs the async fixtures of tests that use its ``anyio_backend``. Each
# plugin sees only the fixture meant for it, whatever order the two were registered in.
@pytest.fixture
async def _aiokit_pool_anyio(moto_endpoint: str) -> AsyncIterator[SessionPool]:
    async with _new_pool(moto_endpoint) as pool:
        yield pool


if HAVE_PYTEST_ASYNCIO:

    @pytest_asyncio.fixture
    async def _aiokit_pool_asyncio(moto_endpoint: str) -> AsyncIterator[SessionPool]:
        async with _new_pool(moto_endpoint) as pool:
            yield pool


@pytest.fixture
def aiokit_pool(request: pytest.FixtureRequest) -> SessionPool:
    """An open pool on moto in us-east-1, closed after the test.

    Runs on the test's event loop under pytest-asyncio (strict or auto mode) or anyio's
    plugin, whichever runs the test.
    """
    anyio_test = "anyio_backend" in request.fixturenames
    name = "_aiokit_pool_anyio" if anyio_test or not HAVE_PYTEST_ASYNCIO else "_aiokit_pool_asyncio"
    pool: SessionPool = request.getfixturevalue(name)
    return pool


@pytest.fixture
def fake_organization(moto_endpoint: str) -> FakeOrganization:
    """An organization of 6 member accounts in OUs ``prod`` and ``dev`` on moto."""
    return make_fake_organization(moto_endpoint, accounts=6)


@pytest.fixture(scope="session")
def _aws_fault_proxy(moto_server: MotoServer) -> Iterator[FaultProxy]:
    proxy = FaultProxy(moto_server.endpoint_url)  # started when a test reads endpoint_url
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def aws_faults(_aws_fault_proxy: FaultProxy, moto_endpoint: str) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of ``moto_endpoint``, no fault set, counters zero.

    ``aws_faults.configure(throttle={"ec2": (10, 20)}, deny_accounts=[...])`` sets this
    test's faults; pass ``aws_faults.endpoint_url`` to the code under test; read
    ``aws_faults.throttles``, ``.faults``, ``.requests`` afterwards. One proxy serves the
    session (started on first use); each test starts with no faults and zeroed counters.
    """
    _aws_fault_proxy.configure()
    try:
        yield _aws_fault_proxy
    finally:
        _aws_fault_proxy.configure()
