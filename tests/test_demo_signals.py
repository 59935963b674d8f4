"""`aiokit demo` stopped by a signal leaves no moto server behind.

The demo runs moto in a child process; `kill PID` (SIGTERM) must stop the demo as cleanly
as Ctrl-C does, and even `kill -9`, which the demo cannot handle, must take the child along.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.timeout(150),
    pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)"),
]


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(c) for c in (task / "children").read_text().split())
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has exited: only its parent's wait() is missing


def listening(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((parts.hostname or "", parts.port or 80)) == 0


def start_demo(tmp_path: Path) -> tuple[subprocess.Popen[str], str, int, threading.Thread]:
    """Run `aiokit demo --keep-running` until the emulator is left serving; return the
    process, the emulator's URL and the moto child's pid."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiokit.cli",
            "demo",
            "--keep-running",
            "--accounts",
            "2",
            "--out",
            str(tmp_path / "demo.db"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert demo.stderr is not None
        for line in demo.stderr:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            assert demo.poll() is None, "".join(seen)
            continue
        seen.append(line)
        match = re.search(r"keeps running at (http://127\.0\.0\.1:\d+)", line)
        if match:
            url = match.group(1)
            (moto,) = children(demo.pid)
            assert listening(url)
            return demo, url, moto, reader
    finish(demo, reader, None)
    raise AssertionError("the demo did not get to --keep-running:\n" + "".join(seen))


def finish(demo: subprocess.Popen[str], reader: threading.Thread, moto: int | None) -> None:
    """Leave nothing behind, even when the test failed: a moto child left running also
    holds the demo's stderr open."""
    demo.kill()
    demo.wait()
    if moto is not None and alive(moto):
        os.kill(moto, signal.SIGKILL)
    reader.join(timeout=10)
    if not reader.is_alive():
        assert demo.stderr is not None
        demo.stderr.close()


def wait_until_gone(pid: int, url: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (alive(pid) or listening(url)):
        time.sleep(0.1)
    assert not alive(pid), f"moto child {pid} still running"
    assert not listening(url), f"{url} still accepts connections"


def test_sigterm_stops_the_demo_and_its_moto_child(tmp_path: Path) -> None:
    demo, url, moto, reader = start_demo(tmp_path)
    try:
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=30) == 143
        wait_until_gone(moto, url)
    finally:
        finish(demo, reader, moto)


def test_sigint_stops_the_demo_and_its_moto_child(tmp_path: Path) -> None:
    demo, url, moto, reader = start_demo(tmp_path)
    try:
        demo.send_signal(signal.SIGINT)  # to the demo alone, not its process group
        assert demo.wait(timeout=30) == 130
        wait_until_gone(moto, url)
    finally:
        finish(demo, reader, moto)


def test_sigkill_of_the_demo_takes_its_moto_child_along(tmp_path: Path) -> None:
    demo, url, moto, reader = start_demo(tmp_path)
    try:
        demo.kill()
        assert demo.wait(timeout=30) == -signal.SIGKILL
        wait_until_gone(moto, url)
    finally:
        finish(demo, reader, moto)
