"""``crawl``: the built-in fan-out of one paginated operation, and its ``Report``.

::

    async with pool.crawl("sqs", "list_queues", targets) as crawl:
        async for item in crawl:
            print(item.account, item.region, item.data)
    print(crawl.report)

Each target's pages are flattened into :class:`Item` records tagged with the target, streamed
through a bounded buffer (a slow consumer slows the crawl; memory stays bounded). The
:class:`Report` counts outcomes by status and keeps the skipped and failed ones, not the ok
ones, so it stays small however many targets there are.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Collection, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .. import _validate
from .._botocore.loaders import models_let_go
from .._dynamodb import check_plain
from .._exceptions import InvalidParameterError, UnknownOperationError, UsageError
from .._optional import import_extra
from .._paginate import check_listing
from .._protocols import Requester
from .display import html_table
from .fanout import Context, FanOut, checked_target
from .limits import DEFAULT_LIMITS, FanOutLimits
from .listings import Listing
from .outcomes import FanOutStatistics, Outcome, Progress, Status
from .runners import CrawlJob, Sharded
from .streams import Drain, running, send_soon
from .targets import Target

__all__ = ["Crawl", "Item", "Report"]


@dataclass(frozen=True, slots=True)
class Item:
    """One record of a crawl, tagged with where it came from.

    Attributes:
        target: the target it was listed in.
        data: the record.
        listing: the :class:`~aiokit.Listing` that listed it, in a crawl of many listings;
            ``None`` otherwise.
    """

    target: Target
    data: Any
    listing: Listing | None = None

    @property
    def account(self) -> str | None:
        """The target's account."""
        return self.target.account

    @property
    def region(self) -> str | None:
        """The target's region."""
        return self.target.region


@dataclass(slots=True)
class Report:
    """The outcomes of a fan-out: counts by status and reason, and the non-ok outcomes.

    Attributes:
        counts: outcomes by status (``{"ok": 10, "skipped": 2, "failed": 0}``).
        reasons: skipped and failed outcomes by reason.
        problems: the skipped and failed outcomes themselves.
        items: items the crawl yielded, each counted once as it is sent: those of a
            target the deadline or its timeout interrupted mid-listing included (after
            ``collect()``, ``items == len(items)``).
        never_visited: targets given but left without an outcome because the deadline
            passed or the crawl was stopped (known when the targets were a list; a resume
            runs them).
    """

    counts: collections.Counter[str] = field(default_factory=collections.Counter)
    reasons: collections.Counter[str] = field(default_factory=collections.Counter)
    problems: list[Outcome[Any]] = field(default_factory=list)
    items: int = 0
    never_visited: int = 0

    def add(self, outcome: Outcome[Any]) -> None:
        """Count one outcome."""
        self.counts[outcome.status.value] += 1
        if outcome.status is not Status.OK:
            self.reasons[outcome.reason or "unknown"] += 1
            self.problems.append(outcome)

    @property
    def targets(self) -> int:
        """Outcomes counted."""
        return sum(self.counts.values())

    @property
    def failed(self) -> list[Outcome[Any]]:
        """The failed outcomes (not the skipped ones)."""
        return [o for o in self.problems if o.status is Status.FAILED]

    def errors(self) -> list[dict[str, Any]]:
        """One row per skipped or failed target: account, region, status, reason, error."""
        return [
            {
                "account": o.target.account,
                "region": o.target.region,
                "status": o.status.value,
                "reason": o.reason,
                "error": str(o.error) if o.error is not None else None,
            }
            for o in self.problems
        ]

    def to_pandas(self) -> Any:
        """The :meth:`errors` table as a pandas DataFrame (needs ``pandas``).

        Raises:
            MissingDependencyError: pandas is not installed.
        """
        pd: Any = import_extra("pandas", "pandas", "Report.to_pandas()")

        return pd.DataFrame(
            self.errors(), columns=["account", "region", "status", "reason", "error"]
        )

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={self.counts.get(k, 0)}" for k in ("ok", "skipped", "failed"))
        if self.never_visited:
            counts += f", never_visited={self.never_visited}"
        return f"aiokit.Report(targets={self.targets}, {counts}, items={self.items})"

    def _repr_html_(self) -> str:
        """Jupyter's view: the counts, then skipped and failed targets by reason."""
        statuses = ("ok", "skipped", "failed")
        summary = html_table(
            ("targets", *statuses, "never visited", "items"),
            [
                (
                    self.targets,
                    *(self.counts.get(k, 0) for k in statuses),
                    self.never_visited,
                    self.items,
                )
            ],
            caption="aiokit.Report",
        )
        if not self.problems:
            return summary
        by_reason: collections.Counter[tuple[str, str]] = collections.Counter(
            (o.status.value, o.reason or "unknown") for o in self.problems
        )
        reasons = html_table(
            ("status", "reason", "targets"),
            [(status, reason, n) for (status, reason), n in sorted(by_reason.items())],
        )
        return summary + reasons


class Crawl:
    """A running crawl; see ``SessionPool.crawl``. Use as ``async with ... as crawl``.

    Args:
        requester: what the targets' requests go through (the pool).
        service, operation: what to paginate.
        targets: targets, or an async iterator of them.
        params: the operation's parameters.
        key: which result key to flatten (see ``Paginator.items``).
        limits: the bounds and times (:class:`~aiokit._fleet.limits.FanOutLimits`).
        progress: called after each target with a :class:`Progress`.
        on_outcome: called with each target's :class:`Outcome` as it comes.
        gc_threshold: as for :class:`FanOut`.
        sharded: run the targets in worker processes (``runner=``; see
            :mod:`aiokit._fleet.runners`); ``None``: in this process.
        plain: DynamoDB ``query`` / ``scan`` items as plain Python values (see
            ``SessionPool.paginate``).
    """

    def __init__(
        self,
        requester: Requester,
        service: str,
        operation: str,
        targets: Iterable[Target] | AsyncIterable[Target],
        params: dict[str, Any],
        *,
        key: str | None = None,
        limits: FanOutLimits = DEFAULT_LIMITS,
        progress: Callable[[Progress], None] | None = None,
        on_outcome: Callable[[Outcome[int]], None] | None = None,
        gc_threshold: int | None = None,
        sharded: Sharded | None = None,
        plain: bool = False,
    ) -> None:
        # The cheap checks now, at the call; the ones that need the service's models when
        # the crawl starts (``check_listing``), once for all targets and before any request.
        _validate.service(service)
        _validate.text("operation", operation, error=UnknownOperationError)
        _validate.text("key", key, optional=True, error=InvalidParameterError)
        _validate.callable_or_none("on_outcome", on_outcome)
        if not isinstance(params, dict):
            raise InvalidParameterError(f"{service} {operation}: parameters must be a dict")
        _validate.pagination_config(service, operation, params.get("PaginationConfig"))
        self._plain = check_plain(service, operation, plain)
        self._service = service
        self._operation = operation
        self._params = params
        self._key = key
        self._on_outcome = on_outcome
        self._sharded = sharded
        self._limits = limits
        self._targets = targets
        self.report = Report()
        self._fan_out: FanOut[int] = FanOut(
            requester,
            self._work,
            targets,
            limits,
            progress=progress,
            gc_threshold=gc_threshold,
            count_items=_no_items,  # counted item by item as they are sent (``_send_item``)
        )
        self._fan_out.label = f"crawl {service} {operation}"
        self._fan_out.span_items = _target_items  # a target's value is its item count
        self._send: MemoryObjectSendStream[Item | Outcome[int]] | None = None
        self._receive: MemoryObjectReceiveStream[Item | Outcome[int]] | None = None
        self._running: AbstractAsyncContextManager[Any] | None = None
        self._buffer = limits.concurrency * 16
        self._pending: dict[int, Item] = {}  # sent into a full buffer, not yet counted
        # Distinct targets: one given twice is visited once (FanOut), so it is not owed twice.
        # Each checked now (a dict or list in the list is named, not "unhashable type").
        given = targets if isinstance(targets, Collection) else None
        self._given = None if given is None else len({checked_target(t) for t in given})

    async def _work(self, ctx: Context) -> int:
        assert self._send is not None
        pager = ctx.paginate(self._service, self._operation, plain=self._plain, **self._params)
        n = 0
        async for record in pager.items(self._key):
            await self._send_item(Item(ctx.target, record))
            n += 1
        return n

    async def _send_item(self, item: Item) -> None:
        """Send ``item`` and count it once in the report and the statistics.

        Counted as it is sent, not from its target's outcome: the items of a target that
        then timed out, failed or was stopped by the deadline were yielded all the same.
        An item sent into a full buffer is counted by whichever side sees it delivered
        first: this one when ``send`` returns, or the consumer when it takes it (a send
        cancelled after its item was taken raises, yet the item was delivered).
        """
        assert self._send is not None
        try:
            self._send.send_nowait(item)
        except anyio.WouldBlock:
            self._pending[id(item)] = item
            await self._send.send(item)  # cancelled: left pending, for the consumer
            if self._pending.pop(id(item), None) is None:
                return  # the consumer took it and counted it
        self._count_item()

    def _count_item(self) -> None:
        self.report.items += 1
        self._fan_out._count_item()

    def _received(self, event: Item | Outcome[int]) -> Item | Outcome[int]:
        if self._pending and self._pending.pop(id(event), None) is not None:
            self._count_item()
        return event

    async def _drive(self, send: MemoryObjectSendStream[Item | Outcome[int]]) -> None:
        self._send = send
        try:
            await self._relay()
        finally:
            # Also when the consumer stopped the crawl (``break``, an error, a cancel):
            # what was given and got no outcome is owed, and the report says so.
            if self._given is not None:
                self.report.never_visited = self._given - self.report.targets

    async def _relay(self) -> None:
        assert self._send is not None
        if self._sharded is not None:
            await self._relay_sharded(self._sharded)
            return
        async with self._send, self._fan_out as outcomes:
            async for outcome in outcomes:
                self.report.add(outcome)
                if self._on_outcome is not None:
                    _validate.hook_result("on_outcome", self._on_outcome(outcome))
                # After the target's items in the same stream: a consumer of events() sees
                # a target's outcome only once it has seen all of its items.
                await send_soon(self._send, outcome)

    async def _relay_sharded(self, sharded: Sharded) -> None:
        """Each worker's finished targets: their items, then their outcome, as in-process."""
        assert self._send is not None
        targets = self._targets
        if isinstance(targets, AsyncIterable):
            targets = [t async for t in targets]
        given = tuple(dict.fromkeys(checked_target(t) for t in targets))
        fan_out = self._fan_out
        fan_out._trace_start(len(given))  # the driver's span of the crawl (aiokit.otel)
        job = CrawlJob(
            sharded.spec,
            self._service,
            self._operation,
            self._params,
            self._key,
            self._limits,
            given,
            plain=self._plain,
            trace_context=fan_out.trace_context(),
        )
        await self._relay_job(sharded, job)

    async def _relay_job(self, sharded: Sharded, job: CrawlJob) -> None:
        """Run ``job`` with ``sharded``'s runner: each finished target's (or unit's) items,
        then its outcome, as in-process; the driver's span ended however it ends."""
        assert self._send is not None
        fan_out = self._fan_out
        error: BaseException | None = None
        # The fan-out (which raises the collector's threshold, if asked) runs in the
        # workers; the driver, unpickling every item, raises it here as it would.
        try:
            with fan_out._collector:
                async with self._send, sharded.runner.run(sharded, job) as run:
                    while (finished := await run.next()) is not None:
                        target, records, outcome = finished
                        outcome = self._received_outcome(outcome)
                        for record in records:
                            await self._send_item(Item(target, record, outcome.listing))
                        self._outcome(outcome)
                        await send_soon(self._send, outcome)
                    fan_out._record_summaries(run.summaries)
        except BaseException as exc:
            error = exc
            raise
        finally:
            fan_out._trace_end(error)

    def _received_outcome(self, outcome: Outcome[int]) -> Outcome[int]:
        """A worker's outcome as this crawl yields it (a crawl of many listings puts its
        own listing object back)."""
        return outcome

    def _outcome(self, outcome: Outcome[int]) -> None:
        """Count a worker's outcome in the statistics (and progress), then in the report."""
        self._fan_out._record_elsewhere(outcome)
        self.report.add(outcome)
        if self._on_outcome is not None:
            _validate.hook_result("on_outcome", self._on_outcome(outcome))

    def _reading_models(self) -> contextlib.AbstractContextManager[None]:
        """Where this crawl's checks read the services' models: with workers, a loader let
        go after the check (this process then only relays their items: issue 16, memory);
        else the process's shared one, which its own requests read again."""
        return models_let_go() if self._sharded is not None else contextlib.nullcontext()

    def _checked(self) -> str:
        """``check_listing`` (blocking), on :meth:`_reading_models`."""
        with self._reading_models():
            return check_listing(
                self._service, self._operation, self._params, self._key, self._plain
            )

    async def __aenter__(self) -> Crawl:
        if self._running is not None:
            raise UsageError("a crawl runs once; make a new one with pool.crawl(...)")
        # A bad operation, parameter or key is the same mistake for every target: say so
        # once, here, rather than let each target fail with it.
        self._operation = await anyio.to_thread.run_sync(self._checked)
        self._running = running(self._drive, self._buffer)
        self._receive = await self._running.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        assert self._running is not None
        result: bool | None = await self._running.__aexit__(*exc_info)
        return result

    def __aiter__(self) -> AsyncIterator[Item]:
        return self._items()

    async def _items(self) -> AsyncIterator[Item]:
        async for event in self.events():
            if isinstance(event, Item):
                yield event

    def events(self) -> AsyncIterator[Item | Outcome[int]]:
        """Items and outcomes in order: each target's outcome comes after all its items."""
        if self._receive is None:
            raise UsageError("use `async with pool.crawl(...) as crawl: async for i in crawl`")
        return _Received(Drain(self._receive), self)

    def statistics(self) -> FanOutStatistics:
        """The underlying fan-out's :class:`FanOutStatistics`."""
        return self._fan_out.statistics()

    @property
    def worker_statistics(self) -> list[Any]:
        """The workers' pool statistics (``runner=``; one per worker run); empty here."""
        return self._fan_out.worker_statistics

    async def collect(self) -> tuple[list[Item], Report]:
        """Run to the end; every item (all in memory) and the report."""
        async with self:
            items = [item async for item in self]
        return items, self.report

    async def to_pandas(self) -> Any:
        """Run to the end; one DataFrame row per item, with ``account`` and ``region``.

        Raises:
            MissingDependencyError: pandas is not installed (checked before the crawl runs).
        """
        # Imported in a thread: loading pandas reads many files.
        pd: Any = await anyio.to_thread.run_sync(
            import_extra, "pandas", "pandas", "Crawl.to_pandas()"
        )

        items, _ = await self.collect()
        rows = [{"account": i.account, "region": i.region, **_as_row(i.data)} for i in items]
        return pd.DataFrame(rows)


def _target_items(n: int) -> int:
    return n


def _no_items(_: int) -> int:
    return 0


class _Received(AsyncIterator["Item | Outcome[int]"]):
    """The crawl's events, each shown to the crawl as the consumer takes it (``_received``)."""

    def __init__(self, events: AsyncIterator[Item | Outcome[int]], crawl: Crawl) -> None:
        self._events = events
        self._crawl = crawl

    async def __anext__(self) -> Item | Outcome[int]:
        return self._crawl._received(await self._events.__anext__())


def _as_row(data: Any) -> dict[str, Any]:
    return dict(data) if isinstance(data, dict) else {"value": data}
