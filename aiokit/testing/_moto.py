"""A moto server in a child process on 127.0.0.1, on a free port.

A child process, not a thread: moto spends milliseconds of CPU per request, and in a thread
it would compete with the event loop under test for the GIL. The child ends with its parent
however the parent ends (a signal, ``kill -9``): it watches a pipe only the parent holds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from types import TracebackType

from .._exceptions import EndpointError

__all__ = ["MotoServer"]


class MotoServer:
    """Start with ``with MotoServer() as server:``; ``server.endpoint_url`` is its address."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self.endpoint_url = ""

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "aiokit.testing", "--exit-with-parent"],
            stdout=subprocess.PIPE,
            stdin=subprocess.PIPE,  # closed when this process ends: the child then exits
            text=True,
            env=env,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.startswith("LISTENING "):
            self.stop()
            raise EndpointError(f"moto server (python -m aiokit.testing) did not start: {line!r}")
        self.endpoint_url = line.split(" ", 1)[1]

    def reset(self) -> None:
        """Forget every resource moto holds (between tests)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    def stop(self) -> None:
        """Stop the server process and release its pipe."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
