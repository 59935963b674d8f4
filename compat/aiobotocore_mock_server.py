"""``tests.mock_server.AIOServer`` for aiobotocore's sdist tests (its sdist lacks the module).

A slow HTTP endpoint on 127.0.0.1 in a child process: ``/ok`` answers at once, every other
path sends its headers and then stalls 5 s, for the tests of connect and read timeouts.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
from typing import Any

import aiohttp
import aiohttp.web

HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


async def _ok(request: aiohttp.web.Request) -> aiohttp.web.Response:
    return aiohttp.web.Response()


async def _stall(request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
    response = aiohttp.web.StreamResponse(status=200, headers={"Content-Type": "text/html"})
    await response.prepare(request)
    await asyncio.sleep(5)
    await response.drain()
    return response


def _serve(port: int) -> None:
    asyncio.set_event_loop(asyncio.new_event_loop())
    app = aiohttp.web.Application()
    app.router.add_route("*", "/ok", _ok)
    app.router.add_route("*", "/{anything:.*}", _stall)
    aiohttp.web.run_app(app, host=HOST, port=port, handle_signals=False, print=None)


class AIOServer:
    """``async with AIOServer() as server``: ``server.endpoint_url`` is the slow endpoint."""

    def __init__(self) -> None:
        self._port = _free_port()
        self.endpoint_url = f"http://{HOST}:{self._port}"
        self._process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(self._port,), daemon=True
        )

    async def __aenter__(self) -> AIOServer:
        self._process.start()
        async with aiohttp.ClientSession() as session:
            for _ in range(60):
                try:
                    async with session.get(self.endpoint_url + "/ok", timeout=0.5):
                        return self
                except (TimeoutError, aiohttp.ClientError):
                    await asyncio.sleep(0.25)
        raise RuntimeError("the slow test endpoint did not start")

    async def __aexit__(self, *exc: Any) -> None:
        self._process.terminate()
        self._process.join(5)
