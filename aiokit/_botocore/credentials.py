"""botocore.credentials: the credentials a shared client is built with.

Every request is signed with its identity's own credentials
(``signers.inject_request_credentials``); the client's own are a guard that fails loudly.
"""

from __future__ import annotations

from typing import Any

from .._errors import CredentialsError


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
