"""``Requester``: what the fleet needs from a pool, and all it may use of one.

The fleet (``aiokit/_fleet/``: discovery, fan-out, crawl) makes its requests through this
protocol, never through ``SessionPool`` itself: the pool depends on the fleet (it builds
fan-outs and crawls), the fleet only on this interface, so there is no import circle and
the fleet can be driven by anything that answers these calls (a test's fake, say).
Every member is a public ``SessionPool`` method or property, with the parameters the fleet
passes; ``SessionPool`` satisfies it structurally.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from aiobotocore.config import AioConfig

    from ._identity import Identity
    from ._paginate import Paginator

__all__ = ["Requester"]


class Requester(Protocol):
    """What the fleet calls on a pool (see ``SessionPool`` for what each does)."""

    @property
    def region(self) -> str | None:
        """The default region (known once the pool is open)."""

    @property
    def identity(self) -> Identity:
        """The pool's own identity."""

    async def open(self) -> None:
        """Prepare the pool (idempotent)."""

    def identity_for(
        self,
        identity: Identity | None = None,
        account: str | None = None,
        role: str | None = None,
    ) -> Identity:
        """The identity a request for ``account`` (or with ``identity``) is made as."""

    async def client(
        self,
        service: str,
        region: str | None = None,
        *,
        identity: Identity | None = None,
        config: AioConfig | None = None,
    ) -> Any:
        """A ready client for ``service`` in ``region`` as ``identity``."""

    def paginate(
        self,
        service: str,
        operation: str,
        region: str | None = None,
        *,
        identity: Identity | None = None,
        plain: bool = False,
        **params: Any,
    ) -> Paginator:
        """A paginator for ``operation``."""

    async def wait(
        self,
        service: str,
        waiter: str,
        region: str | None = None,
        *,
        identity: Identity | None = None,
        **kwargs: Any,
    ) -> Any:
        """Wait with ``waiter`` until it succeeds."""
