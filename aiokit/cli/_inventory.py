"""``aiokit inventory`` (a run: resource types x targets into an inventory database),
``aiokit inventory list`` (the catalogue) and ``aiokit inventory diff`` (two runs)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import click
from click.core import ParameterSource
from rich.console import Console

import aiokit

from .. import inventory as inv
from ._console import check_stdout, err, out
from ._crawl import CRAWL_GC_THRESHOLD
from ._inventory_run import (
    InventoryState,
    finish_inventory,
    open_store,
    run_inventory,
    summarise_inventory,
)
from ._output import choose, output_option, print_value
from ._runners import RunnerChoice

__all__ = ["Helpers", "inventory_group", "print_diff"]


_HELP = """Inventory: resource types across accounts and regions into a database.

\b
  aiokit inventory --accounts org --regions enabled --out inventory.db
  aiokit inventory --resources ec2.instances,s3.buckets --regions us-east-1,eu-west-1
  aiokit inventory list            the resource types (the catalogue)
  aiokit inventory diff            what changed between the last two runs

Each run is a snapshot in --out (SQLite: one table per resource type). Exit codes: 0 every
unit ok or skipped; 1 a unit failed; 2 usage or an unusable --out; 3 stopped by --deadline;
130 / 143 interrupted (--resume finishes the run).
"""

_RUN_OPTIONS = [
    click.option("--accounts", default="self", show_default=True, help="org, self, or ID,ID,..."),
    click.option(
        "--include-management-account",
        "include_management",
        is_flag=True,
        help="With --accounts org: inventory the management account too.",
    ),
    click.option("--profiles", help="Inventory as these profiles (comma-separated)."),
    click.option("--role", help="Role to assume in each account."),
    click.option("--external-id", help="External id for the role."),
    click.option("--regions", help="enabled, all, or a comma-separated list."),
    click.option(
        "--resources",
        help="Resource types (comma-separated; globs: 'ec2.*'); default: all. "
        "See `aiokit inventory list`.",
    ),
    click.option(
        "--spec", type=click.Path(dir_okay=False), help="A TOML spec file of resource types to add."
    ),
    click.option(
        "--out",
        "out_path",
        default="inventory.db",
        show_default=True,
        type=click.Path(),
        help="The inventory database (SQLite); each run adds a snapshot.",
    ),
    click.option(
        "--resume", is_flag=True, help="Finish the last interrupted run of the same inventory."
    ),
    click.option("--concurrency", default=64, show_default=True, type=click.IntRange(1, 4096)),
    click.option(
        "--deadline",
        type=click.FloatRange(min=0, min_open=True),
        help="Stop after this many seconds, keeping results (exit 3 if units are left).",
    ),
    click.option(
        "--workers",
        type=click.IntRange(min=1),
        metavar="N",
        help="Run the units in N local worker processes, sharded by account "
        "(at most one per account).",
    ),
]


def _selected(
    resources: str | None, catalogue: Mapping[str, inv.ResourceType]
) -> tuple[inv.ResourceType, ...]:
    """``--resources`` (every type of the catalogue by default), or a usage error naming it."""
    if resources is None:
        return tuple(catalogue.values())
    try:
        return inv.select(resources, catalogue)
    except aiokit.ConfigurationError as exc:
        message = str(exc).removeprefix("resources: ")
        message = message.replace(
            "(`aiokit.inventory.CATALOGUE` lists them)", "(`aiokit inventory list` lists them)"
        )
        raise click.BadParameter(message, param_hint="'--resources'") from None


@dataclass(frozen=True)
class Helpers:
    """The command line's own helpers (in ``aiokit.cli``, which imports this module: passed
    in, not imported back): the pool options, the pool, ``--accounts`` / ``--regions``."""

    common: Callable[[Any], Any]
    accounts: Callable[..., Any]
    regions: Callable[[str | None], Any]
    pool: Callable[..., aiokit.SessionPool]
    check_region: Callable[..., None]


async def _inventory(
    helpers: Helpers,
    accounts: str,
    include_management: bool,
    profiles: str | None,
    role: str | None,
    external_id: str | None,
    regions: str | None,
    resources: str | None,
    spec: str | None,
    out_path: str,
    resume: bool,
    concurrency: int,
    deadline: float | None,
    workers: int | None,
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
) -> None:
    """Inventory the resource types in every account and region into --out."""
    catalogue = (
        inv.CATALOGUE if spec is None else await anyio.to_thread.run_sync(inv.load_spec, spec)
    )
    types = _selected(resources, catalogue)
    # Checked before --out is opened, and before any request.
    who = helpers.accounts(accounts, profiles, role, external_id, include_management)
    where = helpers.regions(regions)
    for name in where if isinstance(where, list) else ():
        helpers.check_region(name, option="--regions")
    try:
        store = await open_store(out_path, catalogue, resume)
    except aiokit.ConfigurationError as exc:
        raise aiokit.ConfigurationError(f"--out: {exc}") from None
    state = InventoryState()
    try:
        async with helpers.pool(
            profile, region, endpoint_url, concurrency, role, gc_threshold=CRAWL_GC_THRESHOLD
        ) as pool:
            services = sorted({t.listing.service for t in types})
            member_role = role if accounts not in (None, "org", "self") else None
            targets = await pool.targets(who, where, services, role=member_role)
            try:
                report = await run_inventory(
                    pool,
                    types,
                    targets,
                    store,
                    resume=resume,
                    concurrency=concurrency,
                    deadline=deadline,
                    show_progress=err.is_terminal,
                    state=state,
                    runner=RunnerChoice(workers=workers).runner(targets),
                )
            except anyio.get_cancelled_exc_class():
                summarise_inventory(state.settle(), state, types, out_path)
                raise
    finally:
        with anyio.CancelScope(shield=True):
            await store.aclose()
    finish_inventory(report, state, types, out_path)


def inventory_group(_run: Callable[[Any], Any], helpers: Helpers) -> click.Group:
    """The ``inventory`` command group, its commands run by ``_run`` (the CLI's runner,
    passed in with its ``helpers``: importing them from ``aiokit.cli`` would be an import
    cycle)."""
    runner = _run(functools.wraps(_inventory)(functools.partial(_inventory, helpers)))

    def callback(**options: Any) -> None:
        ctx = click.get_current_context()
        if ctx.invoked_subcommand is None:
            runner(**options)
            return
        given = [
            p.opts[0]
            for p in ctx.command.params
            if p.name and ctx.get_parameter_source(p.name) is not ParameterSource.DEFAULT
        ]
        if given:
            raise click.UsageError(
                f"{', '.join(given)}: an option of the inventory run, not of "
                f"`inventory {ctx.invoked_subcommand}`: give the subcommand's options after it"
            )

    # --debug, --log-level, --log-format: the options ``_run`` adds, on the group.
    callback.__click_params__ = list(getattr(runner, "__click_params__", []))  # type: ignore[attr-defined]
    for option in reversed(_RUN_OPTIONS):
        callback = option(callback)
    inventory = click.group(
        "inventory", invoke_without_command=True, no_args_is_help=True, help=_HELP
    )(helpers.common(callback))

    @inventory.command("list")
    @click.option(
        "--spec", "spec", type=click.Path(dir_okay=False), help="A TOML spec file to add."
    )
    @output_option("table on a terminal, json when piped")
    @_run
    async def list_(spec: str | None, output: str | None) -> None:
        """Print the catalogue of resource types (with those of --spec)."""
        output = choose(output, records=True)
        check_stdout()
        catalogue = (
            inv.CATALOGUE if spec is None else await anyio.to_thread.run_sync(inv.load_spec, spec)
        )
        rows = [
            {
                "name": rt.name,
                "service": rt.listing.service,
                "operation": rt.listing.operation,
                "global": rt.is_global,
                "description": rt.description,
            }
            for rt in catalogue.values()
        ]
        print_value(rows, output, title="resource types")
        err.print(f"{len(rows)} resource types")

    @inventory.command()
    @click.argument("run_a", required=False)
    @click.argument("run_b", required=False)
    @click.option("--db", "db", default="inventory.db", show_default=True, help="The inventory.")
    @output_option("table on a terminal, json when piped")
    @_run
    async def diff(run_a: str | None, run_b: str | None, db: str, output: str | None) -> None:
        """What changed between RUN_A and RUN_B (default: the last two finished runs)."""
        output = choose(output, records=True)
        check_stdout()
        result = await anyio.to_thread.run_sync(inv.diff, db, run_a, run_b)
        print_diff(result, output)

    return inventory


def diff_records(result: inv.Diff) -> list[dict[str, Any]]:
    """A diff's changes as records: one a changed resource (its changed fields named)."""
    return [
        {
            "change": kind,
            "resource_type": c.resource_type,
            "account": c.account,
            "region": c.region,
            "key": c.key,
            "fields": ", ".join(f.name for f in c.fields),
        }
        for kind in ("added", "removed", "changed", "unknown")
        for c in getattr(result, kind)
    ]


def print_diff(result: inv.Diff, fmt: str, console: Console = out) -> None:
    """A diff in ``fmt`` (json and yaml: the whole diff, ``Diff.to_dict()``; jsonl, text
    and table: one record a change; a table on ``console``), and its one-line count on
    stderr."""
    if fmt in ("json", "yaml"):
        print_value(result.to_dict(), fmt)
    else:
        print_value(diff_records(result), fmt, title="changes", console=console)
    err.print(
        f"run {result.run_a} -> {result.run_b}: {len(result.added)} added, "
        f"{len(result.removed)} removed, {len(result.changed)} changed, "
        f"{len(result.unknown)} unknown"
    )
