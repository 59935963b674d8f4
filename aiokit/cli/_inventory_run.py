"""``aiokit inventory`` (and the demo's inventories): resource types x targets, in one crawl
of many listings, into an :class:`~aiokit.inventory.InventoryStore`, with a progress bar,
a summary table by resource type, the outcome table and the exit code the outcomes call for.

Resumable: the store's run says which (account, region, resource type) units are done; a
resumed run visits only the others (``done=``), so an interrupted inventory finished by
``--resume`` holds every resource exactly once.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import anyio
import anyio.lowlevel
from rich.markup import escape
from rich.table import Table
from rich.text import Text

import aiokit

from .._fleet.crawl import Item, Report
from .._fleet.many import interleaved_units
from .._fleet.runners import Runner
from ..inventory import InventoryRun, InventoryStore, ResourceType
from ..inventory._store import stored
from ._console import EXIT_FAILED, EXIT_UNFINISHED, Failure, err
from ._crawl import CrawlState, _Bar, outcome_table, summary_line

__all__ = ["InventoryState", "finish_inventory", "run_inventory", "summarise_inventory"]

TITLE = "inventory"


@dataclass
class InventoryState(CrawlState):
    """A crawl's state (see ``CrawlState``), plus items and outcomes per resource type."""

    per_type: dict[str, collections.Counter[str]] = field(default_factory=dict)
    run_id: int | None = None

    def count(self, name: str, what: str) -> None:
        self.per_type.setdefault(name, collections.Counter())[what] += 1


def units_of(
    types: Sequence[ResourceType], targets: Sequence[aiokit.Target]
) -> tuple[tuple[str | None, str | None], ...]:
    """The (account, region) pairs an inventory run records: the regional targets', then
    one ``(account, None)`` per account (the global resource types' units)."""
    pairs: list[tuple[str | None, str | None]] = [(t.account, t.region) for t in targets]
    pairs += [(a, None) for a in dict.fromkeys(t.account for t in targets)]
    return tuple(dict.fromkeys(pairs))


async def run_inventory(
    pool: aiokit.SessionPool,
    types: Sequence[ResourceType],
    targets: list[aiokit.Target],
    store: InventoryStore,
    *,
    resume: bool = False,
    concurrency: int = 64,
    deadline: float | None = None,
    show_progress: bool = False,
    state: InventoryState | None = None,
    runner: Runner | None = None,
) -> Report:
    """One inventory run of ``types`` in ``targets`` into ``store``; its report.

    With ``resume``, continues the store's unfinished run of the same types and targets
    (only its units without an ok or skipped outcome run). The run is marked finished (a
    snapshot ``inventory diff`` compares) when every unit has an outcome, failed ones too:
    a failed unit's resources are "unknown" in a diff, never "removed". ``runner``: where
    the units run (``aiokit.Processes(n)``: worker processes, sharded by account).
    """
    state = state if state is not None else InventoryState()
    names = tuple(t.name for t in types)
    done = await store.begin(InventoryRun(names, units_of(types, targets)), resume=resume)
    state.run_id = store.run.run_id if store.run is not None else None
    every = interleaved_units([t.listing for t in types], targets, lambda li: li.is_global)
    todo = [u for u in every if (u.target.account, u.target.region, u.listing.name) not in done]
    state.todo, state.already_done = len(todo), len(every) - len(todo)
    if not todo or not targets:
        await store.finish()
        return state.settle()  # nothing left to visit: no request
    bar = _Bar(show_progress, TITLE, len(todo), unit="units")
    try:
        crawl = pool.crawl(
            list(types),
            targets,
            concurrency=concurrency,
            deadline=deadline,
            progress=bar.progress,
            done=done,
            runner=runner,
        )
        state.report = crawl.report
        async with crawl:
            async for event in crawl.events():
                name = event.listing.name if event.listing is not None else "?"
                if isinstance(event, Item):
                    state.written += 1
                    state.count(name, "items")
                    if state.written % 50 == 0:
                        bar.items(state.written)
                else:
                    state.count(name, event.status.value)
                await store.write(event)
        # A Ctrl-C may cancel the crawl's producer, whose stream then simply ends (what it
        # had sent is drained without a checkpoint): the cancellation is raised here,
        # before the run could be marked finished or taken for a --deadline (exit 3).
        await anyio.lowlevel.checkpoint()
        bar.items(state.written)
        report = state.settle()
        if not report.never_visited:
            await store.finish()
    finally:
        bar.stop()
    return report


def type_table(state: InventoryState, types: Sequence[ResourceType]) -> Table:
    """Items and units (ok, skipped, failed) per resource type, in the order asked."""
    table = Table(title=f"{TITLE} by resource type", title_justify="left")
    for column in ("resource type", "items", "ok", "skipped", "failed"):
        table.add_column(column, justify="left" if column == "resource type" else "right")
    for rtype in types:
        counts = state.per_type.get(rtype.name, collections.Counter())
        style = "red" if counts["failed"] else None
        table.add_row(
            Text(rtype.name),
            *(str(counts[c]) for c in ("items", "ok", "skipped", "failed")),
            style=style,
        )
    return table


def summarise_inventory(
    report: Report, state: InventoryState, types: Sequence[ResourceType], path: str
) -> None:
    """The tables (by resource type, by outcome) and the one-line summary, on stderr."""
    err.print(type_table(state, types))
    err.print(outcome_table(report, f"{TITLE} outcomes (units: resource type x target)"))
    line = summary_line(report).replace(" targets:", " units:", 1)
    if state.already_done:
        line += f" ({state.already_done} done by an earlier run, not visited again)"
    err.print(line, highlight=False)
    if state.run_id is not None:
        err.print(f"run {state.run_id} in {path}", highlight=False)


def finish_inventory(
    report: Report, state: InventoryState, types: Sequence[ResourceType], path: str
) -> None:
    """Sum up; the failed units one line each; ``Failure`` with the exit code that fits."""
    summarise_inventory(report, state, types, path)
    for o in report.failed:
        account, region = stored(o.target.account, o.target.region)
        name = o.listing.name if o.listing is not None else "?"
        err.print(
            f"[red]failed[/] {escape(name)} {account} {region}: {escape(f'{o.reason}: {o.error}')}",
            highlight=False,
        )
    if report.never_visited:
        err.print(
            f"[yellow]stopped by --deadline: {report.never_visited} units never visited[/]"
            " (--resume runs them)",
            highlight=False,
        )
        raise Failure(EXIT_UNFINISHED)
    if report.failed:
        raise Failure(EXIT_FAILED)


async def open_store(
    path: str, catalogue: Mapping[str, ResourceType], resume: bool
) -> InventoryStore:
    """The inventory at ``path``, opened (created or checked) before any request."""
    store = InventoryStore(path, catalogue)
    try:
        await store.open(resume=resume)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await store.aclose()
        raise
    return store
