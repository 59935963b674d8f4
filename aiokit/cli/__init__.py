"""The ``aiokit`` command line: crawl, paginate, wait, targets, demo.

Needs the ``cli`` extra (click, rich; moto for the demo). The CLI is the one place besides
the sync facade that starts an event loop. Errors print one line and a hint, with the
traceback only under ``--debug``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio
import click
import jmespath
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

import aiokit

from .._crawl import Item, Report
from .._sinks import Run, Sink, open_sink

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

HINTS: dict[type[BaseException], str] = {
    aiokit.UnknownServiceError: "service names are botocore's: s3, ec2, dynamodb, sqs ...",
    aiokit.UnknownOperationError: "operations are snake_case or CamelCase: list_objects_v2",
    aiokit.InvalidParameterError: "pass parameters as --param Name=value or --params JSON",
    aiokit.InvalidRegionError: "regions look like eu-west-1; or use --regions all|enabled",
    aiokit.ProfileNotFoundError: "see `aws configure list-profiles`",
    aiokit.InvalidRoleError: "account ids have 12 digits; role ARNs: arn:aws:iam::ID:role/NAME",
    aiokit.CredentialsError: "set AWS_PROFILE or AWS_ACCESS_KEY_ID, or pass --profile",
    aiokit.AccessDeniedError: "the identity lacks permission for this call",
    aiokit.ConfigurationError: "see `aiokit COMMAND --help`",
}


class Failure(Exception):
    """A handled failure: message already printed; exit with ``code``."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _run(fn: F) -> F:
    """Run an async command; turn aiokit errors into one line and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        debug = bool(kwargs.pop("debug", False))
        try:
            anyio.run(functools.partial(fn, *args, **kwargs))
        except Failure as exc:
            sys.exit(exc.code)
        except (aiokit.AiokitError, ValueError) as exc:
            if debug:
                traceback.print_exc()
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            for cls, hint in HINTS.items():
                if isinstance(exc, cls):
                    err.print(f"[dim]hint: {hint}[/]", highlight=False, soft_wrap=True)
                    break
            sys.exit(2)
        except KeyboardInterrupt:
            err.print("interrupted")
            sys.exit(130)

    wrapper = click.option("--debug", is_flag=True, help="Show tracebacks.")(wrapper)
    return wrapper  # type: ignore[return-value]


def _params(param: Sequence[str], params_json: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if params_json:
        try:
            loaded = json.loads(params_json)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"--params is not JSON: {exc}") from exc
        if not isinstance(loaded, dict):
            raise click.BadParameter("--params must be a JSON object")
        result.update(loaded)
    for pair in param:
        if "=" not in pair:
            raise click.BadParameter(f"--param {pair!r}: expected Name=value")
        key, value = pair.split("=", 1)
        try:
            result[key] = json.loads(value)  # numbers, booleans, lists, objects
        except json.JSONDecodeError:
            result[key] = value
    return result


def _pool(
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
    concurrency: int = 64,
    role: str | None = None,
) -> aiokit.SessionPool:
    return aiokit.SessionPool(
        profile=profile,
        region=region,
        endpoint_url=endpoint_url,
        concurrency=concurrency,
        role=role,
    )


def _accounts(
    accounts: str | None, profiles: str | None, role: str | None, external_id: str | None
) -> Any:
    if profiles:
        return aiokit.Profiles([p for p in profiles.split(",") if p])
    if accounts in (None, "", "self"):
        return "self"
    if accounts == "org":
        kw: dict[str, Any] = {"external_id": external_id}
        if role:
            kw["role"] = role
        return aiokit.Organization(**kw)
    return [a.strip() for a in accounts.split(",") if a.strip()]


def _regions(regions: str | None) -> Any:
    if regions is None or regions in ("all", "enabled"):
        return regions
    return [r.strip() for r in regions.split(",") if r.strip()]


common = [
    click.option("--profile", help="AWS profile for the pool's own identity."),
    click.option("--region", help="Default region."),
    click.option("--endpoint-url", help="Send requests here (moto, LocalStack)."),
]


def _common(fn: F) -> F:
    for option in reversed(common):
        fn = option(fn)
    return fn


@click.group()
@click.version_option(aiokit.__version__, prog_name="aiokit")
def cli() -> None:
    """aiokit: crawl, paginate and wait on AWS, concurrently, from async Python."""


# --- crawl -----------------------------------------------------------------------------------


def _progress_bar(enabled: bool) -> Progress | None:
    if not enabled:
        return None
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} targets"),
        TextColumn("{task.fields[in_flight]} in flight, {task.fields[failed]} failed"),
        TextColumn("{task.fields[items]} items"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


def outcome_table(report: Report, title: str) -> Table:
    """The summary of a crawl's outcomes by status and reason."""
    table = Table(title=title, title_justify="left")
    table.add_column("status")
    table.add_column("reason")
    table.add_column("targets", justify="right")
    table.add_row("ok", "", str(report.counts.get("ok", 0)))
    by_status: dict[tuple[str, str], int] = {}
    for o in report.problems:
        key = (o.status.value, o.reason or "")
        by_status[key] = by_status.get(key, 0) + 1
    for (status, reason), n in sorted(by_status.items()):
        table.add_row(status, reason, str(n))
    table.add_row("items", "", str(report.items), style="bold")
    return table


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
) -> Report:
    """The crawl behind ``aiokit crawl`` and ``aiokit demo``: targets -> sink, with progress."""
    compiled = jmespath.compile(query) if query else None
    run = Run(service, operation, params)
    done: set[tuple[str | None, str | None]] = set()
    if sink is not None:
        done = await sink.begin(run, resume=resume)
    todo = [t for t in targets if (t.account, t.region) not in done]
    bar = _progress_bar(show_progress)
    task_id = None
    if bar is not None:
        bar.start()
        task_id = bar.add_task(
            f"{service} {operation}", total=len(todo), in_flight=0, failed=0, items=0
        )

    def progress(p: aiokit.Progress) -> None:
        if bar is not None and task_id is not None:
            bar.update(task_id, completed=p.done, in_flight=p.in_flight, failed=p.failed)

    items = written = 0
    try:
        crawl = pool.crawl(
            service,
            operation,
            todo,
            concurrency=concurrency,
            deadline=deadline,
            progress=progress,
            **params,
        )
        async with crawl:
            async for event in crawl.events():
                if isinstance(event, Item):
                    items += 1
                    if bar is not None and task_id is not None and items % 50 == 0:
                        bar.update(task_id, items=items)
                    if compiled is not None:
                        found = compiled.search(event.data)
                        if found is None:
                            continue
                        values = found if isinstance(found, list) else [found]
                        for value in values:
                            written += 1
                            await _emit(sink, print_items, Item(event.target, value))
                    else:
                        written += 1
                        await _emit(sink, print_items, event)
                elif sink is not None:
                    await sink.write(event)
        if bar is not None and task_id is not None:
            bar.update(task_id, items=items)
        if sink is not None and hasattr(sink, "finish") and not crawl.statistics().deadline_reached:
            await sink.finish()
    finally:
        if bar is not None:
            bar.stop()
    crawl.report.items = written  # what was written: after --query, not the raw records
    return crawl.report


async def _emit(sink: Sink | None, print_items: Callable[[Any], None] | None, item: Item) -> None:
    if sink is not None:
        await sink.write(item)
    if print_items is not None:
        print_items(item)


@cli.command()
@click.argument("service")
@click.argument("operation")
@click.option("--param", multiple=True, help="Operation parameter Name=value (repeatable).")
@click.option("--params", "params_json", help="Operation parameters as a JSON object.")
@click.option("--accounts", default="self", show_default=True, help="org, self, or ID,ID,...")
@click.option("--profiles", help="Crawl as these profiles (comma-separated).")
@click.option("--role", help="Role to assume in each account.")
@click.option("--external-id", help="External id for the role.")
@click.option("--regions", help="enabled, all, or a comma-separated list.")
@click.option("--query", help="JMESPath applied to each item.")
@click.option("--concurrency", default=64, show_default=True, type=click.IntRange(1, 4096))
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Output file.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv", "sqlite", "table"]),
    help="Output format (default: from --out's extension; table on a terminal).",
)
@click.option("--resume", is_flag=True, help="Continue an interrupted crawl (SQLite --out).")
@click.option("--deadline", type=float, help="Stop after this many seconds, keeping results.")
@_common
@_run
async def crawl(
    service: str,
    operation: str,
    param: tuple[str, ...],
    params_json: str | None,
    accounts: str,
    profiles: str | None,
    role: str | None,
    external_id: str | None,
    regions: str | None,
    query: str | None,
    concurrency: int,
    out_path: str | None,
    fmt: str | None,
    resume: bool,
    deadline: float | None,
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
) -> None:
    """Paginate SERVICE OPERATION in every account and region; write every item."""
    params = _params(param, params_json)
    if resume and not out_path:
        raise click.UsageError("--resume needs --out PATH.db")
    async with _pool(profile, region, endpoint_url, concurrency, role) as pool:
        targets = await pool.targets(
            _accounts(accounts, profiles, role, external_id),
            _regions(regions),
            [service],
            role=role if accounts not in (None, "org", "self") else None,
        )
        sink: Sink | None = None
        printer: Callable[[Any], None] | None = None
        if out_path:
            sink = open_sink(out_path, None if fmt in (None, "table") else fmt)
        elif fmt == "sqlite":
            raise click.UsageError("--format sqlite needs --out PATH.db")
        elif fmt == "jsonl" or (fmt is None and not out.is_terminal):
            sink = open_sink(sys.stdout, "jsonl")  # piped: machine-readable
        else:
            printer = _table_printer()
        try:
            report = await run_crawl(
                pool,
                service,
                operation,
                params,
                targets,
                sink=sink,
                resume=resume,
                query=query,
                concurrency=concurrency,
                deadline=deadline,
                show_progress=err.is_terminal,
                print_items=printer,
            )
        finally:
            if sink is not None:
                await sink.aclose()
    _finish(report, f"{service} {operation}")


def _table_printer() -> Callable[[Any], None]:
    def show(item: Item) -> None:
        data = item.data if isinstance(item.data, str) else json.dumps(item.data, default=str)
        out.print(f"{item.account}\t{item.region}\t{data}", highlight=False, soft_wrap=True)

    return show


def _finish(report: Report, title: str) -> None:
    err.print(outcome_table(report, title))
    failed = report.failed
    if failed:
        for o in failed:
            err.print(f"[red]failed[/] {o.target.account} {o.target.region}: {o.reason}: {o.error}")
        raise Failure(1)


# --- paginate / wait / targets ----------------------------------------------------------------


@cli.command()
@click.argument("service")
@click.argument("operation")
@click.option("--param", multiple=True, help="Operation parameter Name=value (repeatable).")
@click.option("--params", "params_json", help="Operation parameters as a JSON object.")
@click.option("--query", help="JMESPath over each page (like the AWS CLI's --query).")
@click.option("--output", type=click.Choice(["json", "table"]), default="json")
@_common
@_run
async def paginate(
    service: str,
    operation: str,
    param: tuple[str, ...],
    params_json: str | None,
    query: str | None,
    output: str,
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
) -> None:
    """Every page of SERVICE OPERATION in one account and region, as JSON lines."""
    async with _pool(profile, region, endpoint_url) as pool:
        pager = pool.paginate(service, operation, **_params(param, params_json))
        stream = pager.search(query) if query else pager.items()
        async for value in stream:
            _print_value(value, output)


def _print_value(value: Any, output: str) -> None:
    if output == "table" and isinstance(value, dict):
        out.print("\t".join(f"{k}={v}" for k, v in value.items()), highlight=False)
    else:
        out.print(json.dumps(value, default=str), highlight=False, soft_wrap=True)


@cli.command()
@click.argument("service")
@click.argument("waiter")
@click.option("--param", multiple=True, help="Operation parameter Name=value (repeatable).")
@click.option("--params", "params_json", help="Operation parameters as a JSON object.")
@click.option("--timeout", type=float, help="Give up after this many seconds.")
@click.option("--delay", type=float, help="Seconds between polls.")
@_common
@_run
async def wait(
    service: str,
    waiter: str,
    param: tuple[str, ...],
    params_json: str | None,
    timeout: float | None,  # noqa: ASYNC109  (the waiter's own deadline)
    delay: float | None,
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
) -> None:
    """Wait for SERVICE's WAITER (e.g. dynamodb table_exists --param TableName=t)."""
    async with _pool(profile, region, endpoint_url) as pool:
        await pool.wait(
            service, waiter, timeout=timeout, delay=delay, **_params(param, params_json)
        )
    err.print(f"{service} {waiter}: done")


@cli.command()
@click.option("--accounts", default="self", show_default=True, help="org, self, or ID,ID,...")
@click.option("--profiles", help="Profiles (comma-separated).")
@click.option("--role", help="Role to assume in each account.")
@click.option("--external-id", help="External id for the role.")
@click.option("--regions", help="enabled, all, or a comma-separated list.")
@click.option("--services", help="Keep regions offering these services (comma-separated).")
@_common
@_run
async def targets(
    accounts: str,
    profiles: str | None,
    role: str | None,
    external_id: str | None,
    regions: str | None,
    services: str | None,
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
) -> None:
    """List the (account, region) targets a crawl would visit."""
    spec = _accounts(accounts, profiles, role, external_id)
    if isinstance(spec, aiokit.Organization):
        spec = dataclasses.replace(spec, with_ou_paths=True)  # the table's "ou" column
    async with _pool(profile, region, endpoint_url, role=role) as pool:
        found = await pool.targets(
            spec,
            _regions(regions),
            services.split(",") if services else None,
            role=role if accounts not in (None, "org", "self") else None,
        )
    table = Table("account", "name", "region", "ou")
    for t in found:
        table.add_row(t.account or "self", t.name or "", t.region or "", t.ou_path or "")
    out.print(table)
    err.print(f"{len(found)} targets")


@cli.command()
@click.option("--out", "out_path", default="aiokit-demo.db", show_default=True)
@click.option("--keep-running", is_flag=True, help="Leave the emulator up afterwards.")
@click.option("--accounts", "n_accounts", default=8, show_default=True)
@_run
async def demo(out_path: str, keep_running: bool, n_accounts: int) -> None:
    """Crawl an emulated AWS organization (moto on 127.0.0.1) into an SQLite inventory."""
    from ._demo import run_demo

    await run_demo(Path(out_path), keep_running=keep_running, n_accounts=n_accounts)


def main() -> None:
    """Console entry point."""
    cli()
