"""The ``aiokit`` command line: call, crawl, paginate, wait, targets, demo.

Needs the ``cli`` extra (click, rich; moto for the demo). The CLI is the one place besides
the sync facade that starts an event loop. Errors print one line and a hint, with the
traceback only under ``--debug``; warnings are logged one line each, never with a secret.

Exit codes (see docs/guides/cli.md): 0 every target visited and none failed; 1 one or more
targets failed; 2 usage, bad input or an unusable output file; 3 stopped by ``--deadline``
with targets never visited; 130 / 143 interrupted by SIGINT / SIGTERM. A stdout closed by its
reader (``| head``) ends quietly with 0.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import functools
import json
import os
import signal
import sqlite3
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ._deps import require_cli_extra

require_cli_extra()

import anyio  # noqa: E402
import anyio.abc  # noqa: E402
import click  # noqa: E402
from rich.markup import escape  # noqa: E402

import aiokit  # noqa: E402

from .._paginate import check_listing  # noqa: E402
from .._sinks import Run  # noqa: E402
from .._validate import did_you_mean  # noqa: E402
from ._call import check_call, fan_out_call, one_call  # noqa: E402
from ._console import (  # noqa: E402
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_USAGE,
    Failure,
    check_stdout,
    err,
)
from ._crawl import (  # noqa: E402
    CRAWL_GC_THRESHOLD,
    CRAWL_OUTPUTS,
    CrawlState,
    compile_query,
    finish,
    open_output,
    plan_output,
    run_crawl,
    search,
    summarise,
)
from ._inventory import Helpers, inventory_group  # noqa: E402
from ._json import dumps  # noqa: E402
from ._logging import LEVELS, configure_logging  # noqa: E402
from ._names import operation_name, parameter_names, waiter_name  # noqa: E402
from ._output import choose as choose_output  # noqa: E402
from ._output import (  # noqa: E402
    output_option,
    print_value,
    warn_deprecated,
    write_line,
)
from ._runners import RunnerChoice, choose_runner  # noqa: E402

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])


HINTS: dict[type[BaseException], str] = {
    aiokit.UnknownServiceError: "service names are botocore's: s3, ec2, dynamodb, sqs ...",
    aiokit.UnknownOperationError: "operations are kebab-case, snake_case or CamelCase: "
    "list-objects-v2",
    aiokit.InvalidParameterError: "pass parameters as --param Name=value or --params JSON",
    aiokit.InvalidRegionError: "regions look like eu-west-1; or use --regions all|enabled",
    aiokit.ProfileNotFoundError: "see `aws configure list-profiles`",
    aiokit.InvalidRoleError: "account ids have 12 digits; role ARNs: arn:aws:iam::ID:role/NAME",
    aiokit.MissingDependencyError: "install the extra the message names",
    aiokit.InvalidCredentialsError: "the keys or token were rejected: check or refresh them",
    aiokit.CredentialsError: "set AWS_PROFILE or AWS_ACCESS_KEY_ID, or pass --profile",
    aiokit.AccessDeniedError: "the identity lacks permission for this call",
    aiokit.EndpointError: "check --endpoint-url / --region and the network",
    aiokit.WaiterTimeout: "raise --timeout, or check the resource's state",
    aiokit.ConfigurationError: "see `aiokit COMMAND --help`",
}


def hint_for(exc: BaseException) -> str | None:
    """The hint that fits ``exc``: by its class, refined by what it is about."""
    text = str(exc)
    if isinstance(exc, aiokit.UnknownOperationError):
        if "has no waiters" in text:
            return "this service has no waiters; poll with `aiokit paginate` instead"
        if "waiter" in text:
            return "waiter names are the service's, as listed above: table-exists or TableExists"
        if "not paginated" in text:
            return "`aiokit paginate` and `crawl` need an operation that has a paginator"
    if isinstance(exc, aiokit.InvalidParameterError):
        if "StartingToken" in text:
            return "pass --starting-token exactly as a NextToken that --max-items printed"
        if "JMESPath" in text:
            return "--query takes a JMESPath expression, e.g. 'Contents[].Key'"
        if "result keys" in text:
            return "pick one of the operation's result keys"
    for cls, hint in HINTS.items():
        if isinstance(exc, cls):
            return hint
    return None


@dataclass
class _Interrupt:
    """The signal (SIGINT or SIGTERM) that stopped the command, if one did."""

    signum: int | None = None


def _exit_now(signum: int) -> None:
    """A second SIGINT/SIGTERM while the first one's cleanup runs (or hangs, on an output
    nobody reads): one line and out, with the signal's exit code. Whatever SQLite has
    committed is kept; no traceback, and no default handler killing the process mid-way."""
    try:
        err.print(f"interrupted again by {signal.Signals(signum).name}: exiting now")
        sys.stderr.flush()  # not stdout: its reader may be the one that is stuck
    except Exception:  # a closed stderr must not stop the exit
        pass
    os._exit(128 + signum)


async def _main(command: Callable[[], Any], interrupt: _Interrupt) -> None:
    """Run ``command``; SIGINT or SIGTERM cancels it (its cleanup runs) and is remembered.

    The signals stay caught until the command has ended: a second one during the cleanup
    exits at once (see ``_exit_now``) instead of reaching Python's default handlers (a
    ``KeyboardInterrupt`` traceback, or SIGTERM killing the process without a word)."""
    async with anyio.create_task_group() as tg:
        work = anyio.CancelScope()

        async def watch(*, task_status: anyio.abc.TaskStatus[None]) -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                task_status.started()
                async for signum in signals:
                    if interrupt.signum is not None:
                        _exit_now(int(signum))
                    interrupt.signum = int(signum)
                    work.cancel()

        await tg.start(watch)
        try:
            with work:
                await command()
        finally:
            tg.cancel_scope.cancel()


def _leaf(exc: BaseException) -> BaseException:
    """The one real exception inside (nested) exception groups, or ``exc`` itself."""
    while isinstance(exc, BaseExceptionGroup):
        # After anyio.run has returned: the asyncio backend's cancellation class.
        leaves = [e for e in exc.exceptions if not isinstance(e, asyncio.CancelledError)]
        if len(leaves) != 1:
            return exc
        exc = leaves[0]
    return exc


def _is_broken_pipe(exc: BaseException) -> bool:
    return isinstance(exc, BrokenPipeError) or (
        isinstance(exc, OSError) and exc.errno == errno.EPIPE
    )


def _quiet_stdout() -> None:
    """The reader of stdout went away (``| head``): send the rest, and the final flush,
    nowhere instead of raising again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def print_error(exc: BaseException) -> None:
    """``error: ...`` and the hint that fits, one line each, on stderr."""
    text = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
    message = " ".join(text.split()) or type(exc).__name__
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    hint = hint_for(exc)
    if hint:
        err.print(f"[dim]hint: {escape(hint)}[/]", highlight=False, soft_wrap=True)


def exit_code_for(exc: BaseException) -> int:
    """2 for what the caller got wrong (usage, input, setup); 1 for what AWS or the network
    refused while doing it."""
    if isinstance(exc, aiokit.ConfigurationError):
        return EXIT_USAGE
    if isinstance(exc, aiokit.CredentialsError) and not isinstance(
        exc, aiokit.InvalidCredentialsError
    ):
        return EXIT_USAGE  # none to be found: setup, not an AWS answer
    if isinstance(exc, aiokit.AiokitError):
        return EXIT_FAILED
    return EXIT_USAGE  # a ValueError from the input


def _run(fn: F) -> F:
    """Run an async command; turn aiokit errors into one line and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        debug = bool(kwargs.pop("debug", False))
        level, fmt = kwargs.pop("log_level", None), kwargs.pop("log_format", "text")
        debug |= level == "debug"
        configure_logging(debug, level=level, fmt=fmt)
        interrupt = _Interrupt()
        try:
            check_region(kwargs.get("region"))
            anyio.run(_main, functools.partial(fn, *args, **kwargs), interrupt)
        except BaseException as caught:
            exc = _leaf(caught)
            if isinstance(exc, Failure):
                sys.exit(exc.code)
            if isinstance(exc, SystemExit):
                raise exc from None
            if isinstance(exc, KeyboardInterrupt):  # a second Ctrl-C during cleanup
                err.print("interrupted")
                sys.exit(130)
            if _is_broken_pipe(exc):
                _quiet_stdout()
                sys.exit(EXIT_BROKEN_PIPE)
            if isinstance(exc, click.ClickException):
                raise exc from None
            if debug:
                traceback.print_exception(caught)
            if isinstance(exc, aiokit.AiokitError | ValueError):
                print_error(exc)
                sys.exit(exit_code_for(exc))
            if isinstance(exc, OSError | sqlite3.Error):
                # The output went bad mid-way (disk full, file removed, database locked).
                err.print(
                    f"[bold red]error:[/] cannot write the output: {escape(str(exc))}",
                    highlight=False,
                    soft_wrap=True,
                )
                sys.exit(EXIT_USAGE)
            # Not one of aiokit's errors: a bug. Still one line; the traceback with --debug.
            err.print(
                f"[bold red]error:[/] unexpected {type(exc).__name__}: {escape(str(exc))} "
                "(this is a bug in aiokit: please report it with the output of --debug)",
                highlight=False,
                soft_wrap=True,
            )
            sys.exit(EXIT_FAILED)
        if interrupt.signum is not None:
            err.print(f"interrupted by {signal.Signals(interrupt.signum).name}")
            sys.exit(128 + interrupt.signum)

    wrapper = click.option(
        "--debug", is_flag=True, help="Show tracebacks and debug logs (secrets redacted)."
    )(wrapper)
    wrapper = click.option(
        "--log-level",
        type=click.Choice(LEVELS, case_sensitive=False),
        default=None,
        help="aiokit's log level (default warning; debug = --debug).",
    )(wrapper)
    wrapper = click.option(
        "--log-format",
        type=click.Choice(("text", "json")),
        default="text",
        show_default=True,
        help="Log records as text lines or one JSON object per line (on stderr).",
    )(wrapper)
    return wrapper  # type: ignore[return-value]


@functools.cache
def _known_regions() -> tuple[str, ...]:
    from .._endpoints import load_endpoints  # botocore's endpoint data, through the seam

    partitions = load_endpoints().partitions.values()
    return tuple(r for p in partitions for r in p.regions)


def check_region(region: str | None, option: str = "--region") -> None:
    """``--region`` must be a region botocore knows (as ``--regions`` must)."""
    if region is None:
        return
    known = _known_regions()
    if region not in known:
        suggestion = did_you_mean(region, known, n=1)
        if region in ("all", "enabled"):
            suggestion = " ('all' and 'enabled' stand alone)"
        raise aiokit.InvalidRegionError(f"{option}: unknown region {region!r}{suggestion}")


def _params(param: Sequence[str], params_json: str | None) -> dict[str, Any]:
    """``--params JSON`` and ``--param Name=value ...`` as one dict. A key given twice (in
    both, or twice as ``--param``) is a usage error: neither is to win silently."""
    result: dict[str, Any] = {}
    if params_json is not None:
        try:
            loaded = json.loads(params_json)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"--params is not JSON: {exc}") from exc
        if not isinstance(loaded, dict):
            raise click.BadParameter("--params must be a JSON object")
        result.update(loaded)
    given: set[str] = set()
    for pair in param:
        if "=" not in pair:
            raise click.BadParameter(f"--param {pair!r}: expected Name=value")
        key, value = pair.split("=", 1)
        if key in given:
            raise click.UsageError(f"--param {key} is given twice: give it once")
        if key in result:
            raise click.UsageError(f"{key} is given both by --param and in --params: give it once")
        given.add(key)
        try:
            result[key] = json.loads(value)  # numbers, booleans, lists, objects
        except json.JSONDecodeError:
            result[key] = value
    return result


MAX_INT32 = 2**31 - 1  # AWS's integer parameters (MaxKeys, MaxResults...) are 32-bit

# One-off commands (paginate, wait, targets) fail about as fast as the AWS CLI on an
# unreachable endpoint: 4 attempts, at most 1 + 2 + 4 s of backoff, no page-level retries
# on top. A crawl keeps the pool's defaults: it has many targets to get through.
ONE_OFF_RETRY = aiokit.RetrySettings(max_attempts=4, max_backoff=4.0)


def _pool(
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
    concurrency: int = 64,
    role: str | None = None,
    retry: aiokit.RetrySettings | None = None,
    gc_threshold: int | None = None,
) -> aiokit.SessionPool:
    return aiokit.SessionPool(
        profile=profile,
        region=region,
        endpoint_url=endpoint_url,
        concurrency=concurrency,
        role=role,
        retry=retry,
        gc_threshold=gc_threshold,
    )


def _accounts(
    accounts: str | None,
    profiles: str | None,
    role: str | None,
    external_id: str | None,
    include_management: bool = False,
) -> Any:
    if include_management and accounts != "org":
        raise click.UsageError(
            "--include-management-account is for --accounts org (the organization's member "
            "accounts, and with it its management account)"
        )
    if profiles:
        return aiokit.Profiles([p for p in profiles.split(",") if p])
    if accounts in (None, "self"):
        return "self"
    if accounts == "org":
        kw: dict[str, Any] = {"external_id": external_id, "include_management": include_management}
        if role:
            kw["role"] = role
        return aiokit.Organization(**kw)
    ids = [a.strip() for a in accounts.split(",") if a.strip()]
    if not ids:  # `--accounts "$IDS"` with $IDS unset: not "crawl nothing", nor "self"
        raise click.BadParameter(
            f"{accounts!r} names no account: use self, org or ID,ID,...",
            param_hint="'--accounts'",
        )
    return ids


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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(aiokit.__version__, prog_name="aiokit")
def cli() -> None:
    """aiokit: crawl, paginate and wait on AWS, concurrently, from async Python."""


# --- crawl -----------------------------------------------------------------------------------


@cli.command()
@click.argument("service")
@click.argument("operation")
@click.option("--param", multiple=True, help="Operation parameter Name=value (repeatable).")
@click.option("--params", "params_json", help="Operation parameters as a JSON object.")
@click.option("--accounts", default="self", show_default=True, help="org, self, or ID,ID,...")
@click.option(
    "--include-management-account",
    "include_management",
    is_flag=True,
    help="With --accounts org: visit the management account too.",
)
@click.option("--profiles", help="Crawl as these profiles (comma-separated).")
@click.option("--role", help="Role to assume in each account.")
@click.option("--external-id", help="External id for the role.")
@click.option("--regions", help="enabled, all, or a comma-separated list.")
@click.option(
    "--query",
    help="JMESPath applied to each item (a crawl's result is the items of many targets): "
    "'Key', not 'Contents[].Key'.",
)
@click.option("--concurrency", default=64, show_default=True, type=click.IntRange(1, 4096))
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Output file.")
@output_option(
    "from --out's extension; without --out, table on a terminal, jsonl when piped",
    CRAWL_OUTPUTS,
)
@click.option("--format", "fmt", hidden=True, type=click.Choice(CRAWL_OUTPUTS))
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the last crawl in the SQLite --out: run its failed and unvisited targets.",
)
@click.option("--append", is_flag=True, help="Add a new run to an existing SQLite inventory.")
@click.option("--replace", is_flag=True, help="Start an existing SQLite inventory over.")
@click.option(
    "--deadline",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop after this many seconds, keeping results (exit 3 if targets are left).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    metavar="N",
    help="Run the targets in N local worker processes, sharded by account "
    "(at most one per account).",
)
@click.option(
    "--dask",
    "dask_at",
    metavar="ADDRESS_OR_FILE",
    help="Run the targets on a Dask cluster: its scheduler's address (tcp://host:8786) or "
    "scheduler file. Needs the dask extra.",
)
@_common
@_run
async def crawl(
    service: str,
    operation: str,
    param: tuple[str, ...],
    params_json: str | None,
    accounts: str,
    include_management: bool,
    profiles: str | None,
    role: str | None,
    external_id: str | None,
    regions: str | None,
    query: str | None,
    concurrency: int,
    out_path: str | None,
    output: str | None,
    fmt: str | None,
    resume: bool,
    append: bool,
    replace: bool,
    deadline: float | None,
    workers: int | None,
    dask_at: str | None,
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
) -> None:
    """Paginate SERVICE OPERATION in every account and region; write every item."""
    params = _params(param, params_json)
    output = _deprecated_format(output, fmt)
    chosen = plan_output(out_path, output, resume, append, replace)
    compile_query(query)
    runner = await choose_runner(workers, dask_at)
    # before the output is opened
    spec = _accounts(accounts, profiles, role, external_id, include_management)
    _check_regions(regions)  # before the output is opened too (see _check_regions)
    operation = await anyio.to_thread.run_sync(operation_name, service, operation)
    params = await anyio.to_thread.run_sync(parameter_names, service, operation, params)
    await anyio.to_thread.run_sync(check_listing, service, operation, params, None)
    sink, printer, printed = open_output(
        out_path, chosen, append, replace, Run(service, operation, params)
    )
    state = CrawlState()
    title = f"{service} {operation}"
    try:
        if sink is not None:
            await sink.open(resume=resume)  # before the first request
        async with _pool(
            profile, region, endpoint_url, concurrency, role, gc_threshold=CRAWL_GC_THRESHOLD
        ) as pool:
            member_role = role if accounts not in (None, "org", "self") else None
            targets = await pool.targets(spec, _regions(regions), [service], role=member_role)
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
                    state=state,
                    runner=runner,
                )
            except anyio.get_cancelled_exc_class():
                summarise(state.settle(), title, state)  # interrupted: say what was done
                raise
    finally:
        if sink is not None:
            with anyio.CancelScope(shield=True):
                await sink.aclose()
    if printed is not None:
        printed.close()  # json, yaml, table: one document, one table, at the end
    finish(report, title, state)


def _check_regions(regions: str | None) -> None:
    """``--regions``' listed names are regions botocore knows. What can be checked without
    a request is checked before a crawl's output is opened: a typo must not empty an
    earlier --out file, nor leave an inventory that then refuses the corrected command as
    "already holds an aiokit inventory"."""
    listed = _regions(regions)
    for name in listed if isinstance(listed, list) else ():
        check_region(name, option="--regions")


def _deprecated_format(output: str | None, fmt: str | None) -> str | None:
    """``crawl --format`` (the name before ``--output``): still taken, with one line."""
    if fmt is None:
        return output
    if output is not None:
        raise click.UsageError("--format is the old name of --output: give --output only")
    warn_deprecated("--format", "--output")
    return fmt


# --- paginate / wait / targets ----------------------------------------------------------------


@cli.command()
@click.argument("service")
@click.argument("operation")
@click.option("--param", multiple=True, help="Operation parameter Name=value (repeatable).")
@click.option("--params", "params_json", help="Operation parameters as a JSON object.")
@click.option(
    "--query",
    help="JMESPath over the merged result (every page's items under their result keys), "
    "as the AWS CLI applies it: 'Contents[].Key', 'length(Contents)'.",
)
@output_option("json: the merged result, as the AWS CLI prints it; jsonl streams the items")
@click.option(
    "--max-items",
    type=click.IntRange(1, MAX_INT32),
    help="Stop after this many items; prints the NextToken to continue from on stderr.",
)
@click.option("--page-size", type=click.IntRange(1, MAX_INT32), help="Items asked for per request.")
@click.option("--starting-token", help="Continue from a NextToken printed by --max-items.")
@_common
@_run
async def paginate(
    service: str,
    operation: str,
    param: tuple[str, ...],
    params_json: str | None,
    query: str | None,
    output: str | None,
    max_items: int | None,
    page_size: int | None,
    starting_token: str | None,
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
) -> None:
    """Every page of SERVICE OPERATION in one account and region, merged as the AWS CLI
    merges them (--output jsonl: one item a line, as the pages come)."""
    params = _params(param, params_json)
    _pagination_config(params, max_items, page_size, starting_token)
    compiled = compile_query(query)
    output = choose_output(output, records=False)
    check_stdout()
    operation = await anyio.to_thread.run_sync(operation_name, service, operation)
    params = await anyio.to_thread.run_sync(parameter_names, service, operation, params)
    async with _pool(profile, region, endpoint_url, retry=ONE_OFF_RETRY) as pool:
        pager = pool.paginate(service, operation, page_retries=0, **params)
        if output == "jsonl" and compiled is None:
            async for item in pager.items():  # streamed: nothing held but the page
                write_line(dumps(item))
            token = pager.resume_token if max_items is not None else None
        else:
            merged = await pager.full_result()
            token = merged.get("NextToken") if max_items is not None else None
            value = merged if compiled is None else search(compiled, merged)
            print_value(value, output, title=f"{service} {operation}")
    if token is not None:  # truncated by --max-items: in the result, and said on stderr
        err.print(f"NextToken: {token}", highlight=False, soft_wrap=True, markup=False)
        err.print("[dim]hint: pass --starting-token TOKEN to continue[/]", highlight=False)


def _pagination_config(
    params: dict[str, Any], max_items: int | None, page_size: int | None, token: str | None
) -> None:
    """``--max-items/--page-size/--starting-token`` into ``PaginationConfig``; the same key
    also in ``--params``'s ``PaginationConfig`` is a usage error, as for ``--param``."""
    given = {"MaxItems": max_items, "PageSize": page_size, "StartingToken": token}
    options = {k: v for k, v in given.items() if v is not None}
    if not options:
        return
    config = params.get("PaginationConfig", {})
    if not isinstance(config, dict):
        return  # the library says what is wrong with it
    for key in options.keys() & config.keys():
        option = "--" + {"MaxItems": "max-items", "PageSize": "page-size"}.get(
            key, "starting-token"
        )
        raise click.UsageError(f"{option} and PaginationConfig {key} in --params: give one")
    params["PaginationConfig"] = {**config, **options}


@cli.command()
@click.argument("service")
@click.argument("operation")
@click.option("--param", multiple=True, help="Operation parameter Name=value (repeatable).")
@click.option("--params", "params_json", help="Operation parameters as a JSON object.")
@click.option("--query", help="JMESPath over the response (as the AWS CLI's --query).")
@output_option("json; for a fan-out, table on a terminal, jsonl when piped")
@click.option("--accounts", help="Call in these accounts: org, self, or ID,ID,...")
@click.option(
    "--include-management-account",
    "include_management",
    is_flag=True,
    help="With --accounts org: visit the management account too.",
)
@click.option("--profiles", help="Call as these profiles (comma-separated).")
@click.option("--role", help="Role to assume in each account (with --accounts).")
@click.option("--external-id", help="External id for the role.")
@click.option("--regions", help="Call in these regions: enabled, all, or a comma-separated list.")
@click.option("--concurrency", default=64, show_default=True, type=click.IntRange(1, 4096))
@_common
@_run
async def call(
    service: str,
    operation: str,
    param: tuple[str, ...],
    params_json: str | None,
    query: str | None,
    output: str | None,
    accounts: str | None,
    include_management: bool,
    profiles: str | None,
    role: str | None,
    external_id: str | None,
    regions: str | None,
    concurrency: int,
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
) -> None:
    """Call SERVICE OPERATION once (e.g. sts get-caller-identity), or in every target.

    With --accounts, --profiles or --regions, the same call runs in every (account, region)
    target: one outcome a target (account, region, status, result), exit 1 if one failed.
    """
    params = _params(param, params_json)
    fan_out = accounts is not None or profiles is not None or regions is not None
    if include_management and accounts != "org":
        _accounts(accounts, profiles, role, external_id, include_management)  # says why
    if not fan_out and (role or external_id):
        raise click.UsageError("--role and --external-id need --accounts")
    output = choose_output(output, records=fan_out, stream=fan_out)
    check_stdout()
    checked = await anyio.to_thread.run_sync(check_call, service, operation, params, query)
    if not fan_out:
        async with _pool(profile, region, endpoint_url, retry=ONE_OFF_RETRY) as pool:
            await one_call(pool, checked, output)
        return
    spec = _accounts(accounts, profiles, role, external_id, include_management)
    listed = _regions(regions)
    for name in listed if isinstance(listed, list) else ():
        check_region(name, option="--regions")
    async with _pool(profile, region, endpoint_url, concurrency, role) as pool:
        found = await pool.targets(
            spec,
            listed,
            [service],
            role=role if accounts not in (None, "org", "self") else None,
        )
        await fan_out_call(pool, checked, found, output, concurrency)


@cli.command()
@click.argument("service")
@click.argument("waiter")
@click.option("--param", multiple=True, help="Operation parameter Name=value (repeatable).")
@click.option("--params", "params_json", help="Operation parameters as a JSON object.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Give up after this many seconds.",
)
@click.option("--delay", type=click.FloatRange(min=0, min_open=True), help="Seconds between polls.")
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
    params = _params(param, params_json)
    name = await anyio.to_thread.run_sync(waiter_name, service, waiter)
    async with _pool(profile, region, endpoint_url, retry=ONE_OFF_RETRY) as pool:
        await pool.wait(service, name, timeout=timeout, delay=delay, **params)
    err.print(f"{service} {waiter}: done")


@cli.command()
@click.option("--accounts", default="self", show_default=True, help="org, self, or ID,ID,...")
@click.option(
    "--include-management-account",
    "include_management",
    is_flag=True,
    help="With --accounts org: visit the management account too.",
)
@click.option("--profiles", help="Profiles (comma-separated).")
@click.option("--role", help="Role to assume in each account.")
@click.option("--external-id", help="External id for the role.")
@click.option("--regions", help="enabled, all, or a comma-separated list.")
@click.option("--services", help="Keep regions offering these services (comma-separated).")
@output_option("table on a terminal, json when piped")
@_common
@_run
async def targets(
    accounts: str,
    include_management: bool,
    profiles: str | None,
    role: str | None,
    external_id: str | None,
    regions: str | None,
    services: str | None,
    output: str | None,
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
) -> None:
    """List the (account, region) targets a crawl would visit."""
    output = choose_output(output, records=True)
    check_stdout()
    spec = _accounts(accounts, profiles, role, external_id, include_management)
    if isinstance(spec, aiokit.Organization):
        spec = dataclasses.replace(spec, with_ou_paths=True)  # the table's "ou" column
    async with _pool(profile, region, endpoint_url, role=role) as pool:
        found = await pool.targets(
            spec,
            _regions(regions),
            services.split(",") if services else None,
            role=role if accounts not in (None, "org", "self") else None,
        )
    records = [
        {"account": t.account, "name": t.name, "region": t.region, "ou": t.ou_path} for t in found
    ]
    print_value(records, output, title="targets")
    err.print(f"{len(found)} target{'' if len(found) == 1 else 's'}")


@cli.command()
@click.option("--out", "out_path", default="aiokit-demo.db", show_default=True)
@click.option("--keep-running", is_flag=True, help="Leave the emulator up afterwards.")
@click.option(
    "--member-accounts",
    "n_accounts",
    type=click.IntRange(1, 100),
    metavar="N",
    help="Member accounts of the emulated organization (default 8).",
)
@click.option("--accounts", "old_accounts", hidden=True, type=click.IntRange(1, 100))
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    metavar="N",
    help="Inventory in N local worker processes, sharded by account (at most one per "
    "account), kept for both inventories.",
)
@_run
async def demo(
    out_path: str,
    keep_running: bool,
    n_accounts: int | None,
    old_accounts: int | None,
    workers: int | None,
) -> None:
    """Inventory an emulated AWS organization (moto on 127.0.0.1) twice, and diff the runs."""
    from ._demo import run_demo

    if old_accounts is not None:  # the name before --member-accounts: --accounts is org/self/ids
        if n_accounts is not None:
            raise click.UsageError("--accounts is the old name of --member-accounts: give one")
        warn_deprecated("demo --accounts N", "--member-accounts N")
        n_accounts = old_accounts

    await run_demo(
        Path(out_path),
        keep_running=keep_running,
        n_accounts=8 if n_accounts is None else n_accounts,
        runner=RunnerChoice(workers=workers),
    )


def main(args: Sequence[str] | None = None) -> None:
    """Console entry point: click's usage errors too come out as one line, exit 2."""
    try:
        code = cli.main(args=args, prog_name="aiokit", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `aiokit` alone: the help, as click
            exc.show()
            sys.exit(exc.exit_code)
        print_error(exc)  # click's own "Usage: ... Error: ..." is four lines
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            err.print(f"[dim]hint: see `{exc.ctx.command_path} --help`[/]", highlight=False)
        sys.exit(exc.exit_code)
    except click.Abort:
        err.print("interrupted")
        sys.exit(130)
    except BrokenPipeError:
        _quiet_stdout()
        sys.exit(EXIT_BROKEN_PIPE)
    sys.exit(code if isinstance(code, int) else 0)


cli.add_command(inventory_group(_run, Helpers(_common, _accounts, _regions, _pool, check_region)))
