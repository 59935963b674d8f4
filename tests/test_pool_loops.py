"""A pool belongs to the event loop that first used it; another loop gets a clear error.

Its HTTP connections, locks and semaphores are that loop's: a request from another loop
on a kept-alive connection was written on the first loop's transport and its answer never
read, so it hung forever. These tests run their own loops, so they are plain functions.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from aiohttp import web

import aiokit
import aiokit.sync
from aiokit.testing import TEST_CREDENTIALS


@pytest.fixture
def keep_alive_endpoint() -> Iterator[str]:
    """A DynamoDB-shaped endpoint that keeps connections alive, on its own loop in a
    thread, so it outlives the loops under test."""
    ready = threading.Event()
    found: dict[str, Any] = {}

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"TableNames": ["t"]}, content_type="application/x-amz-json-1.0")

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        found["url"], found["stop"] = f"http://127.0.0.1:{port}", asyncio.Event()
        found["loop"] = asyncio.get_running_loop()
        ready.set()
        await found["stop"].wait()
        await runner.cleanup()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield found["url"]
    found["loop"].call_soon_threadsafe(found["stop"].set)
    thread.join(10)


def _pool(url: str) -> aiokit.SessionPool:
    return aiokit.SessionPool(endpoint_url=url, region="us-east-1", credentials=TEST_CREDENTIALS)


async def _list_tables(pool: aiokit.SessionPool) -> list[str]:
    ddb = await pool.client("dynamodb")
    with anyio.fail_after(5):
        return list((await ddb.list_tables())["TableNames"])


def test_a_pool_used_from_another_loop_says_so_instead_of_hanging(
    keep_alive_endpoint: str,
) -> None:
    first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
    pool = _pool(keep_alive_endpoint)
    try:
        assert first.run_until_complete(_list_tables(pool)) == ["t"]
        held = first.run_until_complete(pool.client("dynamodb"))
        with pytest.raises(aiokit.PoolClosedError, match="event loop"):
            second.run_until_complete(_list_tables(pool))
        with pytest.raises(aiokit.PoolClosedError, match="event loop"):
            second.run_until_complete(held.list_tables())  # a client it handed out, too
        assert first.run_until_complete(_list_tables(pool)) == ["t"]  # still its loop's
    finally:
        first.run_until_complete(pool.aclose())  # its connections closed in their loop
        first.close()
        second.close()


# What the error says: the first loop's connections stay open, and warn when collected.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_closing_a_pool_from_another_loop_is_a_clear_error(keep_alive_endpoint: str) -> None:
    first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
    pool = _pool(keep_alive_endpoint)
    try:
        first.run_until_complete(_list_tables(pool))
        with pytest.raises(aiokit.PoolClosedError, match="cannot be closed from this one"):
            second.run_until_complete(pool.aclose())
        assert pool.closed
        second.run_until_complete(pool.aclose())  # idempotent: closed is closed
    finally:
        first.close()
        second.close()
        del pool
        gc.collect()


def test_a_pool_serves_its_sync_facade_and_one_loop_after_another_pool(
    keep_alive_endpoint: str,
) -> None:
    """The usual shapes still work: one pool per anyio.run, and aiokit.sync's own loop."""
    for _ in range(2):

        async def run() -> list[str]:
            async with _pool(keep_alive_endpoint) as pool:
                return await _list_tables(pool)

        assert anyio.run(run) == ["t"]
    with aiokit.sync.SessionPool(
        endpoint_url=keep_alive_endpoint, region="us-east-1", credentials=TEST_CREDENTIALS
    ) as sync_pool:
        assert sync_pool.client("dynamodb").list_tables()["TableNames"] == ["t"]
