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
import os
import pickle
import signal
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol, TypeVar

import anyio

from .._exceptions import ConfigurationError, UsageError
from .._protocols import Requester
from . import forkserver
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
    "WarmWorkers",
    "WorkerSummary",
    "check_importable",
    "follow_parent",
    "serve",
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

    Used as it is (``runner=aiokit.Processes(2)``), each crawl starts its ``n`` workers and
    stops them when it is left. Entered (``async with aiokit.Processes(2) as processes``),
    the workers start once, wait, and run every crawl given ``runner=processes`` until the
    block is left: a crawl then pays no process start (Python, aiokit and botocore
    imported again: about a second of CPU per worker). A warm worker that dies, or that a
    crawl left before it finished (``break``, an error, a cancel), is stopped and started
    again for the next crawl. Two crawls at once: the second runs on fresh workers of its own.

    Args:
        n: worker processes (an int >= 1).

    Raises:
        ConfigurationError: ``n`` is not an int >= 1.
        UsageError: entered again while it is entered.
    """

    n: int
    _warm: WarmWorkers | None = field(default=None, init=False, compare=False, repr=False)

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
        """Run ``job`` over ``n`` local worker processes (the warm ones, if entered and idle)."""
        return ProcessRun(sharded, job, self._warm)

    async def __aenter__(self) -> Processes:
        """Start the ``n`` workers now and keep them until the block is left."""
        refuse_in_a_starting_worker(self)
        if self._warm is not None:
            raise UsageError(f"{self!r} is already entered: leave it before entering it again")
        warm = WarmWorkers(self)
        object.__setattr__(self, "_warm", warm)
        try:
            await warm.start()
        except BaseException:
            object.__setattr__(self, "_warm", None)
            await warm.stop()
            raise
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        warm = self._warm
        object.__setattr__(self, "_warm", None)
        if warm is not None:
            await warm.stop()


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
        # Written here: a fork server's worker ends with os._exit, printing no SystemExit.
        sys.stderr.write(f"aiokit: a worker process started a crawl with runner=: {_MAIN_GUARD}\n")
        sys.stderr.flush()
        raise SystemExit(1)


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
    plain: bool = False  # a DynamoDB query / scan's items as plain values
    #: A crawl of many listings: its entries (``Listing`` or ``ResourceType``), run over
    #: ``targets`` with ``done`` skipped; ``service`` and ``operation`` are then unused.
    listings: tuple[Any, ...] = ()
    done: frozenset[tuple[str | None, str | None, str]] = frozenset()
    #: The driver's side only (never sent): a many-listing crawl's units, as
    #: ``(target, listing name)`` (region ``None`` for a global listing's).
    units: tuple[tuple[Target, str], ...] | None = field(default=None, repr=False)
    # aiokit.otel: the driver's run span (W3C trace context headers), the parent of the
    # worker's run span when OpenTelemetry is set up in the worker too; None: off.
    trace_context: dict[str, str] | None = None

    def unit_key(self, outcome: Outcome[Any]) -> Any:
        """What ``outcome`` finishes: its target, or (many listings) its unit."""
        if not self.listings:
            return outcome.target
        assert outcome.listing is not None
        return (outcome.target, outcome.listing.name)

    def died(self, key: Any) -> Finished:
        """A unit (or target) whose worker died for good: failed, ``"worker died"``."""
        target, listing = (key[0], self.listing(key[1])) if self.listings else (key, None)
        died: Outcome[Any] = Outcome(target, Status.FAILED, reason="worker died")
        return (target, [], replace(died, listing=listing))

    def listing(self, name: str) -> Any:
        """The job's listing named ``name``."""
        for entry in self.listings:
            listing = getattr(entry, "listing", entry)  # a ResourceType's, or the Listing
            if listing.name == name:
                return listing
        raise AssertionError(f"no listing {name!r} in the job")  # pragma: no cover

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
    #: One job on a warm worker's pipe (kept open after it): warm workers need it.
    job_entry: Callable[[CrawlJob, Connection], None] | None = None


@dataclass(slots=True)
class _Warm:
    """A warm worker process: jobs go out on ``jobs``, its messages come in on ``results``."""

    process: Any
    jobs: Connection
    results: Connection


@dataclass(slots=True)
class _Worker:
    shard: int
    process: Any
    conn: Connection
    done: bool = False
    heard: bool = False  # it sent something: it started
    warm: _Warm | None = None  # one of an entered Processes' workers: kept after its job


#: Seconds a warm worker gets to say it is ready (it imports aiokit and botocore).
_READY_TIMEOUT = 120.0


class WarmWorkers:
    """The worker processes an entered :class:`Processes` keeps between crawls.

    One per shard, each a spawn process running ``aiokit._workers.serve_jobs``: it imports
    aiokit, says it is ready, then runs the jobs it is sent one after the other (each on a
    pool built from the job's spec, as a worker of its own would). One run at a time has
    them (:meth:`claim`); a worker the run could not give back finished (it died, or the
    run was left before its job ended) is stopped, and started again by the next claim.
    """

    def __init__(self, runner: Processes) -> None:
        self._runner = runner
        self._context: Any = None  # the fork server's (held until stop()), or spawn's
        self._idle: dict[int, _Warm] = {}
        self._claimed = False
        self._stopped = False

    async def start(self) -> None:
        """Start the missing workers and wait until each is ready (cancellable: a cancel
        stops the ones it started)."""
        started: dict[int, _Warm] = {}
        if self._context is None:
            self._context = await hold_context(())
        try:
            for shard in range(self._runner.n):
                if shard not in self._idle:
                    started[shard] = await anyio.to_thread.run_sync(self._spawn, shard, serve)
            waiting, give_up = dict(started), time.monotonic() + _READY_TIMEOUT
            while waiting:  # in short waits: a cancel is seen at once
                await anyio.to_thread.run_sync(self._wait_ready, waiting, give_up)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_stop_warm, started.values())
            raise
        self._idle.update(started)

    def claim(self) -> WarmWorkers | None:
        """These workers for one run (``None``: another run has them, or they are stopped)."""
        if self._claimed or self._stopped:
            return None
        self._claimed = True
        return self

    def release(self) -> None:
        """The run that claimed them is over."""
        self._claimed = False

    def take(self, shard: int) -> _Warm | None:
        """The idle worker of ``shard``, if there is one."""
        return self._idle.pop(shard, None)

    def give_back(self, shard: int, warm: _Warm) -> None:
        """``warm`` finished its job: idle again (or stopped, if these workers are)."""
        if self._stopped:
            _stop_warm([warm])
        else:
            self._idle[shard] = warm

    async def stop(self) -> None:
        """Stop every idle worker (a run's busy ones are stopped by the run)."""
        self._stopped = True
        idle, self._idle = list(self._idle.values()), {}
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_stop_warm, idle)
            if self._context is not None:
                self._context = None
                await anyio.to_thread.run_sync(forkserver.release)

    def _spawn(self, shard: int, main: Callable[[Connection, Connection], None]) -> _Warm:
        jobs_in, jobs_out = self._context.Pipe(duplex=False)
        results_in, results_out = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=main, args=(jobs_in, results_out), name=f"aiokit-worker-{shard}", daemon=True
        )
        try:
            with _sigint_blocked():
                process.start()
        finally:
            jobs_in.close()
            results_out.close()
        return _Warm(process, jobs_out, results_in)

    def _wait_ready(self, waiting: dict[int, _Warm], give_up: float) -> None:
        """Wait a moment for the ``waiting`` workers; drop from it the ones now ready."""
        ends: dict[Any, int] = {w.results: shard for shard, w in waiting.items()}
        ends.update({w.process.sentinel: shard for shard, w in waiting.items()})
        for end in wait(list(ends), timeout=0.1):
            shard = ends[end]
            if shard not in waiting:
                continue
            warm = waiting[shard]
            if end is warm.results:
                with contextlib.suppress(Exception):
                    if warm.results.recv() == ("ready",):
                        del waiting[shard]
                        continue
            warm.process.join(0.5)
            self._not_started(shard, warm.process.exitcode)
        if waiting and time.monotonic() > give_up:
            self._not_started(min(waiting), None)

    def _not_started(self, shard: int, code: int | None) -> None:
        raise ConfigurationError(
            f"{self._runner!r}: worker process {shard} did not start "
            + (f"within {_READY_TIMEOUT:.0f} s" if code is None else f"(exit code {code})")
            + f"; if its error above says the crawl was started again: {_MAIN_GUARD}"
        )


#: Why a worker may end before it started: it is the user's script being imported again.
_MAIN_GUARD = (
    "each worker process imports the main module again (as multiprocessing's spawn and "
    "forkserver start methods do): a script that runs a crawl with runner= must do so "
    'under `if __name__ == "__main__":`'
)


#: One finished target from a worker: the target, its records, its outcome.
Finished = tuple[Target, list[Any], Outcome[Any]]


class ProcessRun:
    """The driver's side of a run over local processes: ``async with``, then ``next()``.

    ``next()`` gives each finished target once (``None`` at the end); workers that die are
    replaced for the targets they left without an outcome.
    """

    def __init__(self, sharded: Sharded, job: CrawlJob, warm: WarmWorkers | None = None) -> None:
        self._sharded = sharded
        self._warm = None if warm is None else warm.claim()
        # The hub's STS budget, split between the workers (the spec is the driver pool's).
        spec = job.spec.split_sts(sharded.runner.workers)
        self._job = replace(job, spec=spec, units=None)
        deadline = job.limits.deadline
        self._deadline_at = None if deadline is None else time.time() + deadline
        self.summaries: list[WorkerSummary] = []
        self._context: Any = None  # held from __aenter__ to _stop()
        shard = sharded.runner.shard
        shards: dict[int, dict[Any, None]] = {}
        # Many listings: a shard's job is its targets, less the units done (given, or
        # finished before its worker died); one listing: its targets with no outcome yet.
        self._targets: dict[int, list[Target]] = {}
        if job.units is None:
            for target in job.targets:
                shards.setdefault(shard(target), {})[target] = None
        else:
            for unit in job.units:
                shards.setdefault(shard(unit[0]), {})[unit] = None
            for target in job.targets:
                self._targets.setdefault(shard(target), []).append(target)
        self._all = {s: tuple(keys) for s, keys in shards.items()}
        self._pending = shards  # per shard: what has no outcome yet
        self._restarts = dict.fromkeys(shards, 0)
        self._workers: dict[Connection, _Worker] = {}
        self._ready: list[Finished] = []

    async def __aenter__(self) -> ProcessRun:
        try:
            services = {self._job.service, *(_service_of(e) for e in self._job.listings)}
            self._context = await hold_context(s for s in services if s)
            if self._warm is not None:
                await self._warm.start()  # replaces the ones a run before could not give back
            for shard in list(self._pending):
                await anyio.to_thread.run_sync(self._start, shard)
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._stop()

    def _shard_job(self, shard: int) -> CrawlJob:
        """The job of ``shard``'s worker: what of it has no outcome yet."""
        pending = self._pending[shard]
        level = logging.getLogger().getEffectiveLevel()  # what the driver's logging wants
        if not self._job.listings:
            return replace(self._job, targets=tuple(pending), log_level=level)
        finished = [
            (t.account, t.region, name) for t, name in self._all[shard] if (t, name) not in pending
        ]
        return replace(
            self._job,
            targets=tuple(self._targets.get(shard, ())),
            done=self._job.done | frozenset(finished),
            log_level=level,
        )

    def _start(self, shard: int) -> None:
        if not self._pending[shard]:
            return
        if self._deadline_at is not None and time.time() >= self._deadline_at:
            self.summaries.append(WorkerSummary(deadline_reached=True))
            return  # its targets stay without an outcome: never visited
        job = self._shard_job(shard).deadline_from(self._deadline_at)
        warm = None
        if self._warm is not None and self._sharded.job_entry is not None:
            warm = self._warm.take(shard)
        if warm is not None:
            self._send_job(shard, warm, job)
            return
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
        except (BrokenPipeError, ConnectionResetError) as exc:  # it ended before it read it
            receive.close()
            raise self._did_not_start(
                shard, f"ended before it received its job ({type(exc).__name__})"
            ) from None
        finally:
            send.close()  # the worker's end: the driver sees EOF when the worker ends
        self._workers[receive] = _Worker(shard, process, receive)

    def _send_job(self, shard: int, warm: _Warm, job: CrawlJob) -> None:
        assert self._warm is not None
        try:
            data = pickle.dumps((self._sharded.job_entry, job), pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            self._warm.give_back(shard, warm)
            raise ConfigurationError(
                f"runner={self._sharded.runner!r}: a target or parameter cannot be sent to "
                f"a worker process ({type(exc).__name__}: {exc})"
            ) from None
        worker = _Worker(shard, warm.process, warm.results, heard=True, warm=warm)
        self._workers[warm.results] = worker
        try:
            warm.jobs.send_bytes(data)
        except OSError:
            pass  # it died: its pipe's end says so, and its targets run again

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
            if worker.warm is not None:  # idle again, its pipes open for the next run
                self._give_back(conn, worker)
                return
        elif isinstance(message, tuple) and message[0] == "error":
            if worker.warm is not None:
                self._give_back(conn, worker)
            raise message[1]  # a bug or a configuration error: the same in every worker
        elif isinstance(message, tuple) and message[0] == "log":
            logger = logging.getLogger(message[1].name)  # the driver's handlers write it
            if logger.isEnabledFor(message[1].levelno):
                logger.handle(message[1])
            return
        elif message is not None:
            _, target, records, outcome = message
            pending = self._pending[worker.shard]
            key = self._job.unit_key(outcome)
            if key in pending:  # (else a second outcome of a unit already finished)
                del pending[key]
                self._ready.append((target, records, outcome))
            return
        self._workers.pop(conn)
        conn.close()
        if worker.warm is not None:
            worker.warm.jobs.close()
        worker.process.join()
        code = worker.process.exitcode
        worker.process.close()
        if not worker.heard and code is not None and code > 0:
            # It failed before its first message (not killed by a signal): starting it
            # again fails again. Its own error went to its stderr.
            raise self._did_not_start(worker.shard, f"failed to start (exit code {code})")
        if not worker.done and self._pending[worker.shard]:
            self._restart(worker.shard)

    def _did_not_start(self, shard: int, how: str) -> ConfigurationError:
        """A worker that ended before its work began: its own error went to its stderr,
        and the likeliest cause is a script without the main guard."""
        return ConfigurationError(
            f"runner={self._sharded.runner!r}: worker process {shard} {how}; its error is "
            f"above. If it says the crawl was started again: {_MAIN_GUARD}"
        )

    def _restart(self, shard: int) -> None:
        self._restarts[shard] += 1
        if self._restarts[shard] <= MAX_RESTARTS:
            self._start(shard)
            return
        for key in self._pending.pop(shard):
            self._ready.append(self._job.died(key))

    def _give_back(self, conn: Connection, worker: _Worker) -> None:
        assert self._warm is not None and worker.warm is not None
        self._workers.pop(conn)
        self._warm.give_back(worker.shard, worker.warm)

    async def _stop(self) -> None:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_stop_all, list(self._workers.values()))
            if self._context is not None:  # every worker of this run is joined
                self._context = None
                await anyio.to_thread.run_sync(forkserver.release)
        self._workers.clear()
        if self._warm is not None:
            self._warm.release()
            self._warm = None


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


async def hold_context(services: Iterable[str]) -> Any:
    """The multiprocessing context to start workers with (the fork server's, loaded with
    ``services``' models, or spawn's), held until :func:`forkserver.release`: the caller
    releases it. Not cancellable while it starts the server (a cancel comes after)."""
    wanted = list(services)

    def acquire() -> Any:
        with _sigint_blocked():  # the server, and so its workers, start with SIGINT blocked
            return forkserver.acquire(wanted)

    with anyio.CancelScope(shield=True):
        context = await anyio.to_thread.run_sync(acquire)
    return context


def _service_of(entry: Any) -> str:
    """A many-listing job's entry's service (a ``Listing``, or a ``ResourceType``'s)."""
    return str(getattr(getattr(entry, "listing", entry), "service", "") or "")


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


def follow_parent() -> None:
    """In a worker process's main thread: ignore SIGINT, and exit when the parent ends."""
    parent = multiprocessing.parent_process()
    if parent is None or threading.current_thread() is not threading.main_thread():
        return  # not a process of its own (e.g. a Dask worker's thread)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):  # held back since the start (runners._sigint_blocked)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    def watch() -> None:
        parent.join()  # waits on the parent's sentinel: ready once the parent has exited
        os._exit(1)  # an orphan: nobody reads its results

    threading.Thread(target=watch, name="aiokit-parent-watch", daemon=True).start()


def serve(jobs: Connection, conn: Connection) -> None:
    """A warm worker process's main: say it is ready, then run each ``(entry, job)`` it is
    sent (``entry(job, conn)``, the pool's side: ``Sharded.job_entry``) until its jobs pipe
    ends. It holds aiokit imported between jobs: what a fresh worker pays for again."""
    follow_parent()
    try:
        conn.send(("ready",))
        while True:
            try:
                entry, job = jobs.recv()
            except (EOFError, OSError):
                return  # the driver is done with it
            entry(job, conn)
    except (BrokenPipeError, EOFError):
        return  # the driver left without reading: nobody to tell
    finally:
        conn.close()
        jobs.close()


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
        if worker.warm is not None:
            worker.warm.jobs.close()
        worker.process.close()


def _stop_warm(warm: Iterable[_Warm]) -> None:
    """Stop idle warm workers: the end of their jobs pipe first (they exit on it), then
    as :func:`_stop_all` does for the ones that do not."""
    warm = list(warm)
    for w in warm:
        w.jobs.close()
    for w in warm:
        w.process.join(_GRACE)
    for w in warm:
        if w.process.is_alive():
            w.process.kill()
            w.process.join()
        w.results.close()
        w.process.close()


def _alive(workers: Iterable[_Worker]) -> Iterator[_Worker]:
    return (w for w in workers if w.process.is_alive())
