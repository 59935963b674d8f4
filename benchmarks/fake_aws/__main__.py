"""Command line: ``python -m benchmarks.fake_aws --port 0 --config '<json>'``.

Prints exactly one line, ``LISTENING http://127.0.0.1:<port>``, flushed, once the server
accepts connections, then serves until SIGTERM/SIGINT (or, with ``--exit-on-stdin-eof``,
until its standard input closes: ``FakeAWS`` uses that so an orphaned server dies with its
parent instead of lingering).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import threading

from .model import FakeConfig
from .server import serve


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fake_aws", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--config", default="{}", help="FakeConfig fields as JSON")
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="stop when standard input reaches end of file",
    )
    return parser.parse_args(argv)


async def _main(args: argparse.Namespace) -> None:
    config = FakeConfig.from_dict(json.loads(args.config))
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.exit_on_stdin_eof:

        def watch_stdin() -> None:
            # Blocks until the parent closes the pipe or dies.
            sys.stdin.buffer.read()
            loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=watch_stdin, name="stdin-eof", daemon=True).start()

    def ready(url: str) -> None:
        print(f"LISTENING {url}", flush=True)

    await serve(config, host=args.host, port=args.port, ready=ready, stop=stop)


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    logging.basicConfig(level=logging.WARNING, format="fake_aws: %(levelname)s %(message)s")
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
