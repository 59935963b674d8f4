"""How ``Processes(n)`` starts its workers: forked from a fork server with aiokit loaded.

The decisions (issue 16, memory and CPU; measured in ``benchmarks/RESULTS.md``):

- Workers are started with multiprocessing's *forkserver* method where the platform has
  it (Linux, macOS; the default of Python 3.14 on Linux), else with *spawn*. A worker is
  then a fork of one server process that has imported aiokit, botocore and aiobotocore,
  loaded the crawl's service models and frozen its objects (``aiokit._fleet.preload``):
  a worker pays no import (spawn: about 0.7 s of CPU each, every crawl) and shares those
  pages with the server and the other workers instead of holding a copy each. Semantics
  are spawn's: the worker inherits nothing of the driver (no event loop, no socket, no
  thread); the main module is imported again in it as ``__mp_main__``.
- The server is started when a run (or an entered ``Processes``) needs it, with
  ``aiokit._fleet.preload`` added to multiprocessing's preload list, and stopped when the
  last run holding it ends, so no process is left after a crawl. A fork server already
  running that aiokit did not start (the application's own) is used as it is and left
  running: its workers import aiokit themselves.
- The server is started with SIGINT blocked (by the caller: ``runners._sigint_blocked``),
  so its workers start with it blocked too until they ignore it.

This reaches into ``multiprocessing.forkserver``'s module-level server for two things the
public API lacks: whether it runs (``_forkserver_pid``) and stopping it (``_stop()``, there
since Python 3.8). Without them (a Python that renamed them), workers are spawned.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterable
from multiprocessing.context import BaseContext
from typing import Any

__all__ = ["acquire", "release"]

PRELOAD = "aiokit._fleet.preload"
SERVICES_VARIABLE = "AIOKIT_PRELOAD_SERVICES"  # aiokit._fleet.preload reads it
PACKAGE_VARIABLE = "AIOKIT_PRELOAD_PACKAGE"

_lock = threading.Lock()
_holders = 0
_ours = False  # the running server is one aiokit started (and stops)


def _server() -> Any | None:
    """multiprocessing's fork server, if this platform and Python have the parts used."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return None  # pragma: no cover - Windows
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    needed = ("_forkserver_pid", "_stop", "ensure_running", "set_forkserver_preload")
    if server is None or not all(hasattr(server, name) for name in needed):
        return None  # pragma: no cover - a Python whose internals moved
    return server


def _running(server: Any) -> bool:
    pid = server._forkserver_pid
    if pid is None:
        return False
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == 0
    except ChildProcessError:
        return False


def acquire(services: Iterable[str] = ()) -> BaseContext:
    """The context to start workers with; with a fork server, it runs until :func:`release`.

    Blocking (the server imports aiokit before it answers): call it from a worker thread,
    with SIGINT blocked. Every call needs one :func:`release`, whatever happens.
    """
    global _holders, _ours
    server = _server()
    if server is None:
        return multiprocessing.get_context("spawn")
    with _lock:
        if _holders == 0 and not _running(server):
            preload = list(getattr(server, "_preload_modules", None) or [])
            if PRELOAD not in preload:
                preload.append(PRELOAD)
            server.set_forkserver_preload(preload)
            _start(server, services)
            _ours = True
        _holders += 1
    return multiprocessing.get_context("forkserver")


def _start(server: Any, services: Iterable[str]) -> None:
    """Start the server with the crawl's services (and the driver's aiokit) in its
    environment, for ``aiokit._fleet.preload``; the variables are put back at once."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # aiokit/
    wanted = {
        SERVICES_VARIABLE: ",".join(sorted(set(services))),
        PACKAGE_VARIABLE: package,
    }
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        server.ensure_running()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def release() -> None:
    """One :func:`acquire` is over: the last one stops the server aiokit started."""
    global _holders, _ours
    server = _server()
    if server is None:
        return
    with _lock:
        _holders = max(0, _holders - 1)
        if _holders == 0 and _ours and not _others_alive():
            _ours = False
            server._stop()  # returns once the server has exited (all its workers have)


def _others_alive() -> bool:
    """A process of this one's, not aiokit's, runs from the fork server: stopping the
    server now would wait for it (a later release stops it). A child started by the fork
    server is not this process's child; where its parent cannot be read, assume it is one."""
    me = os.getpid()
    return any(_parent_of(p.pid) != me for p in multiprocessing.active_children())


def _parent_of(pid: int | None) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses
            return int(stat.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None
