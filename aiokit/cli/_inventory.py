"""``aiokit inventory list`` (the catalogue) and ``aiokit inventory diff`` (two runs)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import anyio
import click
from rich.table import Table
from rich.text import Text

from .. import inventory as inv
from ._console import check_stdout, err, out

__all__ = ["inventory_group"]

_OUTPUT = click.Choice(["table", "json"])


def _format(output: str | None) -> str:
    """Table on a terminal, JSON otherwise (a pipe, a file), unless ``--output`` says."""
    return output or ("table" if sys.stdout is not None and sys.stdout.isatty() else "json")


def _json(data: Any) -> None:
    click.echo(json.dumps(data, default=str, indent=2))


def inventory_group(_run: Callable[[Any], Any]) -> click.Group:
    """The ``inventory`` command group, its commands run by ``_run`` (the CLI's runner,
    passed in: importing it from ``aiokit.cli`` would be an import cycle)."""

    @click.group()
    def inventory() -> None:
        """Inventory: the resource type catalogue and the diff of two runs."""

    @inventory.command("list")
    @click.option(
        "--spec", "spec", type=click.Path(dir_okay=False), help="A TOML spec file to add."
    )
    @click.option("--output", type=_OUTPUT, help="table (on a terminal) or json.")
    @_run
    async def list_(spec: str | None, output: str | None) -> None:
        """Print the catalogue of resource types (with those of --spec)."""
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
        if _format(output) == "json":
            _json(rows)
        else:
            table = Table("name", "service", "operation", "global", "description")
            for r in rows:
                table.add_row(
                    *(Text(str(r[c])) for c in ("name", "service", "operation")),
                    "yes" if r["global"] else "",
                    Text(str(r["description"])),
                )
            out.print(table)
        err.print(f"{len(rows)} resource types")

    @inventory.command()
    @click.argument("run_a", required=False)
    @click.argument("run_b", required=False)
    @click.option("--db", "db", default="inventory.db", show_default=True, help="The inventory.")
    @click.option("--output", type=_OUTPUT, help="table (on a terminal) or json.")
    @_run
    async def diff(run_a: str | None, run_b: str | None, db: str, output: str | None) -> None:
        """What changed between RUN_A and RUN_B (default: the last two finished runs)."""
        check_stdout()
        result = await anyio.to_thread.run_sync(inv.diff, db, run_a, run_b)
        if _format(output) == "json":
            _json(result.to_dict())
        else:
            table = Table("change", "resource type", "account", "region", "key", "fields")
            for kind in ("added", "removed", "changed", "unknown"):
                for c in getattr(result, kind):
                    fields = ", ".join(f.name for f in c.fields)
                    table.add_row(
                        kind,
                        *(Text(v) for v in (c.resource_type, c.account, c.region, c.key, fields)),
                    )
            out.print(table)
        err.print(
            f"run {result.run_a} -> {result.run_b}: {len(result.added)} added, "
            f"{len(result.removed)} removed, {len(result.changed)} changed, "
            f"{len(result.unknown)} unknown"
        )

    return inventory
