"""botocore.credentials / aiobotocore.credentials: the credential objects aiokit makes and
the parts of them it bends.

- ``UnboundCredentials``: the guard credentials a shared client is built with. Every
  request is signed with its identity's own credentials
  (``signers.inject_request_credentials``); the client's own fail loudly.
- ``static_credentials`` / ``refreshable_role_credentials``: aiobotocore's credential
  classes, the second with aiokit's refresh windows (``set_refresh_windows``: botocore's
  are fixed at 15 / 10 minutes before expiry, its private ``_advisory_refresh_timeout`` /
  ``_mandatory_refresh_timeout``).
- ``kill_cancelled_credential_process``: a ``credential_process`` child that does not
  outlive a cancelled wait (the provider's private ``_popen``).
- ``role_arn_of``: the role a profile's ``role_arn`` provider assumes (its fetcher's
  ``_role_arn``), for error messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from aiobotocore.credentials import AioCredentials, AioDeferredRefreshableCredentials

from .._errors import CredentialsError

__all__ = [
    "UnboundCredentials",
    "guard_client_credentials",
    "kill_cancelled_credential_process",
    "refreshable_role_credentials",
    "role_arn_of",
    "set_refresh_windows",
    "static_credentials",
]


class UnboundCredentials:
    """The credentials a shared client is built with: using them is a bug, and says so.

    Every request aiokit sends carries its identity's own credentials; a request that reaches
    the signer without them would otherwise be signed as whoever the client was made for.
    """

    method = "aiokit-unbound"

    async def get_frozen_credentials(self) -> Any:
        raise CredentialsError(
            "a shared aiokit client was used without an identity; get clients from "
            "SessionPool.client() rather than from another client's internals"
        )

    def __repr__(self) -> str:
        return "aiokit.UnboundCredentials()"


def guard_client_credentials(client: Any) -> None:
    """Make a shared client's own credentials the failing ``UnboundCredentials``."""
    client._request_signer._credentials = UnboundCredentials()


def static_credentials(access_key: str, secret_key: str, token: str | None) -> Any:
    """Fixed credentials (an access key pair, maybe with a session token)."""
    return AioCredentials(access_key, secret_key, token)


def refreshable_role_credentials(
    refresh_using: Callable[[], Awaitable[dict[str, Any]]],
    time_fetcher: Callable[[], datetime.datetime],
) -> Any:
    """Credentials fetched on first use and refreshed by ``refresh_using`` before expiry."""
    return AioDeferredRefreshableCredentials(
        refresh_using=refresh_using, method="assume-role", time_fetcher=time_fetcher
    )


def set_refresh_windows(credentials: Any, *, advisory: float, mandatory: float) -> None:
    """Refresh ``credentials`` ``advisory`` seconds before expiry (a failure keeps the old
    ones), and no later than ``mandatory`` seconds before (a failure is an error)."""
    credentials._advisory_refresh_timeout = advisory
    credentials._mandatory_refresh_timeout = mandatory


def role_arn_of(credentials: Any) -> str | None:
    """The role a profile's ``role_arn`` credentials are assumed as, if botocore says."""
    fetcher = getattr(getattr(credentials, "_refresh_using", None), "__self__", None)
    arn = getattr(fetcher, "_role_arn", None)
    return arn if isinstance(arn, str) else None


class _ProcessKilledOnExit:
    """A ``credential_process`` child that does not outlive the wait for it.

    aiobotocore waits for the process with ``communicate()``; cancelled (a timeout, Ctrl-C,
    a closing pool), it leaves the child running, past the end of the program.
    """

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    def __getattr__(self, name: str) -> Any:
        return getattr(self._process, name)

    async def communicate(self, data: bytes | None = None) -> tuple[bytes, bytes]:
        try:
            return await self._process.communicate(data)
        finally:
            if self._process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self._process.kill()
                with anyio.CancelScope(shield=True):
                    await self._process.wait()


async def _credential_process_popen(*args: Any, **kwargs: Any) -> _ProcessKilledOnExit:
    return _ProcessKilledOnExit(await asyncio.create_subprocess_exec(*args, **kwargs))


def kill_cancelled_credential_process(session: Any) -> None:
    """Make the session's ``credential_process`` provider kill its child when cancelled."""
    resolver = session.get_component("credential_provider")
    for provider in getattr(resolver, "providers", ()):
        if getattr(provider, "METHOD", None) == "custom-process" and hasattr(provider, "_popen"):
            provider._popen = _credential_process_popen
