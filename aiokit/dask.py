"""``runner=aiokit.dask.DaskRunner(...)``: a crawl's targets over a Dask cluster's workers.

::

    from aiokit.dask import DaskRunner

    runner = DaskRunner("tcp://scheduler:8786")  # or scheduler_file=..., or client=...
    async with pool.crawl("sqs", "list_queues", targets, runner=runner) as crawl:
        async for item in crawl:
            ...

Needs the extra ``aiokit[dask]`` (``distributed``) in the driver and on every worker, and
asyncio (Dask's client runs on it). Step 2 of the scale-out (issue 16); the driver's side
of :class:`~aiokit._fleet.runners.ProcessRun` with Dask in place of local processes. The
decisions:

- **Tasks are chunks of whole accounts.** Every target of one account is in one task, so
  every throttling scope (account, region, service) lives in one worker at a time and needs
  no distributed limiter. The accounts (in the order the targets name them) are split into
  ``4 x workers`` chunks of near-equal size (fewer if there are fewer accounts, more if a
  chunk would hold over ``CHUNK_ACCOUNTS``): a task is neither one target (too much
  per-task overhead) nor the whole crawl (no balance, no retry granularity, all its items
  held at once).
- **A window of in-flight tasks**: at most ``2 x workers`` are submitted at once, the next
  one as one completes, so memory is bounded by the window times a chunk, not by targets.
  Each task runs with the crawl's ``concurrency`` (and per-account, per-region bounds), so
  up to ``2 x workers x concurrency`` requests are in flight over the cluster (a worker
  runs as many tasks at once as it has threads).
- **A task returns its messages as one list** (pickled in the worker, unpickled in a
  thread of the driver; the job goes the same way, unpickled inside the task, so a module a
  worker cannot import is a ``ConfigurationError`` rather than a lost worker): each
  target's items with its outcome. A
  worker that dies mid-task loses the task's results; the scheduler runs it again elsewhere
  (its ``distributed.scheduler.allowed-failures``, 3 by default), then gives up with
  ``KilledWorker`` and the task's targets fail with reason ``"worker died"``. The driver
  also yields each target once (the first outcome), so no item reaches a sink twice.
- **One pool per worker process and pool spec**, held by a ``WorkerPlugin`` (registered
  by each run, idempotent by name) that runs an event loop of its own in a thread: not the
  worker's, which aiokit's CPU-heavy requests would keep from its heartbeats. Pools are
  built lazily from the job's ``PoolSpec`` (keyed by the digest of its pickle), shared by
  the tasks that run there (at most ``MAX_POOLS`` kept: the least recently used idle ones
  beyond are closed), and all closed, the loop thread joined, on the plugin's ``teardown``
  (the worker closing). A task the driver cancels is cancelled on that loop.
- **The STS budget**: each run splits the driver pool's ``sts_concurrency`` between the
  workers the scheduler has when it starts (at least one each); ``workers`` is that
  number for the last run (1 before any).
- **Statistics**: ``run.summaries`` has one ``WorkerSummary`` per task (deadline reached,
  interrupted), whose ``statistics`` is ``None``: a worker's pool is shared by every task
  (and run) it serves, so its statistics are no one task's; ``worker_statistics`` of a
  Dask crawl is empty. Outcomes, items, calls, retries and throttles are counted as usual.
- **The deadline** is one for the whole run, in wall-clock time (the driver's start plus
  ``deadline``): each task gets the time left when it starts on a worker (a task run again
  after a worker died, too); a chunk not submitted in time is never visited.
- **Leaving the run** (the end, ``break``, an error, a cancel): every future is cancelled,
  the client the runner opened is closed; the cluster's workers stay (they are the user's).
- **Credentials**: role credentials are never sent (each worker assumes roles itself); a
  ``StaticKeys`` identity is part of the pool spec and so travels to the scheduler and the
  workers: use a TLS cluster (``tls://``) or an identity the workers resolve themselves.

A bug in a fan-out function is raised in the driver, as in-process; a worker-side error
that cannot be pickled arrives as ``aiokit._workers.WorkerError``.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import hashlib
import json
import logging
import os
import pickle
import threading
import time
import uuid
from collections import OrderedDict
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio

from ._exceptions import AiokitError, ConfigurationError
from ._fleet.runners import CrawlJob, Finished, Runner, Sharded, WorkerSummary
from ._fleet.targets import Target
from ._optional import import_extra
from ._workers import PoolSpec, shard_messages
from ._workers import _portable as portable

distributed: Any = import_extra("distributed", "dask", "aiokit.dask")
from distributed.diagnostics.plugin import WorkerPlugin  # noqa: E402

__all__ = ["CHUNK_ACCOUNTS", "CONNECT_TIMEOUT", "MAX_POOLS", "DaskRunner"]

#: Seconds to reach a scheduler (and for it to have a worker) before giving up.
CONNECT_TIMEOUT = 10.0

#: Accounts at most in one task (a task's items wait in the worker until it ends: this
#: bounds the memory a task holds, times the window, ``2 x workers`` tasks).
CHUNK_ACCOUNTS = 32

#: Pools (one per pool spec) a worker keeps open between tasks; the least recently used
#: idle ones beyond this are closed.
MAX_POOLS = 4

#: Seconds the plugin gives its pools to close when its worker closes.
_CLOSE_TIMEOUT = 30.0

_PLUGIN = "aiokit-pools"


@dataclass(frozen=True, slots=True, init=False, repr=False, eq=False)
class DaskRunner(Runner):
    """Run a crawl's or fan-out's targets over a Dask cluster's workers, by account.

    Give exactly one of:

    Args:
        address: the scheduler's address (``"tcp://127.0.0.1:8786"``); each run opens an
            asynchronous client of its own and closes it at the end.
        scheduler_file: a scheduler file (``dask scheduler --scheduler-file``), read when a
            run starts; the same.
        client: a ``distributed.Client`` (synchronous or asynchronous) that the runner uses
            and never closes. One that is not asynchronous on the running event loop lends
            its scheduler address (and security): the run opens a client of its own there.

    Raises:
        ConfigurationError: none or several of them, or a value of the wrong type.
        MissingDependencyError: ``distributed`` is not installed (``aiokit[dask]``).

    ``workers`` is the number of workers the scheduler had when the last run started (1
    before any): what the STS budget is split by. See :mod:`aiokit.dask`.
    """

    _address: str | None
    _scheduler_file: Any
    _client: Any
    _seen: list[int]  # one cell: the workers the last run found (frozen, yet it learns)

    def __init__(
        self, address: str | None = None, *, scheduler_file: Any = None, client: Any = None
    ) -> None:
        given = [n for n, v in (("address", address), ("scheduler_file", scheduler_file),
                                ("client", client)) if v is not None]  # fmt: skip
        if len(given) != 1:
            raise ConfigurationError(
                "DaskRunner: give exactly one of address, scheduler_file or client, "
                f"not {' and '.join(given) or 'none'}"
            )
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise ConfigurationError(
                f"DaskRunner(address): a scheduler address string, not {address!r}"
            )
        if scheduler_file is not None and not isinstance(scheduler_file, str | os.PathLike):
            raise ConfigurationError(
                "DaskRunner(scheduler_file): a path (str or os.PathLike), not "
                f"{type(scheduler_file).__name__}"
            )
        if client is not None and not isinstance(client, distributed.Client):
            raise ConfigurationError(
                f"DaskRunner(client): a distributed.Client, not {type(client).__name__}"
            )
        object.__setattr__(self, "_address", address)
        object.__setattr__(self, "_scheduler_file", scheduler_file)
        object.__setattr__(self, "_client", client)
        object.__setattr__(self, "_seen", [1])

    def __repr__(self) -> str:
        if self._address is not None:
            return f"aiokit.dask.DaskRunner({self._address!r})"
        if self._scheduler_file is not None:
            return f"aiokit.dask.DaskRunner(scheduler_file={os.fspath(self._scheduler_file)!r})"
        return f"aiokit.dask.DaskRunner(client=<Client {self._client_address()!r}>)"

    @property
    def workers(self) -> int:
        """The scheduler's workers when the last run started (1 before any run)."""
        return self._seen[0]

    def run(self, sharded: Sharded, job: CrawlJob) -> DaskRun:
        """Run ``job`` over the cluster's workers."""
        return DaskRun(self, sharded, job)

    def _client_address(self) -> str:
        try:
            return str(self._client.scheduler.address)
        except Exception:
            return "?"

    def _saw(self, workers: int) -> None:
        self._seen[0] = workers

    async def _connect(self) -> tuple[Any, bool]:
        """The client a run uses, and whether the run opened it (and so closes it)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise ConfigurationError(
                "DaskRunner needs asyncio (Dask's client runs on it)"
            ) from None
        client = self._client
        security = None
        if client is not None:
            if client.status in ("closing", "closed"):
                raise ConfigurationError("DaskRunner(client): the client is closed")
            if client.asynchronous and client.loop.asyncio_loop is loop:
                return client, False
            address, security = self._client_address(), client.security
        elif self._scheduler_file is not None:
            address = await _read_scheduler_file(self._scheduler_file)
        else:
            address = str(self._address)
        return await _open_client(address, security), True


async def _read_scheduler_file(path: Any) -> str:
    """The scheduler's address from a scheduler file (read in a thread)."""
    name = os.fspath(path)
    try:
        text = await anyio.to_thread.run_sync(Path(name).read_text)
        address = json.loads(text)["address"]
    except FileNotFoundError:
        raise ConfigurationError(f"DaskRunner(scheduler_file): no such file {name!r}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"DaskRunner(scheduler_file): {name!r} is not a scheduler file "
            f"({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(address, str):
        raise ConfigurationError(f"DaskRunner(scheduler_file): {name!r} has no address")
    return address


async def _open_client(address: str, security: Any) -> Any:
    """An asynchronous client on the running loop, or an error naming ``address``."""
    client = None
    try:
        with anyio.fail_after(CONNECT_TIMEOUT + 1):
            client = distributed.Client(
                address,
                asynchronous=True,
                timeout=CONNECT_TIMEOUT,
                set_as_default=False,
                security=security,
            )
            await client
    except BaseException as exc:  # a cancel too: the half-open client is closed
        if client is not None:
            await _close_shielded(client)
        if not isinstance(exc, OSError | TimeoutError | ValueError | TypeError):
            raise
        raise AiokitError(
            f"DaskRunner: cannot reach the Dask scheduler at {address!r} within "
            f"{CONNECT_TIMEOUT:g} s ({type(exc).__name__}: {exc})"
        ) from None
    return client


def _chunks(targets: tuple[Target, ...], workers: int) -> list[tuple[Target, ...]]:
    """``targets`` in chunks of whole accounts, near-equal in accounts: ``4 x workers`` of
    them, more if that would put over ``CHUNK_ACCOUNTS`` accounts in one, fewer if there
    are fewer accounts."""
    accounts: dict[str | None, list[Target]] = {}
    for target in targets:
        accounts.setdefault(target.account, []).append(target)
    groups = list(accounts.values())
    n = max(4 * workers, -(-len(groups) // CHUNK_ACCOUNTS))
    n = max(1, min(n, len(groups)))
    size, extra = divmod(len(groups), n)
    chunks, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        chunks.append(tuple(t for group in groups[start:end] for t in group))
        start = end
    return [c for c in chunks if c]


def _account(key: Any) -> str | None:
    """The account of a pending target or (target, listing name) unit."""
    target = key[0] if isinstance(key, tuple) else key
    return target.account  # type: ignore[no-any-return]


@dataclass(slots=True)
class _Done:
    """A watched future's end: its messages, or the error it raised."""

    chunk: int
    messages: list[Any] | None = None
    error: BaseException | None = None


class DaskRun:
    """The driver's side of a run over a Dask cluster: ``async with``, then ``next()``."""

    def __init__(self, runner: DaskRunner, sharded: Sharded, job: CrawlJob) -> None:
        self._runner = runner
        self._sharded = sharded
        self._job = replace(job, units=None)  # (the units stay here: never sent)
        deadline = job.limits.deadline
        self._deadline_at = None if deadline is None else time.time() + deadline
        self.summaries: list[WorkerSummary] = []
        # What has no outcome yet: targets, or (many listings) (target, listing name) units.
        self._pending: dict[Any, None] = dict.fromkeys(
            job.targets if job.units is None else job.units
        )
        self._chunks: list[tuple[Target, ...]] = []
        self._next_chunk = 0
        self._futures: dict[int, Any] = {}
        self._ready: list[Finished] = []
        self._client: Any = None
        self._exit = AsyncExitStack()
        self._tg: Any = None
        self._send: Any = None
        self._receive: Any = None
        self._spec: Any = None
        self._digest = ""
        self._window = 1
        self._run_id = uuid.uuid4().hex[:12]

    async def __aenter__(self) -> DaskRun:
        try:
            await self._start()
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._stop()

    async def _start(self) -> None:
        if not self._job.targets:
            return  # nothing to run: no client either
        client, owned = await self._runner._connect()
        self._client = client
        if owned:
            self._exit.push_async_callback(_close_shielded, client)
        workers = await _workers_of(client, self._runner)
        self._runner._saw(workers)
        spec: PoolSpec = self._sharded.spec  # the driver pool's: split by the workers found
        self._spec = spec.split_sts(workers)
        self._digest = hashlib.sha256(pickle.dumps(self._spec)).hexdigest()
        self._chunks = _chunks(self._job.targets, workers)
        self._window = 2 * workers
        self._send, self._receive = anyio.create_memory_object_stream[_Done](len(self._chunks))
        self._exit.callback(self._receive.close)
        self._exit.callback(self._send.close)
        if not self._chunks:
            return
        try:
            await client.register_plugin(_PoolsPlugin(), name=_PLUGIN)
        except Exception as exc:  # raised on a worker: aiokit is not there, or is another
            raise ConfigurationError(
                f"runner={self._runner!r}: the cluster's workers cannot set up aiokit "
                f"({type(exc).__name__}: {exc}); install aiokit[dask] on every worker"
            ) from None
        self._tg = await self._exit.enter_async_context(anyio.create_task_group())
        self._exit.push_async_callback(self._cancel_futures)
        self._fill()

    def _fill(self) -> None:
        """Submit chunks until the window is full (or every chunk is submitted)."""
        while len(self._futures) < self._window and self._next_chunk < len(self._chunks):
            index = self._next_chunk
            self._next_chunk += 1
            if self._deadline_at is not None and time.time() >= self._deadline_at:
                self.summaries.append(WorkerSummary(deadline_reached=True))
                continue  # its targets stay without an outcome: never visited
            job = replace(self._job, spec=self._spec, targets=self._chunks[index])
            future = self._client.submit(
                _run_chunk,
                self._pickled(job),
                self._digest,
                self._deadline_at,
                key=f"aiokit-crawl-{self._run_id}-{index}",
                pure=False,
            )
            self._futures[index] = future
            self._tg.start_soon(_watch, index, future, self._send)

    def _pickled(self, job: CrawlJob) -> bytes:
        """``job`` pickled here: a worker unpickles it inside the task, where an import that
        fails there is the task's error (Dask itself would lose the worker over it)."""
        try:
            return pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise ConfigurationError(
                f"runner={self._runner!r}: a target or parameter cannot be sent to a worker "
                f"({type(exc).__name__}: {exc})"
            ) from None

    async def next(self) -> Finished | None:
        """The next finished target, or ``None`` once every chunk is done."""
        while not self._ready:
            if not self._futures:
                return None
            done = await self._receive.receive()
            self._futures.pop(done.chunk, None)
            self._handle(done)
            self._fill()
        return self._ready.pop(0)

    def _handle(self, done: _Done) -> None:
        if done.error is not None:
            if isinstance(done.error, distributed.KilledWorker):
                accounts = {t.account for t in self._chunks[done.chunk]}
                for key in [k for k in self._pending if _account(k) in accounts]:
                    del self._pending[key]
                    self._ready.append(self._job.died(key))
                return
            if isinstance(done.error, concurrent.futures.CancelledError):
                raise AiokitError(
                    f"runner={self._runner!r}: a task was cancelled by the cluster (the "
                    "scheduler restarted or lost this client)"
                )
            if isinstance(done.error, ModuleNotFoundError):  # unpickling the task failed
                raise ConfigurationError(
                    f"runner={self._runner!r}: a worker cannot import {done.error.name!r} "
                    "(the fan-out function's module, aiokit or what the job holds): install "
                    "it on every worker"
                ) from None
            raise done.error  # a bug or a configuration error: the same on every worker
        for message in done.messages or []:
            if message[0] == "done":
                self.summaries.append(message[1])
                continue
            _, target, records, outcome = message
            if self._pending.pop(self._job.unit_key(outcome), False) is None:
                self._ready.append((target, records, outcome))

    async def _cancel_futures(self) -> None:
        futures = list(self._futures.values())
        self._futures.clear()
        if futures and self._client.status == "running":
            with anyio.CancelScope(shield=True), anyio.move_on_after(CONNECT_TIMEOUT):
                await self._client.cancel(futures, force=True)

    async def _stop(self) -> None:
        if self._tg is not None:
            await self._cancel_futures()  # first: the watchers' waits then end as cancelled
            self._tg.cancel_scope.cancel()
        await self._exit.aclose()  # each step shielded (not here: it exits the task group)


async def _workers_of(client: Any, runner: DaskRunner) -> int:
    """The scheduler's workers now (waiting a moment for a first one)."""
    with anyio.move_on_after(CONNECT_TIMEOUT):
        while True:
            identity = await client.scheduler.identity()  # every worker (all versions)
            workers = int(identity.get("n_workers", len(identity.get("workers", ()))))
            if workers:
                return workers
            await anyio.sleep(0.1)
    raise AiokitError(
        f"runner={runner!r}: the cluster has no worker (waited {CONNECT_TIMEOUT:g} s)"
    )


async def _watch(index: int, future: Any, send: Any) -> None:
    """Wait for ``future`` and send its end to the run (an error is sent, not raised)."""
    try:
        data = await future
        done = _Done(index, messages=await anyio.to_thread.run_sync(pickle.loads, data))
    except Exception as exc:  # the task's error, KilledWorker, or cancelled by the cluster
        done = _Done(index, error=exc)
    try:
        send.send_nowait(done)
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        pass


async def _close_shielded(client: Any) -> None:
    _closed_on_purpose(client)
    with anyio.CancelScope(shield=True), anyio.move_on_after(CONNECT_TIMEOUT):
        await client.close()


class _ClosedOnPurpose(logging.Filter):
    """Drops distributed's "Batched Comm Closed" record (INFO, with a traceback) for the
    comm of a client a run opened and closes: a message still being sent as the run closes
    it (Ctrl-C, a cancel) is not news, and its traceback on stderr looked like a crash."""

    def __init__(self) -> None:
        super().__init__()
        self.comms: collections.deque[int] = collections.deque(maxlen=64)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != "Batched Comm Closed %r" or not isinstance(record.args, tuple):
            return True
        return not (record.args and id(record.args[0]) in self.comms)


_quiet = _ClosedOnPurpose()


def _closed_on_purpose(client: Any) -> None:
    comm = getattr(getattr(client, "scheduler_comm", None), "comm", None)
    if comm is None:
        return
    logger = logging.getLogger("distributed.batched")
    if _quiet not in logger.filters:
        logger.addFilter(_quiet)
    _quiet.comms.append(id(comm))


# -- the worker's side --------------------------------------------------------------------


def _run_chunk(payload: bytes, digest: str, deadline_at: float | None) -> bytes:
    """A Dask task: run ``job`` on this worker's pool for its spec, on the plugin's loop,
    until ``deadline_at`` (wall clock: a task the scheduler runs again gets only what is
    left); its messages, pickled here (what cannot travel is named, not a Dask TypeError)."""
    try:
        job: CrawlJob = pickle.loads(payload)
    except Exception as exc:  # e.g. the fan-out function's module is not on this worker
        raise _bare(exc) from None
    if deadline_at is not None:
        left = deadline_at - time.time()
        if left <= 0:  # started too late: its targets stay never visited
            return _packed([("done", WorkerSummary(deadline_reached=True))])
        job = replace(job, limits=replace(job.limits, deadline=left))
    worker = distributed.get_worker()
    plugin = worker.plugins.get(_PLUGIN)
    if not isinstance(plugin, _PoolsPlugin):
        raise AiokitError(f"aiokit.dask: the {_PLUGIN!r} plugin is not on this worker")
    try:
        return _packed(plugin.run(job, digest, worker.get_current_task()))
    except Exception as exc:  # the driver raises it: made picklable
        raise _bare(exc) from None


def _packed(messages: list[Any]) -> bytes:
    try:
        return pickle.dumps(messages, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        culprit = next((m[1] for m in messages if not _picklable(m)), None)
        raise ConfigurationError(
            f"runner=aiokit.dask.DaskRunner: the value or items of {culprit!r} cannot be sent "
            f"back from a worker ({type(exc).__name__}: {exc})"
        ) from None


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True


def _bare(exc: BaseException) -> BaseException:
    """``exc`` without its traceback and chain, then picklable: Dask pickles tracebacks (with
    tblib), and a chain that loops (an error raised from its own group) never ends."""
    exc.__traceback__ = exc.__context__ = exc.__cause__ = None
    return portable(exc)


async def _close_quietly(pool: Any) -> None:
    try:
        await pool.aclose()
    except Exception:  # a worker-side pool that fails to close: nothing to tell, no one to tell
        pass


class _PoolsPlugin(WorkerPlugin):
    """One pool per pool spec in this worker process, on an event loop of its own."""

    idempotent = True
    name = _PLUGIN

    def setup(self, worker: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="aiokit-dask-loop", daemon=True
        )
        self._thread.start()
        self._pools: OrderedDict[str, Any] = OrderedDict()
        self._users: dict[str, int] = {}  # tasks using each pool now
        self._lock: asyncio.Lock | None = None
        self._running: dict[Any, concurrent.futures.Future[list[Any]]] = {}
        # aiokit's tasks the scheduler released before their thread reached ``run`` (the
        # transition comes on the worker's loop, the task on its own thread): ``run``
        # cancels them as it starts them, rather than leave them running for ever.
        self._released: set[Any] = set()
        self._guard = threading.Lock()

    def run(self, job: CrawlJob, digest: str, key: Any) -> list[Any]:
        """Run ``job`` on the loop thread; the calling (task) thread waits."""
        future = asyncio.run_coroutine_threadsafe(self._run(job, digest), self._loop)
        with self._guard:
            self._running[key] = future
            released = key in self._released
            self._released.discard(key)
        if released:
            future.cancel()
        try:
            return future.result()
        finally:
            with self._guard:
                self._running.pop(key, None)
            future.cancel()

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        """A task the scheduler released while it runs: cancel it on the loop."""
        if start in ("executing", "long-running") and finish in ("released", "cancelled"):
            with self._guard:
                future = self._running.get(key)
                if future is None and str(key).startswith("aiokit-crawl-"):
                    self._released.add(key)  # its thread has not reached run() yet
            if future is not None:
                future.cancel()

    async def _run(self, job: CrawlJob, digest: str) -> list[Any]:
        pool = await self._pool(job.spec, digest)
        try:
            messages = []
            async for message in shard_messages(job, pool):
                if message[0] == "done":  # the pool is shared: its statistics are not the task's
                    message = ("done", replace(message[1], statistics=None))
                messages.append(message)
            return messages
        finally:
            self._users[digest] -= 1

    async def _pool(self, spec: PoolSpec, digest: str) -> Any:
        """The open pool for ``spec``, built on first use; the least recently used idle
        ones beyond ``MAX_POOLS`` are closed (a long-lived worker serves many runs)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if digest not in self._pools:
                pool = spec.build()
                await pool.open()
                self._pools[digest] = pool
            self._pools.move_to_end(digest)
            self._users[digest] = self._users.get(digest, 0) + 1
            idle = [d for d in self._pools if not self._users.get(d)]
            for old in idle[: max(0, len(self._pools) - MAX_POOLS)]:
                self._users.pop(old, None)
                await _close_quietly(self._pools.pop(old))
            return self._pools[digest]

    async def _close_pools(self) -> None:
        pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            await _close_quietly(pool)

    async def teardown(self, worker: Any) -> None:
        """Close every pool, stop the loop, join its thread (the worker's loop waits, not
        blocks: its heartbeats go on meanwhile)."""
        for future in list(self._running.values()):
            future.cancel()
        closing = asyncio.run_coroutine_threadsafe(self._close_pools(), self._loop)
        try:
            await asyncio.wait_for(asyncio.wrap_future(closing), _CLOSE_TIMEOUT)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join, _CLOSE_TIMEOUT)
            if not self._thread.is_alive():
                self._loop.close()
