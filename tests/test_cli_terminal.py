"""On a terminal (a pseudo-terminal) the long commands show a progress bar and a table;
the same commands piped show none of it. Subprocesses against moto."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3

from tests.test_cli_habits import _on_a_terminal as _raw_terminal
from tests.test_cli_habits import _where
from tests.test_cli_habits import aiokit_cli as _piped

ROOT = Path(__file__).parents[1]


def _on_a_terminal(args: list[str]) -> tuple[int, str]:
    """What the command showed on a terminal, its colours and cursor moves taken out."""
    code, shown = _raw_terminal(args)
    return code, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown)


def _queues(endpoint: str, n: int = 3) -> None:
    for region in ("us-east-1", "eu-west-1"):
        sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=region)
        for i in range(n):
            sqs.create_queue(QueueName=f"term-{i}")


def test_crawl_on_a_terminal_shows_the_bar_and_a_table_piped_none(moto_endpoint: str) -> None:
    _queues(moto_endpoint)
    args = ["crawl", "sqs", "list-queues", "--regions", "us-east-1,eu-west-1"]
    code, shown = _on_a_terminal([*args, *_where(moto_endpoint)])
    assert code == 0, shown
    assert "━" in shown and "2/2 targets" in shown and "in flight" in shown  # the bar
    assert "┃ account" in shown and "┃ item" in shown  # the items' table
    assert "2 targets: 2 ok, 0 skipped, 0 failed, 0 never visited; 6 items" in shown
    piped = _piped(*args, *_where(moto_endpoint))
    assert piped.returncode == 0, piped.stderr
    assert len([json.loads(line) for line in piped.stdout.splitlines()]) == 6
    assert "┃" not in piped.stdout and "in flight" not in piped.stderr
    assert "\x1b[" not in piped.stdout + piped.stderr  # no colour, no cursor movement


def test_inventory_on_a_terminal_shows_the_bar_piped_none(
    moto_endpoint: str, tmp_path: Path
) -> None:
    _queues(moto_endpoint)
    args = [
        "inventory", "--regions", "us-east-1,eu-west-1", "--resources", "sqs.queues",
        *_where(moto_endpoint),
    ]  # fmt: skip
    code, shown = _on_a_terminal([*args, "--out", str(tmp_path / "a.db")])
    assert code == 0, shown
    assert "━" in shown and "2/2 units" in shown and "in flight" in shown
    assert "2 units: 2 ok, 0 skipped, 0 failed, 0 never visited; 6 items" in shown
    piped = _piped(*args, "--out", str(tmp_path / "b.db"))
    assert piped.returncode == 0, piped.stderr
    assert "in flight" not in piped.stderr and "\x1b[" not in piped.stderr
    assert "2 units: 2 ok, 0 skipped, 0 failed, 0 never visited; 6 items" in piped.stderr
    assert piped.stdout == ""


def test_call_fan_out_on_a_terminal_is_a_table_piped_json_lines(moto_endpoint: str) -> None:
    args = ["call", "sts", "get-caller-identity", "--regions", "us-east-1,eu-west-1"]
    code, shown = _on_a_terminal([*args, *_where(moto_endpoint)])
    assert code == 0, shown
    assert "┃ account" in shown and "┃ status" in shown and "│ ok " in shown
    piped = _piped(*args, *_where(moto_endpoint))
    records = [json.loads(line) for line in piped.stdout.splitlines()]
    assert sorted(r["region"] for r in records) == ["eu-west-1", "us-east-1"]
    assert "┃" not in piped.stdout
