"""``FakeAWS``: start, steer and stop the fake endpoint from a test or a benchmark.

The server runs in its own process (``sys.executable -m benchmarks.fake_aws``) so its CPU
never competes with the measured client's event loop or GIL, and so its RSS is not the
client's.  Control calls use urllib only: they work from sync and async code alike (they
are short calls to loopback; from async code they block the loop for well under a
millisecond, which no benchmark here measures).
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from .model import FakeConfig

_REPO_ROOT = Path(__file__).resolve().parents[2]


class FakeAWSError(RuntimeError):
    """The fake endpoint failed to start or a control call failed."""


class FakeAWS:
    """Controller of one fake endpoint subprocess; a sync and an async context manager."""

    def __init__(self, config: FakeConfig | None = None, *, start_timeout: float = 30.0) -> None:
        self.config = config or FakeConfig()
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._url: str | None = None

    # -- lifecycle

    @property
    def endpoint_url(self) -> str:
        if self._url is None:
            raise FakeAWSError("FakeAWS is not running")
        return self._url

    def start(self) -> Self:
        if self._proc is not None:
            return self
        env = dict(os.environ)
        # The package must be importable whatever the caller's working directory.
        env["PYTHONPATH"] = os.pathsep.join(
            [str(_REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])]
        )
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.fake_aws",
                "--port",
                "0",
                "--config",
                json.dumps(self.config.to_dict()),
                "--exit-on-stdin-eof",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=str(_REPO_ROOT),
        )
        self._proc = proc
        try:
            line = self._read_line(proc)
        except BaseException:
            self.stop()
            raise
        if not line.startswith("LISTENING "):
            self.stop()
            raise FakeAWSError(f"fake AWS did not start (said {line!r})")
        self._url = line.split(" ", 1)[1].strip()
        # Nothing more is printed: close our end now so no pipe stays open.
        assert proc.stdout is not None
        proc.stdout.close()
        return self

    def _read_line(self, proc: subprocess.Popen[bytes]) -> str:
        assert proc.stdout is not None
        deadline = time.monotonic() + self.start_timeout
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while b"\n" not in buf:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise FakeAWSError("fake AWS did not print LISTENING in time")
                if not sel.select(remaining):
                    continue
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    raise FakeAWSError(f"fake AWS exited early (code {proc.poll()})")
                buf += chunk
        return buf.decode().split("\n", 1)[0]

    def stop(self, timeout: float = 5.0) -> None:
        proc, self._proc, self._url = self._proc, None, None
        if proc is None:
            return
        # Closing stdin asks the server to stop gracefully; SIGTERM and then SIGKILL are
        # the fallbacks.  Always wait(), so no zombie is left behind.
        for stream in (proc.stdin, proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        import anyio.to_thread  # only async users need anyio

        # Starting takes a few hundred milliseconds of blocking reads: keep them off the
        # event loop.
        await anyio.to_thread.run_sync(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        import anyio.to_thread

        await anyio.to_thread.run_sync(self.stop)

    # -- control calls

    def _call(
        self,
        method: str,
        name: str,
        payload: dict[str, Any] | None = None,
        query: dict[str, str] | None = None,
    ) -> Any:
        url = f"{self.endpoint_url}/_fake/{name}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                detail = exc.read().decode(errors="replace")
            raise FakeAWSError(f"{method} /_fake/{name}: {exc.code} {detail}") from None

    def stats(self) -> dict[str, Any]:
        """Counters since start or the last reset()."""
        return dict(self._call("GET", "stats"))

    def reset(self) -> None:
        """Zero the counters, refill every token bucket, re-seed the fault RNG."""
        self._call("POST", "reset", {})

    def configure(self, **changes: Any) -> FakeConfig:
        """Merge ``changes`` into the running server's config (dict fields key by key)."""
        merged = self._call("POST", "config", changes)
        self.config = FakeConfig.from_dict(merged)
        return self.config

    def truth(self, **query: str) -> dict[str, Any]:
        """Ground truth summary; with kind=, account=, region= the exact item list."""
        return dict(self._call("GET", "truth", query=query or None))
