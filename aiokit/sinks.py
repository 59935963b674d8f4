"""Result sinks for crawls: JSON Lines, CSV and SQLite. See ``aiokit._sinks``.

::

    from aiokit.sinks import Run, open_sink

    async with open_sink("inventory.db") as sink:
        await sink.open()  # before any request: an unusable file fails here
        await sink.begin(Run("sqs", "list_queues"))
        async with pool.crawl("sqs", "list_queues", targets) as crawl:
            async for event in crawl.events():
                await sink.write(event)
"""

from ._sinks import (
    CsvSink,
    JsonLinesSink,
    Run,
    Sink,
    SqliteSink,
    open_sink,
    output_format,
    resource_id,
)

__all__ = [
    "CsvSink",
    "JsonLinesSink",
    "Run",
    "Sink",
    "SqliteSink",
    "open_sink",
    "output_format",
    "resource_id",
]
