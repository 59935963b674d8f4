"""A crawl of many listings: (target, listing) units, interleaved, each with its outcome.

::

    async with pool.crawl([ec2_instances, s3_buckets, iam_roles], targets) as crawl:
        async for item in crawl:
            print(item.listing.name, item.account, item.region, item.data)

Each unit is one listing in one target, run through the crawl's fan-out as one target is in
a one-listing crawl: its own limiters (account, region and, with ``per_service``, service),
its own :class:`~aiokit.Outcome` (``listing=`` set), its own failure. A global listing
(:attr:`~aiokit.Listing.is_global`: IAM, S3 ``ListBuckets``...) is one unit per account, not
per region: its requests go to the account's first target's region (a region of the right
partition, which the global endpoint answers from), its items and outcome are tagged with
``region=None``, which is what ``Target`` already means by "global".
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import AsyncIterable, Callable, Collection, Iterable, Iterator, Sequence
from typing import Any

import anyio

from .._exceptions import AiokitError, ConfigurationError, UsageError
from .._optional import import_extra
from .._protocols import Requester
from .crawl import Crawl, Item, Report, _as_row
from .fanout import Context, FanOut, Unit, checked_target
from .limits import DEFAULT_LIMITS, FanOutLimits
from .listings import Listing
from .outcomes import Outcome, Progress
from .runners import CrawlJob, Sharded
from .targets import Target

__all__ = ["Done", "ManyCrawl", "interleaved_units", "is_listings"]

#: What ``done=`` holds: ``(account, region, listing name)``, region ``None`` for global.
Done = tuple[str | None, str | None, str]


def is_listings(value: object) -> bool:
    """Whether ``value`` is a list of listings (the first argument of a many-listing crawl)."""
    # Any list or tuple: a service name is a string, so ``[]`` or ``[1]`` is a list of
    # listings gone wrong, said so by ManyCrawl rather than as an unknown service.
    return isinstance(value, list | tuple)


class _Units(Collection[Unit]):
    """The units, known when the crawl starts (the listings are checked first)."""

    def __init__(self) -> None:
        self.units: list[Unit] = []

    def __iter__(self) -> Iterator[Unit]:
        return iter(self.units)

    def __len__(self) -> int:
        return len(self.units)

    def __contains__(self, value: object) -> bool:
        return value in self.units


def interleaved_units(
    listings: Sequence[Listing], targets: Sequence[Target], is_global: Callable[[Listing], bool]
) -> list[Unit]:
    """Every (target, listing) unit, ordered so that neighbours differ in scope.

    Targets are first dealt round-robin by account (so consecutive targets are in different
    accounts); each listing's units start at a different point of that ring; then the
    listings are taken in turn. Units of one service, account or region are thus spread
    over the run instead of queueing behind one limiter (or one throttling bucket).
    """
    by_account: dict[tuple[str | None, str], list[Target]] = {}
    for target in targets:
        by_account.setdefault((target.account, target.partition), []).append(target)
    ring: list[Target] = []
    columns = list(by_account.values())
    for i in range(max((len(c) for c in columns), default=0)):
        ring.extend(c[i] for c in columns if i < len(c))
    per_listing: list[list[Unit]] = []
    for j, listing in enumerate(listings):
        if is_global(listing):
            units = [Unit(dataclasses.replace(c[0], region=None), listing, c[0]) for c in columns]
        else:
            units = [Unit(t, listing, t) for t in ring]
        if units:
            shift = j % len(units)
            units = units[shift:] + units[:shift]
        per_listing.append(units)
    order: list[Unit] = []
    for i in range(max((len(u) for u in per_listing), default=0)):
        order.extend(u[i] for u in per_listing if i < len(u))
    return order


def _checked_done(done: object) -> frozenset[Done]:
    if done is None:
        return frozenset()
    if isinstance(done, str | bytes) or not isinstance(done, Iterable):
        raise ConfigurationError(
            f"done must be a set of (account, region, listing name), not {type(done).__name__}"
        )
    cells: set[Done] = set()
    for cell in done:
        if (
            not isinstance(cell, tuple)
            or len(cell) != 3
            or not isinstance(cell[2], str)
            or not all(v is None or isinstance(v, str) for v in cell[:2])
        ):
            raise ConfigurationError(
                f"done must hold (account, region, listing name) tuples of strings (region "
                f"None for a global listing), not {cell!r}"
            )
        cells.add(cell)
    return frozenset(cells)


class ManyCrawl(Crawl):
    """A crawl of many listings; see ``SessionPool.crawl``. Use as ``async with``.

    Args:
        requester: what the units' requests go through (the pool).
        listings: :class:`~aiokit.Listing` or
            :class:`~aiokit.inventory.ResourceType` entries (a resource type's items are
            the records its ``records`` JMESPath selects in each page).
        targets: targets, or an async iterator of them.
        done: ``(account, region, listing name)`` units to skip (a resume; region
            ``None`` for a global listing): they get no request and no outcome.
        limits, progress, on_outcome, gc_threshold, sharded: as for :class:`Crawl`
            (``sharded``: local worker processes, each running its accounts' units).

    Raises:
        ConfigurationError: an entry that is not a listing, two different entries of one
            name, or a malformed ``done``.
    """

    def __init__(
        self,
        requester: Requester,
        listings: Sequence[Any],
        targets: Iterable[Target] | AsyncIterable[Target],
        *,
        done: Collection[Done] | None = None,
        limits: FanOutLimits = DEFAULT_LIMITS,
        progress: Callable[[Progress], None] | None = None,
        on_outcome: Callable[[Outcome[int]], None] | None = None,
        gc_threshold: int | None = None,
        sharded: Sharded | None = None,
    ) -> None:
        from ..inventory._catalogue import ResourceType

        if not isinstance(listings, list | tuple) or not listings:
            raise ConfigurationError(
                "listings must be a non-empty list of aiokit.Listing or ResourceType"
            )
        by_name: dict[str, tuple[Listing, str | None]] = {}
        for entry in listings:
            if isinstance(entry, ResourceType):
                listing, records = entry.listing, entry.records
            elif isinstance(entry, Listing):
                listing, records = entry, None
            else:
                raise ConfigurationError(
                    f"listings must hold aiokit.Listing or ResourceType objects, not "
                    f"{type(entry).__name__} {entry!r}"
                )
            seen = by_name.setdefault(listing.name, (listing, records))
            if seen != (listing, records):
                # The name keys items, outcomes, tables and resume: two meanings, one name.
                raise ConfigurationError(
                    f"two different listings are both named {listing.name!r}: give one a "
                    "name= of its own"
                )
        self._listings = [listing for listing, _ in by_name.values()]
        self._entries = tuple(dict.fromkeys(listings))  # what a worker process is sent
        self._by_name = {listing.name: listing for listing in self._listings}
        self._records = {listing: records for listing, records in by_name.values()}
        self._done = _checked_done(done)
        self._on_outcome = on_outcome
        if on_outcome is not None and not callable(on_outcome):
            raise ConfigurationError("on_outcome must be callable or None")
        self._sharded = sharded
        self._limits = limits
        self._targets = targets
        self.report = Report()
        self._units = _Units()
        if not isinstance(targets, AsyncIterable):
            from .fanout import check_targets

            check_targets("targets", targets)
            self._given_targets: list[Target] | None = list(
                dict.fromkeys(checked_target(t) for t in targets)
            )
        else:
            self._given_targets = None
        self._fan_out: FanOut[int] = FanOut(
            requester,
            self._work,
            self._units,  # type: ignore[arg-type]  # units: FanOut's internal mode
            limits,
            progress=progress,
            gc_threshold=gc_threshold,
            count_items=lambda _: 0,  # counted item by item as they are sent
        )
        names = ", ".join(listing.name for listing in self._listings[:3])
        more = f" and {len(self._listings) - 3} more" if len(self._listings) > 3 else ""
        self._fan_out.label = f"crawl of {names}{more}"  # what its log records say
        self._send = None
        self._receive = None
        self._running = None
        self._buffer = limits.concurrency * 16
        self._pending = {}
        self._given = None

    async def _work(self, ctx: Context) -> int:
        unit = ctx.unit
        assert unit is not None
        listing = unit.listing
        pager = ctx.paginate(listing.service, listing.operation, **listing.request_params())
        records = self._records[listing]
        found = pager.items(listing.key) if records is None else pager.search(records)
        n = 0
        async for record in found:
            await self._send_item(Item(unit.target, record, listing))
            n += 1
        return n

    async def _relay_sharded(self, sharded: Sharded) -> None:
        """Each worker's finished units: their items, then their outcome, as in-process."""
        assert self._send is not None
        targets = self._given_targets or list(dict.fromkeys(u.via for u in self._units.units))
        fan_out = self._fan_out
        fan_out._trace_start(len(self._units.units))  # the driver's span (aiokit.otel)
        job = CrawlJob(
            sharded.spec,
            "",
            "",
            {},
            None,
            self._limits,
            tuple(targets),
            listings=self._entries,
            done=self._done,
            units=tuple((u.target, u.listing.name) for u in self._units.units),
            trace_context=fan_out.trace_context(),
        )
        await self._relay_job(sharded, job)

    def _received_outcome(self, outcome: Outcome[int]) -> Outcome[int]:
        """A worker's outcome, with this crawl's own listing object (the item's too)."""
        assert outcome.listing is not None
        return dataclasses.replace(outcome, listing=self._by_name[outcome.listing.name])

    def _plan(self, targets: list[Target]) -> list[Unit]:
        """Check every listing (blocking: botocore's models), then order the units."""
        with self._reading_models():
            self._check_listings()
            units = interleaved_units(self._listings, targets, lambda x: x.is_global)
        return [
            u
            for u in units
            if (u.target.account, u.target.region, u.listing.name) not in self._done
        ]

    def _check_listings(self) -> None:
        for listing in self._listings:
            try:
                listing.checked()
            except AiokitError as exc:
                # The same error, its attributes kept, its message naming the listing.
                first = exc.args[0] if exc.args else ""
                exc.args = (f"listing {listing.name!r}: {first}", *exc.args[1:])
                raise

    async def __aenter__(self) -> ManyCrawl:
        if self._running is not None:
            raise UsageError("a crawl runs once; make a new one with pool.crawl(...)")
        targets = self._given_targets
        if targets is None:
            assert isinstance(self._targets, AsyncIterable)
            targets = list(dict.fromkeys([checked_target(t) async for t in self._targets]))
        self._units.units = await anyio.to_thread.run_sync(self._plan, targets)
        self._given = len(self._units)
        from .streams import running

        self._running = running(self._drive, self._buffer)
        self._receive = await self._running.__aenter__()
        return self

    async def to_pandas(self) -> Any:
        """Run to the end; one DataFrame per listing name, with ``account`` and ``region``.

        Every listing of the crawl has its entry, empty when it found nothing.

        Raises:
            MissingDependencyError: pandas is not installed (checked before the crawl runs).
        """
        pd: Any = await anyio.to_thread.run_sync(
            import_extra, "pandas", "pandas", "Crawl.to_pandas()"
        )
        items, _ = await self.collect()
        rows: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        for i in items:
            assert i.listing is not None
            rows[i.listing.name].append(
                {"account": i.account, "region": i.region, **_as_row(i.data)}
            )
        return {
            listing.name: pd.DataFrame(rows[listing.name], columns=None)
            if rows[listing.name]
            else pd.DataFrame(columns=["account", "region"])
            for listing in self._listings
        }
