"""A throwaway HTTP endpoint on 127.0.0.1, for tests that need AWS to answer in a set way."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

__all__ = ["serve_on_loopback"]


@contextlib.asynccontextmanager
async def serve_on_loopback(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[str]:
    """Serve ``handler`` for every method and path on 127.0.0.1, on a free port.

    Yields the endpoint URL (``http://127.0.0.1:PORT``) to pass as ``endpoint_url``; the
    server is stopped, and its connections closed, on exit::

        async with serve_on_loopback(handle) as url:
            async with aiokit.SessionPool(endpoint_url=url, ...) as pool:
                ...
    """
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
