"""pytest fixtures for code that uses aiokit, usable in any project.

Enable with ``pytest_plugins = ["aiokit.testing"]`` in a ``conftest.py`` (or ``-p
aiokit.testing``). Fixtures:

- ``aws_isolated_env``: no ``AWS_*`` variable and no ``~/.aws`` file of the developer's leaks
  in; dummy credentials and ``us-east-1`` are set instead; instance metadata is off.
- ``moto_server``: a moto server on 127.0.0.1 on a free port, in a child process, for the
  whole test session.
- ``moto_endpoint``: the server's URL, with moto's state reset and the environment isolated
  for this test.
- ``aiokit_pool``: an open :class:`aiokit.SessionPool` talking to ``moto_endpoint``.
- ``fake_organization``: an AWS Organization with 6 member accounts in two OUs on moto (build
  other shapes with :func:`make_fake_organization`).

And :func:`serve_on_loopback`, a throwaway HTTP endpoint on 127.0.0.1 for answers AWS
gives rarely (throttles, denials, stalls) that moto does not produce.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from .._identity import StaticKeys
from .._pool import SessionPool
from ._loopback import serve_on_loopback
from ._moto import MotoServer
from ._organization import FakeAccount, FakeOrganization, make_fake_organization

__all__ = [
    "FakeAccount",
    "FakeOrganization",
    "MotoServer",
    "TEST_CREDENTIALS",
    "make_fake_organization",
    "serve_on_loopback",
]

TEST_CREDENTIALS = StaticKeys("testing", "testing")
"""The dummy keys every fixture uses; moto accepts any."""


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


@pytest.fixture
async def aiokit_pool(moto_endpoint: str) -> AsyncIterator[SessionPool]:
    """An open pool on moto in us-east-1, closed after the test."""
    async with SessionPool(
        endpoint_url=moto_endpoint, region="us-east-1", credentials=TEST_CREDENTIALS
    ) as pool:
        yield pool


@pytest.fixture
def fake_organization(moto_endpoint: str) -> FakeOrganization:
    """An organization of 6 member accounts in OUs ``prod`` and ``dev`` on moto."""
    return make_fake_organization(moto_endpoint, accounts=6)
