"""Runners: where a crawl's targets run. ``aiokit.Processes(n)``: over ``n`` local processes.

::

    async with pool.crawl("sqs", "list_queues", targets, runner=aiokit.Processes(2)) as crawl:
        async for item in crawl:
            ...

Step 1 of the scale-out (issue 16). The decisions:

- ``runner=None`` (the default) is the in-process crawl, unchanged. ``Processes(n)`` is
  frozen and checked (``n`` an int >= 1, else ``ConfigurationError`` naming ``n``).
- Sharding is by account with a stable hash, ``zlib.crc32(account.encode()) % n`` (the
  pool's own identity, account ``None``, hashes as ``""``: one shard), so every throttling
  scope (account, region, service) lives in exactly one worker and needs no shared limiter.
  Discovery runs once, in the driver: the workers get targets, not an organization.
- Each worker is a fresh ``multiprocessing`` *spawn* process (it inherits neither the
  driver's event loop nor its sockets). It builds an equivalent pool from the driver's
  picklable ``PoolSpec`` (identity, region, role, endpoint URLs, config, retry settings,
  quotas, bounds): role credentials are never sent, each worker assumes roles itself. A
  ``StaticKeys`` identity is part of the spec and travels over the process pipe only.
- The worker runs the ordinary in-process crawl on its shard and sends one message per
  finished target: the target's items together with its outcome. Each worker has its own
  pipe (so a worker killed mid-message garbles only its own channel), bounded by the
  pipe's buffer (grown to 1 MiB on Linux): a message that fits is sent from the worker's
  event loop, one that does not waits in a thread for the driver to read (backpressure;
  memory is bounded by concurrency x workers). The driver waits on the pipes in a thread
  of its own (``anyio.to_thread``), never on the event loop, and takes what a worker has
  already sent (up to ``_BATCH`` messages) in one trip.
- A worker that ends without saying it is done (killed, crashed): its targets with no
  outcome yet run again in a fresh worker; since items travel with their outcome, none is
  yielded twice. After ``MAX_RESTARTS`` restarts of one shard its remaining targets fail
  with reason ``"worker died"``.
- Leaving the crawl (the end, ``break``, an error, a cancel): every worker is terminated
  (then killed if it lingers) and joined, every pipe closed, whatever the cancel.

``pool.fan_out(fn, targets, runner=...)`` runs the same way (:class:`ShardedFanOut`): ``fn``
must be importable (checked with ``pickle`` at the call, before any request: a lambda or a
closure is a ``ConfigurationError`` naming it) and its values picklable.

The crawl's and fan-out's statistics and progress count the workers' outcomes (targets,
items, calls, retries, throttles); each worker's last message is a :class:`WorkerSummary`
(its deadline, its interrupted targets, its pool's statistics), merged in by the driver
(``FanOut.worker_statistics``).

- What the workers share: the hub identity's STS AssumeRole calls. Each worker's pool gets
  ``sts_concurrency // workers`` of them (at least one), so the shards together stay
  within the driver pool's budget. Discovery (Organizations) runs in the driver only.
- One deadline for the whole run: it is counted from the driver's start, in wall-clock
  time (workers may be other machines), and a restarted worker gets only what is left.

:class:`Runner` is what a runner is to the fleet: ``shard(target)``, ``workers`` and
``run(sharded, job)`` (the driver's side, an async context manager with ``next()``).
``aiokit.dask.DaskRunner`` is the other one (extra ``aiokit[dask]``).
"""

from __future__ import annotations

import abc
import contextlib
import logging
import multiprocessing
import pickle
import signal
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol, TypeVar

import anyio

from .._exceptions import ConfigurationError
from .._protocols import Requester
from .fanout import Context, FanOut, checked_target
from .limits import FanOutLimits
from .outcomes import Outcome, Progress, Status, WorkerSummary
from .streams import send_soon
from .targets import Target

T = TypeVar("T")

__all__ = [
    "MAX_RESTARTS",
    "CrawlJob",
    "Finished",
    "ProcessRun",
    "Processes",
    "Run",
    "Runner",
    "Sharded",
    "ShardedFanOut",
    "WorkerSummary",
    "check_importable",
    "check_runner",
    "refuse_in_a_starting_worker",
    "shard_of",
]

#: Times one shard's worker is started again after it died before finishing.
MAX_RESTARTS = 3

#: Messages read from one worker in one trip to the driver's reading thread, at most.
_BATCH = 64

#: Seconds a terminated worker gets to exit before it is killed.
_GRACE = 5.0


def shard_of(target: Target, n: int) -> int:
    """The shard of ``target`` among ``n``: a stable hash of its account.

    A member joining or leaving the organization moves only its own targets.
    """
    return zlib.crc32((target.account or "").encode()) % n


class Run(Protocol):
    """The driver's side of one sharded run, once entered: finished targets, one by one."""

    summaries: list[WorkerSummary]

    async def next(self) -> Finished | None:
        """The next finished target, or ``None`` once every shard is done."""
        ...


class Runner(abc.ABC):
    """Where a crawl's or fan-out's targets run, when not in this process (``runner=``)."""

    __slots__ = ()

    @property
    @abc.abstractmethod
    def workers(self) -> int:
        """How many workers share the run (the STS budget is split between them)."""

    def shard(self, target: Target) -> int:
        """The shard (worker index) of ``target``: a stable hash of its account."""
        return shard_of(target, self.workers)

    @abc.abstractmethod
    def run(self, sharded: Sharded, job: CrawlJob) -> AbstractAsyncContextManager[Run]:
        """The driver's side of running ``job``'s targets: ``async with`` it, then ``next()``."""


@dataclass(frozen=True, slots=True)
class Processes(Runner):
    """Run a crawl's targets in ``n`` local worker processes, sharded by account.

    Args:
        n: worker processes (an int >= 1).

    Raises:
        ConfigurationError: ``n`` is not an int >= 1.
    """

    n: int

    def __post_init__(self) -> None:
        if type(self.n) is not int or self.n < 1:
            raise ConfigurationError(
                f"Processes(n): n must be an int >= 1 (worker processes), not {self.n!r}"
            )

    def __repr__(self) -> str:
        return f"aiokit.Processes({self.n})"

    @property
    def workers(self) -> int:
        """``n``."""
        return self.n

    def run(self, sharded: Sharded, job: CrawlJob) -> ProcessRun:
        """Run ``job`` over ``n`` local worker processes."""
        return ProcessRun(sharded, job)


def check_runner(runner: object) -> Runner | None:
    """``runner`` if it is ``None`` or a runner, else a ``ConfigurationError``."""
    if runner is None or isinstance(runner, Runner):
        return runner
    raise ConfigurationError(
        "runner= must be None (this process), aiokit.Processes(n) or "
        f"aiokit.dask.DaskRunner(...), not {type(runner).__name__}"
    )


def refuse_in_a_starting_worker(runner: Runner | None) -> None:
    """Exit, with one line saying why, if this is a worker importing the user's script again.

    Under the spawn start method a worker process imports the main module before it runs;
    a script without the ``__main__`` guard would start its crawl again there, and again
    in that crawl's workers. The worker exits (code 1) instead: its driver then raises a
    ``ConfigurationError`` saying what to do, and does not start it again.
    """
    if runner is not None and getattr(multiprocessing.current_process(), "_inheriting", False):
        raise SystemExit(f"aiokit: a worker process started a crawl with runner=: {_MAIN_GUARD}")


@dataclass(frozen=True, slots=True)
class CrawlJob:
    """What one worker runs: the pool's spec, the listing (or ``fn``), limits, targets."""

    spec: Any = field(repr=False)  # may hold static keys: never shown
    service: str
    operation: str
    params: dict[str, Any]
    key: str | None
    limits: FanOutLimits
    targets: tuple[Target, ...]
    fn: Any = None  # a fan-out's function (importable); ``None``: a crawl
    log_level: int = logging.WARNING  # a worker process sends the driver its records from
    # aiokit.otel: the driver's run span (W3C trace context headers), the parent of the
    # worker's run span when OpenTelemetry is set up in the worker too; None: off.
    trace_context: dict[str, str] | None = None

    def deadline_from(self, deadline_at: float | None) -> CrawlJob:
        """This job with the time left until ``deadline_at`` (wall clock) as its deadline."""
        if deadline_at is None:
            return self
        # At least a moment (a deadline must be > 0): one that passed as the job was
        # being sent stops it at once, reported as reached.
        left = max(1e-6, deadline_at - time.time())
        return replace(self, limits=replace(self.limits, deadline=left))


@dataclass(frozen=True, slots=True)
class Sharded:
    """How the pool runs a crawl elsewhere: the runner, the worker's entry, the pool spec.

    ``entry(job, connection)`` runs in the worker process (an importable function of the
    pool's side: the fleet never imports the pool).
    """

    runner: Runner
    entry: Callable[[CrawlJob, Connection], None]
    spec: Any = field(repr=False)


@dataclass(slots=True)
class _Worker:
    shard: int
    process: Any
    conn: Connection
    done: bool = False
    heard: bool = False  # it sent something: it started


#: Why a worker may end before it started: it is the user's script being imported again.
_MAIN_GUARD = (
    "each worker process imports the main module again (multiprocessing's spawn start "
    "method): a script that runs a crawl with runner= must do so under `if __name__ == "
    '"__main__":`'
)


#: One finished target from a worker: the target, its records, its outcome.
Finished = tuple[Target, list[Any], Outcome[Any]]


class ProcessRun:
    """The driver's side of a run over local processes: ``async with``, then ``next()``.

    ``next()`` gives each finished target once (``None`` at the end); workers that die are
    replaced for the targets they left without an outcome.
    """

    def __init__(self, sharded: Sharded, job: CrawlJob) -> None:
        self._sharded = sharded
        # The hub's STS budget, split between the workers (the spec is the driver pool's).
        self._job = replace(job, spec=job.spec.split_sts(sharded.runner.workers))
        deadline = job.limits.deadline
        self._deadline_at = None if deadline is None else time.time() + deadline
        self.summaries: list[WorkerSummary] = []
        self._context = multiprocessing.get_context("spawn")
        shards: dict[int, dict[Target, None]] = {}
        for target in job.targets:
            shards.setdefault(sharded.runner.shard(target), {})[target] = None
        self._pending = shards  # per shard: targets with no outcome yet
        self._restarts = dict.fromkeys(shards, 0)
        self._workers: dict[Connection, _Worker] = {}
        self._ready: list[Finished] = []

    async def __aenter__(self) -> ProcessRun:
        try:
            for shard in list(self._pending):
                await anyio.to_thread.run_sync(self._start, shard)
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._stop()

    def _start(self, shard: int) -> None:
        targets = tuple(self._pending[shard])
        if not targets:
            return
        if self._deadline_at is not None and time.time() >= self._deadline_at:
            self.summaries.append(WorkerSummary(deadline_reached=True))
            return  # its targets stay without an outcome: never visited
        level = logging.getLogger().getEffectiveLevel()  # what the driver's logging wants
        job = replace(self._job, targets=targets, log_level=level)
        job = job.deadline_from(self._deadline_at)
        receive, send = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=self._sharded.entry,
            args=(job, send),
            name=f"aiokit-crawl-{shard}",
            daemon=True,
        )
        try:
            with _sigint_blocked():
                process.start()  # pickles the job first: nothing starts if that fails
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            receive.close()
            raise ConfigurationError(
                f"runner={self._sharded.runner!r}: a target or parameter cannot be sent to "
                f"a worker process ({type(exc).__name__}: {exc})"
            ) from None
        finally:
            send.close()  # the worker's end: the driver sees EOF when the worker ends
        self._workers[receive] = _Worker(shard, process, receive)

    async def next(self) -> Finished | None:
        """The next finished target, or ``None`` once every shard is done."""
        while not self._ready:
            if not self._workers:
                return None
            # In a worker thread: waiting, reading, joining and starting processes block.
            await anyio.to_thread.run_sync(self._step)
        return self._ready.pop(0)

    def _step(self) -> None:
        for conn, message in self._poll():
            self._handle(conn, message)

    def _poll(self) -> list[tuple[Connection, Any]]:
        """Messages from the workers that have some (waits at most a moment)."""
        events: list[tuple[Connection, Any]] = []
        for conn in wait(list(self._workers), timeout=0.2):
            assert isinstance(conn, Connection)
            # What is there already, up to a bound: one trip to this thread per batch of
            # messages, not per message (the event loop waits for each trip).
            for _ in range(_BATCH):
                try:
                    message = conn.recv()
                except Exception:
                    events.append((conn, None))  # the worker ended (or garbled its words)
                    break
                events.append((conn, message))
                if message[0] in ("done", "error") or not conn.poll():
                    break  # (its last words: the pipe is closed after them)
        return events

    def _handle(self, conn: Connection, message: Any) -> None:
        worker = self._workers[conn]
        worker.heard |= message is not None
        if isinstance(message, tuple) and message[0] == "done":
            worker.done = True
            self.summaries.append(message[1])
        elif isinstance(message, tuple) and message[0] == "error":
            raise message[1]  # a bug or a configuration error: the same in every worker
        elif isinstance(message, tuple) and message[0] == "log":
            logger = logging.getLogger(message[1].name)  # the driver's handlers write it
            if logger.isEnabledFor(message[1].levelno):
                logger.handle(message[1])
            return
        elif message is not None:
            _, target, records, outcome = message
            if self._pending[worker.shard].pop(target, False) is None:
                self._ready.append((target, records, outcome))
            return
        self._workers.pop(conn)
        conn.close()
        worker.process.join()
        code = worker.process.exitcode
        worker.process.close()
        if not worker.heard and code is not None and code > 0:
            # It failed before its first message (not killed by a signal): starting it
            # again fails again. Its own error went to its stderr.
            raise ConfigurationError(
                f"runner={self._sharded.runner!r}: worker process {worker.shard} failed to "
                f"start (exit code {code}; its error is above). If it says the crawl was "
                f"started again: {_MAIN_GUARD}"
            )
        if not worker.done and self._pending[worker.shard]:
            self._restart(worker.shard)

    def _restart(self, shard: int) -> None:
        self._restarts[shard] += 1
        if self._restarts[shard] <= MAX_RESTARTS:
            self._start(shard)
            return
        for target in self._pending.pop(shard):
            self._ready.append((target, [], Outcome(target, Status.FAILED, reason="worker died")))

    async def _stop(self) -> None:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_stop_all, list(self._workers.values()))
        self._workers.clear()


def check_importable(fn: Callable[..., Any]) -> None:
    """A ``ConfigurationError`` naming ``fn`` if it cannot be sent to a worker process."""
    try:
        pickle.dumps(fn)
    except Exception:
        name = getattr(fn, "__qualname__", None) or repr(fn)
        raise ConfigurationError(
            f"fan_out(runner=...): fn {name!r} cannot be sent to a worker process (a lambda "
            "or a closure is not picklable): use an async function defined at the top "
            "level of an importable module"
        ) from None


class ShardedFanOut(FanOut[T]):
    """A :class:`FanOut` whose targets run in worker processes (``fan_out(runner=...)``).

    ``fn`` must be importable (it is checked here, before any request); each outcome, its
    value included, travels back from the worker that ran it.
    """

    def __init__(
        self,
        requester: Requester,
        fn: Callable[[Context], Any],
        targets: Iterable[Target] | Any,
        limits: FanOutLimits,
        *,
        sharded: Sharded,
        progress: Callable[[Progress], None] | None = None,
        gc_threshold: int | None = None,
    ) -> None:
        super().__init__(
            requester, fn, targets, limits, progress=progress, gc_threshold=gc_threshold
        )
        check_importable(fn)
        self._sharded = sharded

    async def _produce(self, send: Any) -> None:
        targets = self._targets
        if not isinstance(targets, Iterable):
            targets = [t async for t in targets]
        given = tuple(dict.fromkeys(checked_target(t) for t in targets))
        job = CrawlJob(
            self._sharded.spec,
            "",
            "",
            {},
            None,
            self._limits,
            given,
            self._fn,
            trace_context=self.trace_context(),
        )
        async with send, self._sharded.runner.run(self._sharded, job) as run:
            while (finished := await run.next()) is not None:
                self._record_elsewhere(finished[2])
                await send_soon(send, finished[2])
            self._record_summaries(run.summaries)


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT blocked in this thread while it starts a worker process.

    A process inherits its parent's signal mask through fork and exec, so the worker's
    interpreter starts with SIGINT held back until its main ignores it
    (``aiokit._workers``): a Ctrl-C during its first half-second of imports is then
    dropped, not printed as a ``KeyboardInterrupt`` traceback from inside an import. The
    driver's own Ctrl-C is unaffected: Python handles signals in its main thread, and this
    runs in a worker thread (or restores the mask at once).
    """
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None:  # pragma: no cover - Windows
        yield
        return
    # Starting a process starts multiprocessing's resource tracker the first time, and that
    # start unblocks SIGINT in this thread after blocking it for the tracker (bpo-33613, the
    # same trick): start it first.
    resource_tracker.ensure_running()
    before = mask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, before)


def _stop_all(workers: Iterable[_Worker]) -> None:
    """Terminate every worker, kill the ones that linger, join them, close their pipes."""
    workers = list(workers)
    for worker in _alive(workers):
        worker.process.terminate()
    for worker in workers:
        worker.process.join(_GRACE)
    for worker in _alive(workers):
        worker.process.kill()
        worker.process.join()
    for worker in workers:
        worker.conn.close()
        worker.process.close()


def _alive(workers: Iterable[_Worker]) -> Iterator[_Worker]:
    return (w for w in workers if w.process.is_alive())
