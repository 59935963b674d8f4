"""``aiokit crawl`` and the demo's crawls: targets -> sink, with a progress bar, a summary
table and the exit code the outcomes call for."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio.lowlevel
import click
import jmespath
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

import aiokit

from .._fleet.crawl import Item, Report
from .._fleet.runners import Runner
from .._gc import DEFAULT_GC_THRESHOLD
from .._sinks import Run, Sink, _row, open_sink, output_format
from .._workers import WorkerError
from ._console import EXIT_FAILED, EXIT_UNFINISHED, Failure, check_stdout, err
from ._json import text
from ._output import OUTPUTS, Records, choose
from ._runners import RunnerChoice, describe

__all__ = [
    "CRAWL_GC_THRESHOLD",
    "CRAWL_OUTPUTS",
    "CrawlState",
    "compile_query",
    "finish",
    "item_printer",
    "open_output",
    "outcome_table",
    "plan_output",
    "run_crawl",
    "search",
    "summarise",
    "summary_line",
]

# A crawl (the demo's too) makes many short-lived objects: the command raises Python's GC
# threshold while it runs. The library leaves the process's collector alone by default; this
# is the command's choice, not the pool's.
CRAWL_GC_THRESHOLD = DEFAULT_GC_THRESHOLD


def _progress_bar(enabled: bool, unit: str = "targets", items: bool = True) -> Progress | None:
    if not enabled:
        return None
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn(f"{{task.completed}}/{{task.total}} {unit}"),
        TextColumn("{task.fields[in_flight]} in flight, {task.fields[failed]} failed"),
        *([TextColumn("{task.fields[items]} items")] if items else []),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


def outcome_table(report: Report, title: str) -> Table:
    """The summary of a crawl's outcomes: ok, skipped and failed by reason, never visited."""
    table = Table(title=title, title_justify="left")
    table.add_column("status")
    table.add_column("reason")
    table.add_column("targets", justify="right")
    table.add_row("ok", "", str(report.counts.get("ok", 0)))
    by_status: dict[tuple[str, str], int] = {}
    for o in report.problems:
        key = (o.status.value, o.reason or "")
        by_status[key] = by_status.get(key, 0) + 1
    # skipped rows first, then failed ones
    rows = sorted(by_status.items(), key=lambda kv: (kv[0][0] != "skipped", kv[0]))
    for (status, reason), n in rows:
        table.add_row(status, reason, str(n))
    if report.never_visited:
        table.add_row("never visited", "", str(report.never_visited), style="yellow")
    table.add_row("items", "", str(report.items), style="bold")
    return table


def summary_line(report: Report) -> str:
    """``N targets: a ok, b skipped, c failed, d never visited; n items``."""
    total = report.targets + report.never_visited
    return (
        f"{total} targets: {report.counts.get('ok', 0)} ok, "
        f"{report.counts.get('skipped', 0)} skipped, {report.counts.get('failed', 0)} failed, "
        f"{report.never_visited} never visited; {report.items} items"
    )


@dataclass
class CrawlState:
    """What a crawl has done so far: its report and how many targets it set out to visit.

    Kept outside ``run_crawl`` so an interrupted crawl can still be summed up.
    """

    report: Report = field(default_factory=Report)
    todo: int = 0
    already_done: int = 0
    written: int = 0
    seen: int = 0  # items the crawl found, before --query
    query: str | None = None
    runner: Runner | None = None  # where the targets ran: None, in this process
    shards: int = 0  # how many of the runner's workers had targets

    def settle(self) -> Report:
        """The report with ``items`` as written and every target without an outcome counted
        as never visited."""
        self.report.items = self.written
        self.report.never_visited = max(0, self.todo - self.report.targets)
        return self.report


def search(compiled: Any, value: Any) -> Any:
    """``compiled`` (a ``--query``) applied to ``value``; a query that parses but fails on
    the data (``abs`` of a string) is an :class:`aiokit.InvalidParameterError`."""
    try:
        return compiled.search(value)
    except jmespath.exceptions.JMESPathError as exc:
        raise aiokit.InvalidParameterError(
            f"--query: JMESPath expression {compiled.expression!r} fails on the result: "
            f"{_one_line(exc)}"
        ) from None


def compile_query(query: str | None) -> Any:
    if not query:
        return None
    try:
        return jmespath.compile(query)
    except jmespath.exceptions.JMESPathError as exc:
        raise aiokit.InvalidParameterError(
            f"--query: invalid JMESPath expression {query!r}: {_one_line(exc)}"
        ) from None


def _one_line(exc: Exception) -> str:
    """A JMESPath error's message on one line (it draws a caret on a line of its own)."""
    return " ".join(str(exc).split())


async def run_crawl(
    pool: aiokit.SessionPool,
    service: str,
    operation: str,
    params: dict[str, Any],
    targets: list[aiokit.Target],
    *,
    sink: Sink | None,
    resume: bool = False,
    query: str | None = None,
    concurrency: int = 64,
    deadline: float | None = None,
    show_progress: bool = False,
    print_items: Callable[[Any], None] | None = None,
    state: CrawlState | None = None,
    runner: RunnerChoice | None = None,
) -> Report:
    """The crawl behind ``aiokit crawl`` and ``aiokit demo``: targets -> sink, with progress.

    With ``resume``, only the targets the sink has no ok or skipped outcome for are run.
    The report's ``never_visited`` counts the targets left without an outcome. ``runner``
    (``--workers`` / ``--dask``) runs the targets elsewhere; by default, in this process.
    """
    compiled = compile_query(query)
    state = state if state is not None else CrawlState()
    state.query = query
    done: set[tuple[str | None, str | None]] = set()
    if sink is not None:
        done = await sink.begin(Run(service, operation, params), resume=resume)
    todo = [t for t in targets if (t.account, t.region) not in done]
    state.todo, state.already_done = len(todo), len(targets) - len(todo)
    state.runner = runner.runner(todo) if runner is not None and todo else None
    if isinstance(state.runner, aiokit.Processes):  # a Dask runner shards in its run
        state.shards = len({state.runner.shard(t) for t in todo})
    bar = _Bar(show_progress, f"{service} {operation}", len(todo))
    try:
        crawl = pool.crawl(
            service,
            operation,
            todo,
            concurrency=concurrency,
            deadline=deadline,
            progress=bar.progress,
            runner=state.runner,
            **params,
        )
        state.report = crawl.report
        if not todo:
            if sink is not None and hasattr(sink, "finish"):
                await sink.finish()
            return state.settle()  # nothing left to visit: no request, nothing stored
        async with crawl:
            await _drain(crawl, compiled, sink, print_items, state, bar)
        # A Ctrl-C may cancel the crawl's producer, whose stream then simply ends (what it
        # had sent is drained without a checkpoint): the cancellation is raised here, not
        # taken for a --deadline that left targets unvisited (exit 3).
        await anyio.lowlevel.checkpoint()
        report = state.settle()
        if sink is not None and hasattr(sink, "finish") and not report.never_visited:
            await sink.finish()
    finally:
        bar.stop()
    return report


class _Bar:
    """The crawl's progress bar on stderr, or nothing."""

    def __init__(
        self,
        enabled: bool,
        description: str,
        total: int,
        unit: str = "targets",
        items: bool = True,
    ) -> None:
        self.bar = _progress_bar(enabled, unit, items)
        self.task_id: TaskID | None = None
        if self.bar is not None:
            self.bar.start()
            self.task_id = self.bar.add_task(
                description, total=total, in_flight=0, failed=0, items=0
            )

    def progress(self, p: aiokit.Progress) -> None:
        if self.bar is not None and self.task_id is not None:
            self.bar.update(self.task_id, completed=p.done, in_flight=p.in_flight, failed=p.failed)

    def items(self, items: int) -> None:
        if self.bar is not None and self.task_id is not None:
            self.bar.update(self.task_id, items=items)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


async def _drain(
    crawl: Any,
    compiled: Any,
    sink: Sink | None,
    print_items: Callable[[Any], None] | None,
    state: CrawlState,
    bar: _Bar,
) -> None:
    """Every event of the crawl to the sink: items (through ``--query``) and outcomes."""
    items = 0
    async for event in crawl.events():
        if isinstance(event, Item):
            items += 1
            state.seen = items
            if items % 50 == 0:
                bar.items(items)
            if compiled is not None:
                found = search(compiled, event.data)
                if found is None:
                    continue
                values = found if isinstance(found, list) else [found]
                for value in values:
                    state.written += 1
                    await _emit(sink, print_items, Item(event.target, value))
            else:
                state.written += 1
                await _emit(sink, print_items, event)
        elif sink is not None:
            await sink.write(event)
    bar.items(items)


async def _emit(sink: Sink | None, print_items: Callable[[Any], None] | None, item: Item) -> None:
    if sink is not None:
        await sink.write(item)
    if print_items is not None:
        print_items(item)


CRAWL_OUTPUTS = (*OUTPUTS, "csv", "sqlite")
_STDOUT_ONLY = ("json", "text", "table", "yaml")


def plan_output(
    out_path: str | None, output: str | None, resume: bool, append: bool, replace: bool
) -> str:
    """The output format (``--output``, or the default), or a usage error: all checked
    before anything is opened."""
    if sum((resume, append, replace)) > 1:
        raise click.UsageError("--resume, --append and --replace exclude each other")
    if out_path is None:
        for flag, given in (("--resume", resume), ("--append", append), ("--replace", replace)):
            if given:
                raise click.UsageError(f"{flag} needs --out PATH.db")
        if output == "sqlite":
            raise click.UsageError("--output sqlite needs --out PATH.db")
        return choose(output, records=True, stream=True)
    if output in _STDOUT_ONLY:
        raise click.UsageError(
            f"--output {output} prints to stdout: drop --out, or use jsonl, csv or sqlite"
        )
    try:
        chosen = output_format(out_path, output)
    except aiokit.ConfigurationError as exc:  # the library's words for the command's
        raise aiokit.ConfigurationError(str(exc).replace("--format", "--output")) from None
    if chosen != "sqlite":
        for flag, given in (("--resume", resume), ("--append", append), ("--replace", replace)):
            if given:
                raise click.UsageError(
                    f"{flag} needs an SQLite inventory (--out PATH.db); {chosen} files hold "
                    "one run each and are overwritten"
                )
    return chosen


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    """An item's table row: where, then the item's own fields as columns (or ``item``)."""
    where = {"account": row["account"], "region": row["region"]}
    item = row["item"]
    return {**where, **item} if isinstance(item, dict) else {**where, "item": item}


def _line(row: dict[str, Any]) -> str:
    """An item's text line: account, region and the item (compact JSON unless a string)."""
    return "\t".join([row["account"] or "", row["region"] or "", text(row["item"])])


def item_printer(output: str, run: Run) -> tuple[Callable[[Item], None], Records]:
    """The crawl's items on stdout in ``output`` (json, text, table, yaml), as rows of the
    shape JSON Lines has (account, region, service, operation, resource_id, item)."""
    records = Records(output, title=f"{run.service} {run.operation}", line=_line, row=_flat)

    def show(item: Item) -> None:
        row = _row(run, item)
        del row["run_id"]
        records.add(row)

    return show, records


def summarise(report: Report, title: str, state: CrawlState) -> None:
    err.print(outcome_table(report, title))
    line = summary_line(report)
    if state.runner is not None:
        line += f", on {describe(state.runner, state.shards)}"
    if state.already_done:
        line += f" ({state.already_done} done by an earlier run, not visited again)"
    err.print(line, highlight=False)


def finish(report: Report, title: str, state: CrawlState) -> None:
    summarise(report, title, state)
    if state.query and state.seen and not state.written:
        # Not an error (the crawl itself went fine: exit 0), but never silent: a query
        # written for a whole response ('Contents[].Key') matches nothing on an item.
        err.print(
            f"[yellow]warning:[/] --query {escape(repr(state.query))} matched nothing in "
            f"{state.seen} items: crawl applies it to each item (e.g. 'Key', not "
            "'Contents[].Key')",
            highlight=False,
            soft_wrap=True,
        )
    for o in report.failed:
        err.print(
            f"[red]failed[/] {o.target.account} {o.target.region}: "
            f"{escape(f'{o.reason}: {_error_text(o)}')}",
            highlight=False,
        )
    if report.never_visited:
        err.print(
            f"[yellow]stopped by --deadline: {report.never_visited} targets never visited[/]"
            " (--resume with an SQLite --out runs them)",
            highlight=False,
        )
        raise Failure(EXIT_UNFINISHED)
    if report.failed:
        raise Failure(EXIT_FAILED)


def _error_text(outcome: aiokit.Outcome[Any]) -> str:
    """The error of a failed outcome, as in this process: one from a worker process that
    could not travel back as it was (``WorkerError``: "Type: message") without its type."""
    text = str(outcome.error)
    if isinstance(outcome.error, WorkerError):
        return text.partition(": ")[2] or text
    return text


def open_output(
    out_path: str | None, chosen: str, append: bool, replace: bool, run: Run
) -> tuple[Sink | None, Callable[[Any], None] | None, Records | None]:
    """The crawl's sink (a file, or stdout for jsonl and csv), or the printer of its items
    (and what to close at the end) for the other formats."""
    if out_path:
        existing = "append" if append else "replace" if replace else "refuse"
        return open_sink(out_path, chosen, existing=existing), None, None  # type: ignore[arg-type]
    check_stdout()
    if chosen in ("jsonl", "csv"):
        return open_sink(sys.stdout, chosen), None, None  # streamed, machine-readable
    show, records = item_printer(chosen, run)
    return None, show, records
