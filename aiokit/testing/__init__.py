"""Test helpers for code that uses aiokit, usable in any project, with or without pytest.

As a pytest plugin, enable with ``pytest_plugins = ["aiokit.testing"]`` in a
``conftest.py`` (or ``-p aiokit.testing``). Fixtures (defined in ``aiokit.testing._plugin``,
which only pytest imports):

- ``aws_isolated_env``: no ``AWS_*`` variable and no ``~/.aws`` file of the developer's leaks
  in; dummy credentials and ``us-east-1`` are set instead; instance metadata is off.
- ``moto_server``: a moto server on 127.0.0.1 on a free port, in a child process, for the
  whole test session.
- ``moto_endpoint``: the server's URL, with moto's state reset and the environment isolated
  for this test.
- ``aiokit_pool``: an open :class:`aiokit.SessionPool` talking to ``moto_endpoint``, under
  pytest-asyncio (strict or auto mode) or anyio's plugin.
- ``fake_organization``: an AWS Organization with 6 member accounts in two OUs on moto (build
  other shapes with :func:`make_fake_organization`).
- ``aws_faults``: a :class:`FaultProxy` in front of ``moto_endpoint``: throttling, HTTP 500s,
  resets, stalls, denied roles, disabled regions, expired credentials, with counters.

Without pytest: :class:`MotoServer`, :func:`make_fake_organization`, :func:`aws_faults`, and
:func:`serve_on_loopback`, a throwaway HTTP endpoint on 127.0.0.1 for answers AWS gives
rarely (throttles, denials, stalls) that moto does not produce.
"""

from __future__ import annotations

from .._identity import StaticKeys
from ._faults import FaultProxy, FaultStatistics, aws_faults
from ._loopback import serve_on_loopback
from ._moto import MotoServer
from ._organization import FakeAccount, FakeOrganization, make_fake_organization

__all__ = [
    "FakeAccount",
    "FakeOrganization",
    "FaultProxy",
    "FaultStatistics",
    "MotoServer",
    "TEST_CREDENTIALS",
    "aws_faults",
    "make_fake_organization",
    "serve_on_loopback",
]

TEST_CREDENTIALS = StaticKeys("testing", "testing")
"""The dummy keys every fixture uses; moto accepts any."""

# pytest loads the plugins a plugin module names here; nothing else reads it, so importing
# this package never imports pytest.
pytest_plugins = ["aiokit.testing._plugin"]
