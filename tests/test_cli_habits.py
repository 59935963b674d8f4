"""The command line with the AWS CLI's habits (issue 20), as a subprocess against moto.

``-h``, kebab-case operation and waiter names, a quiet exit 0 on a closed pipe (``| head``),
ISO-8601 timestamps on every command, and ``aiokit call``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).parents[1]
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")


def aiokit_cli(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "aiokit.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        **kw,
    )


def _s3(endpoint: str, keys: int = 5, bucket: str = "habits") -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    for n in range(keys):
        s3.put_object(Bucket=bucket, Key=f"k{n:03}", Body=b"x")


def _where(endpoint: str) -> list[str]:
    return ["--endpoint-url", endpoint, "--region", "us-east-1"]


# --- -h and kebab-case names ----------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [[], ["paginate"], ["crawl"], ["wait"], ["targets"], ["demo"], ["inventory"]],
    ids=["aiokit", "paginate", "crawl", "wait", "targets", "demo", "inventory"],
)
def test_dash_h_is_help_everywhere(args: list[str]) -> None:
    short, long = aiokit_cli(*args, "-h"), aiokit_cli(*args, "--help")
    assert short.returncode == 0, short.stderr
    assert short.stdout == long.stdout
    assert short.stdout.startswith("Usage: aiokit")


def test_paginate_takes_kebab_case(moto_endpoint: str) -> None:
    _s3(moto_endpoint, keys=3)
    result = aiokit_cli(
        "paginate", "s3", "list-objects-v2", "--param", "Bucket=habits",
        "--query", "Contents[].Key", *_where(moto_endpoint),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["k000", "k001", "k002"]


def test_crawl_takes_kebab_case(moto_endpoint: str) -> None:
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    for n in range(3):
        sqs.create_queue(QueueName=f"kebab-{n}")
    result = aiokit_cli(
        "crawl", "sqs", "list-queues", "--output", "jsonl", "--regions", "us-east-1",
        *_where(moto_endpoint),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(r["item"].rsplit("/", 1)[1] for r in rows) == ["kebab-0", "kebab-1", "kebab-2"]
    assert {r["operation"] for r in rows} == {"list_queues"}


def test_wait_takes_kebab_case(moto_endpoint: str) -> None:
    _s3(moto_endpoint, keys=0)
    result = aiokit_cli(
        "wait", "s3", "bucket-exists", "--param", "Bucket=habits", *_where(moto_endpoint)
    )
    assert result.returncode == 0, result.stderr
    assert "done" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["paginate", "s3", "list-objects-v3", "--param", "Bucket=b"],
            "s3 has no operation 'list-objects-v3'; did you mean list-objects-v2",
        ),
        (["crawl", "ec2", "describe-instancs"], "did you mean describe-instances"),
        (["wait", "ec2", "instance-runing"], "did you mean instance-running"),
        (["wait", "sts", "caller-ready"], "sts has no waiters"),
        (["paginate", "no-such-service", "list-things"], "unknown service 'no-such-service'"),
        (["wait", "no-such-service", "thing-ready"], "unknown service 'no-such-service'"),
        (["paginate", "s3", "-"], "s3 has no operation '-'"),
        (["paginate", "s3", "list--objects"], "s3 has no operation 'list--objects'"),
        (["paginate", "s3", "list-objects-v2-" * 200], "s3 has no operation"),
    ],
    ids=[
        "paginate", "crawl", "waiter", "no-waiters", "service", "waiter-service", "dash",
        "double-dash", "huge",
    ],
)  # fmt: skip
def test_unknown_kebab_names_are_one_line_and_exit_2(
    moto_endpoint: str, args: list[str], message: str
) -> None:
    result = aiokit_cli(*args, *_where(moto_endpoint))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error:") and result.stderr.count("error:") == 1


# --- a closed pipe --------------------------------------------------------------------------


def _head_1(args: list[str]) -> tuple[str, int, str, bool]:
    """``aiokit ARGS | head -1``: the first line, the exit code, stderr, and whether the
    command was still running when its reader went away (else the test proves nothing)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    process = subprocess.Popen(
        [sys.executable, "-m", "aiokit.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline().decode()
    running = process.poll() is None
    process.stdout.close()  # head -1 has its line and exits
    stderr = process.stderr.read().decode()
    process.stderr.close()
    return first, process.wait(timeout=120), stderr, running


def test_paginate_into_head_1_exits_0_quietly(moto_endpoint: str) -> None:
    _s3(moto_endpoint, keys=60)
    first, code, stderr, running = _head_1(
        [
            "paginate", "s3", "list-objects-v2", "--param", "Bucket=habits",
            "--param", "MaxKeys=1", "--output", "jsonl", *_where(moto_endpoint),
        ]
    )  # fmt: skip
    assert json.loads(first)["Key"] == "k000"
    assert running, "the listing ended before its reader went away: make it longer"
    assert code == 0, stderr
    assert stderr == ""  # no traceback, no "Exception ignored ... BrokenPipeError"


# --- ISO-8601 timestamps everywhere ---------------------------------------------------------


def _timestamps(line: str) -> list[str]:
    return re.findall(r"LastModified[\"'=: ]+([0-9][^\"'\s,}]*)", line)


@pytest.mark.parametrize(
    "args",
    [
        ["paginate", "s3", "list-objects-v2", "--output", "jsonl"],
        ["paginate", "s3", "list-objects-v2", "--output", "json"],
        ["paginate", "s3", "list-objects-v2", "--output", "yaml"],
        ["paginate", "s3", "list-objects-v2", "--output", "text"],
        ["crawl", "s3", "list-objects-v2", "--regions", "us-east-1", "--output", "jsonl"],
        ["crawl", "s3", "list-objects-v2", "--regions", "us-east-1", "--output", "json"],
        ["crawl", "s3", "list-objects-v2", "--regions", "us-east-1", "--output", "text"],
    ],
    ids=[
        "paginate-jsonl", "paginate-json", "paginate-yaml", "paginate-text", "crawl-jsonl",
        "crawl-json", "crawl-text",
    ],
)  # fmt: skip
def test_timestamps_are_iso_8601(moto_endpoint: str, args: list[str]) -> None:
    _s3(moto_endpoint, keys=2)
    result = aiokit_cli(*args, "--param", "Bucket=habits", *_where(moto_endpoint))
    assert result.returncode == 0, result.stderr
    if args[0] == "paginate" and args[-1] == "text":  # the AWS CLI text: columns sorted
        rows = [line.split("\t") for line in result.stdout.splitlines() if "k00" in line]
        stamps = [next(c for c in row if c[:1].isdigit() and "T" in c) for row in rows]
    else:
        stamps = [s for line in result.stdout.splitlines() for s in _timestamps(line)]
    assert len(stamps) == 2, result.stdout
    assert all(ISO.match(s.strip("'")) for s in stamps), stamps


# --- aiokit call ----------------------------------------------------------------------------

ROLE = "OrganizationAccountAccessRole"
ETAG = '"9dd4e461268c8034f5c8564e155c67a6"'  # md5 of b"x"


def test_call_prints_the_response_as_the_aws_cli(moto_endpoint: str) -> None:
    result = aiokit_cli("call", "sts", "get-caller-identity", *_where(moto_endpoint))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "UserId": "AKIAIOSFODNN7EXAMPLE",
        "Account": "123456789012",
        "Arn": "arn:aws:sts::123456789012:user/moto",
    }  # ResponseMetadata dropped
    assert result.stdout.startswith('{\n    "UserId"')  # indented by 4, as `aws` prints it


def test_call_takes_snake_and_camel_case_and_a_query(moto_endpoint: str) -> None:
    for name in ("get_caller_identity", "GetCallerIdentity"):
        result = aiokit_cli(
            "call", "sts", name, "--query", "Account", "--output", "text", *_where(moto_endpoint)
        )
        assert (result.returncode, result.stdout) == (0, "123456789012\n"), result.stderr


def test_call_output_text_is_the_aws_clis(moto_endpoint: str) -> None:
    _s3(moto_endpoint, keys=2)
    result = aiokit_cli(
        "call", "s3", "list-objects-v2", "--param", "Bucket=habits", "--output", "text",
        *_where(moto_endpoint),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    # What `aws s3api list-objects-v2 --output text` prints: the response's scalars on one
    # line (keys sorted: EncodingType, which botocore asks for, IsTruncated KeyCount MaxKeys
    # Name Prefix), then a CONTENTS line per object (ETag Key LastModified Size StorageClass)
    # followed by its CHECKSUMALGORITHM list.
    assert rows[0] == ["url", "False", "2", "1000", "habits", ""]
    assert [r[0] for r in rows[1:]] == ["CONTENTS", "CHECKSUMALGORITHM"] * 2
    assert [r[1:3] for r in rows[1::2]] == [[ETAG, "k000"], [ETAG, "k001"]]
    assert all(ISO.match(r[3]) for r in rows[1::2]) and {r[4] for r in rows[1::2]} == {"1"}
    assert rows[2] == ["CHECKSUMALGORITHM", "CRC32"]


def test_call_output_table_and_iso_timestamps(moto_endpoint: str) -> None:
    _s3(moto_endpoint, keys=2)
    where = ["--param", "Bucket=habits", *_where(moto_endpoint)]
    table = aiokit_cli(
        "call", "s3", "list-objects-v2", *where, "--query", "Contents[].{key: Key, size: Size}",
        "--output", "table",
    )  # fmt: skip
    assert table.returncode == 0, table.stderr
    assert re.search(r"key\s*┃\s*size", table.stdout)
    assert re.search(r"k000\s*│\s*1\s*│", table.stdout) and "k001" in table.stdout
    listed = aiokit_cli("call", "s3", "list-objects-v2", *where)
    assert listed.returncode == 0, listed.stderr
    stamps = [o["LastModified"] for o in json.loads(listed.stdout)["Contents"]]
    assert len(stamps) == 2 and all(ISO.match(s) for s in stamps), stamps


def test_call_across_regions_is_a_fan_out_and_exits_1_on_a_failed_target(
    moto_endpoint: str,
) -> None:
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    url = sqs.create_queue(QueueName="only-here")["QueueUrl"]
    result = aiokit_cli(
        "call", "sqs", "get-queue-url", "--param", "QueueName=only-here",
        "--regions", "us-east-1,eu-west-1", *_where(moto_endpoint),
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    records = {r["region"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert records["us-east-1"] == {
        "account": "123456789012",
        "region": "us-east-1",
        "status": "ok",
        "result": {"QueueUrl": url},
    }
    failed = records["eu-west-1"]
    assert (failed["status"], failed["reason"]) == (
        "failed",
        "error: AWS.SimpleQueueService.NonExistentQueue",
    )
    assert "2 targets: 1 ok, 0 skipped, 1 failed" in result.stderr


def test_call_across_the_organization(fake_organization: Any, moto_endpoint: str) -> None:
    result = aiokit_cli(
        "call", "sts", "get-caller-identity", "--query", "Account", "--accounts", "org",
        "--role", ROLE, "--regions", "us-east-1", "--output", "text", *_where(moto_endpoint),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert len(rows) == 6
    # Each target's call ran as that account: the account it answers is the target's own.
    assert all(r[1:3] == ["us-east-1", "ok"] and r[3] == r[0] for r in rows), rows
    assert len({r[0] for r in rows}) == 6
    assert "6 targets: 6 ok, 0 skipped, 0 failed" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sts", "get-caller-identiti"], "did you mean get-caller-identity"),
        (["sts", "get_caller_identiti"], "sts has no operation 'get_caller_identiti'"),
        (["no-such", "get-thing"], "unknown service 'no-such'"),
        (["sqs", "get-queue-url"], 'Missing required parameter in input: "QueueName"'),
        (["sqs", "get-queue-url", "--param", "QueueNam=q"], 'Unknown parameter in input: "Que'),
        (["s3", "list-objects-v2", "--param", "Bucket=b", "--param", "MaxKeys=many"], "MaxKeys"),
        (["sts", "get-caller-identity", "--param", "A=1"], 'Unknown parameter in input: "A"'),
        (
            ["sqs", "get-queue-url", "--param", "QueueName=a", "--params", '{"QueueName": "b"}'],
            "QueueName is given both by --param and in --params",
        ),
        (
            ["sqs", "get-queue-url", "--param", "QueueName=a", "--param", "QueueName=b"],
            "--param QueueName is given twice",
        ),
        (["sqs", "get-queue-url", "--params", "{QueueName"], "--params is not JSON"),
        (["sqs", "get-queue-url", "--params", "[1]"], "--params must be a JSON object"),
        (["sqs", "get-queue-url", "--param", "QueueName"], "expected Name=value"),
        (["sts", "get-caller-identity", "--query", "Account["], "invalid JMESPath"),
        (["sts", "get-caller-identity", "--output", "xml"], "'xml' is not one of"),
        (["sts", "get-caller-identity", "--regions", "us-east-1", "--concurrency", "0"], "0"),
        (["sts", "get-caller-identity", "--concurrency", "-1"], "--concurrency"),
        (["sts", "get-caller-identity", "--concurrency", "9" * 30], "--concurrency"),
        (["sts", "get-caller-identity", "--role", ROLE], "--role and --external-id need"),
        (["sts", "get-caller-identity", "--regions", "mars-1"], "unknown region 'mars-1'"),
        (["sts", "get-caller-identity", "--accounts", ""], "names no account"),
        (["sts", "x" * 5000], "sts has no operation"),
        (["s3", "get-object", "--param", "Bucket=b", "--param", "Key=k"], "a stream of bytes"),
    ],
    ids=[
        "kebab-typo", "snake-typo", "service", "missing-param", "unknown-param", "wrong-type",
        "no-params", "param-and-params", "param-twice", "params-not-json", "params-list",
        "param-no-equals", "query", "output", "concurrency-0", "concurrency-negative",
        "concurrency-huge", "role-alone", "regions", "accounts-empty", "huge-name", "streaming",
    ],
)  # fmt: skip
def test_call_refuses_bad_input_in_one_line_exit_2(
    moto_endpoint: str, args: list[str], message: str
) -> None:
    result = aiokit_cli("call", *args, *_where(moto_endpoint))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.startswith("error:") and result.stderr.count("error:") == 1


def test_paginate_refuses_a_key_in_both_param_and_params(moto_endpoint: str) -> None:
    result = aiokit_cli(
        "paginate", "s3", "list-objects-v2", "--param", "Bucket=a",
        "--params", '{"Bucket": "b"}', *_where(moto_endpoint),
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Bucket is given both by --param and in --params" in result.stderr


# --- paginate --max-items / --page-size / --starting-token ---------------------------------


def _next_token(stderr: str) -> str | None:
    found = re.findall(r"^NextToken: (\S+)$", stderr, re.MULTILINE)
    assert len(found) <= 1, stderr
    return found[0] if found else None


def test_max_items_and_starting_token_walk_the_listing_as_the_aws_cli(moto_endpoint: str) -> None:
    _s3(moto_endpoint, keys=7)
    base = [
        "paginate", "s3", "list-objects-v2", "--param", "Bucket=habits",
        "--query", "Contents[].Key", "--page-size", "2", *_where(moto_endpoint),
    ]  # fmt: skip
    # The AWS CLI's semantics: --max-items N prints N items and, as the listing goes on, the
    # NextToken; --starting-token continues right after the last item printed (mid-page
    # too: pages of 2, cut at 3), so the runs together print every key once, in order.
    keys: list[str] = []
    token: str | None = None
    for _ in range(3):
        extra = ["--starting-token", token] if token else []
        result = aiokit_cli(*base, "--max-items", "3", *extra)
        assert result.returncode == 0, result.stderr
        keys += json.loads(result.stdout)
        token = _next_token(result.stderr)
        if token is None:
            break
    assert keys == [f"k{n:03}" for n in range(7)]
    assert token is None  # the third run reached the end: no NextToken


def test_no_next_token_without_max_items(moto_endpoint: str) -> None:
    _s3(moto_endpoint, keys=3)
    result = aiokit_cli(
        "paginate", "s3", "list-objects-v2", "--param", "Bucket=habits", "--page-size", "1",
        "--query", "Contents[].Key", *_where(moto_endpoint),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 3 and "NextToken" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-items", "0"], "--max-items"),
        (["--max-items", "-1"], "--max-items"),
        (["--max-items", "many"], "--max-items"),
        (["--max-items", "9" * 30], "--max-items"),
        (["--page-size", "0"], "--page-size"),
        (["--page-size", "9" * 30], "--page-size"),
        (["--starting-token", "garbage"], "StartingToken is not a resume token"),
        (["--starting-token", ""], "StartingToken must be a resume token"),
        (
            ["--max-items", "2", "--params", '{"PaginationConfig": {"MaxItems": 3}}'],
            "--max-items and PaginationConfig MaxItems in --params",
        ),
    ],
    ids=[
        "max-items-0", "max-items-negative", "max-items-text", "max-items-huge", "page-size-0",
        "page-size-huge", "token-garbage", "token-empty", "max-items-twice",
    ],
)  # fmt: skip
def test_pagination_options_refuse_bad_values(
    moto_endpoint: str, args: list[str], message: str
) -> None:
    result = aiokit_cli(
        "paginate", "s3", "list-objects-v2", "--param", "Bucket=habits", *args,
        *_where(moto_endpoint),
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.startswith("error:") and result.stderr.count("error:") == 1


def test_page_size_where_aws_sets_the_page_size_is_refused(moto_endpoint: str) -> None:
    result = aiokit_cli("paginate", "sns", "list-subscriptions", "--page-size", "5",
                        *_where(moto_endpoint))  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "PageSize is not supported by this operation" in result.stderr


# --- targets: singular, and plain text when piped ------------------------------------------


def test_targets_piped_is_json_and_says_1_target(moto_endpoint: str) -> None:
    result = aiokit_cli("targets", "--regions", "us-east-1", *_where(moto_endpoint))
    assert result.returncode == 0, result.stderr
    # No box drawing when piped: one JSON document.
    record = {"account": "123456789012", "name": None, "region": "us-east-1", "ou": None}
    assert json.loads(result.stdout) == [record]
    assert result.stderr.strip() == "1 target"
    text = aiokit_cli("targets", "--regions", "us-east-1", "--output", "text",
                      *_where(moto_endpoint))  # fmt: skip
    # The AWS CLI's text: the columns sorted by key (account, name, ou, region), None for null.
    assert text.stdout == "123456789012\tNone\tNone\tus-east-1\n"


def test_targets_of_the_organization_as_json_and_table(
    fake_organization: Any, moto_endpoint: str
) -> None:
    args = ["targets", "--accounts", "org", "--role", ROLE, "--regions", "us-east-1"]
    result = aiokit_cli(*args, "--output", "json", *_where(moto_endpoint))
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    lines = aiokit_cli(*args, "--output", "jsonl", *_where(moto_endpoint))
    assert [json.loads(line) for line in lines.stdout.splitlines()] == records
    assert len(records) == 6 and {r["region"] for r in records} == {"us-east-1"}
    assert all(r["ou"].startswith("Root/") and r["name"] for r in records), records
    assert result.stderr.strip() == "6 targets"
    table = aiokit_cli(*args, "--output", "table", *_where(moto_endpoint))
    assert table.returncode == 0, table.stderr
    assert "┃ account" in table.stdout and table.stdout.count("us-east-1") == 6


def test_include_management_account_adds_it_to_the_organization(
    fake_organization: Any, moto_endpoint: str, tmp_path: Path
) -> None:
    """--include-management-account: the organization's members and its management account
    (here the pool's own, visited as itself); refused without --accounts org. On crawl
    too: the management account's queue is crawled."""
    args = ["targets", "--accounts", "org", "--role", ROLE, "--regions", "us-east-1"]
    members = aiokit_cli(*args, "--output", "jsonl", *_where(moto_endpoint))
    both = aiokit_cli(
        *args, "--include-management-account", "--output", "jsonl", *_where(moto_endpoint)
    )
    assert members.returncode == both.returncode == 0, both.stderr
    ids = {json.loads(line)["account"] for line in members.stdout.splitlines()}
    with_it = {json.loads(line)["account"] for line in both.stdout.splitlines()}
    management = fake_organization.management_account
    assert management not in ids and with_it == ids | {management}
    assert both.stderr.strip() == f"{len(ids) + 1} targets"
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    sqs.create_queue(QueueName="in-the-management-account")
    out = tmp_path / "queues.jsonl"
    crawled = aiokit_cli(
        "crawl", "sqs", "list-queues", "--accounts", "org", "--role", ROLE,
        "--include-management-account", "--regions", "us-east-1", "--out", str(out),
        *_where(moto_endpoint),
    )  # fmt: skip
    assert crawled.returncode == 0, crawled.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert any(r["account"] == management for r in rows), rows
    for command in (
        ["targets"],
        ["crawl", "sqs", "list-queues"],
        ["call", "sts", "get-caller-identity"],
    ):
        refused = aiokit_cli(
            *command, "--accounts", "self", "--include-management-account", *_where(moto_endpoint)
        )
        assert refused.returncode == 2, refused.stderr
        assert "--include-management-account is for --accounts org" in refused.stderr


def test_targets_refuses_an_unknown_output(moto_endpoint: str) -> None:
    result = aiokit_cli("targets", "--output", "nope", *_where(moto_endpoint))
    assert result.returncode == 2 and "'nope' is not one of" in result.stderr


def test_call_with_an_empty_response_prints_nothing(moto_endpoint: str) -> None:
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    url = sqs.create_queue(QueueName="to-delete")["QueueUrl"]
    result = aiokit_cli(
        "call", "sqs", "delete-queue", "--param", f"QueueUrl={url}", *_where(moto_endpoint)
    )
    assert (result.returncode, result.stdout) == (0, ""), result.stderr
    assert sqs.list_queues().get("QueueUrls", []) == []  # the call was made


# --- on a terminal: the progress bar and the table; piped: none of it ----------------------


def _on_a_terminal(args: list[str]) -> tuple[int, str]:
    """``aiokit ARGS`` with stdout and stderr on a pseudo-terminal: its exit code and all it
    wrote there."""
    import pty

    env = dict(os.environ, COLUMNS="160", TERM="xterm")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "aiokit.cli", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the process closed its side
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return process.wait(timeout=120), b"".join(chunks).decode(errors="replace")


def test_a_fan_out_call_shows_a_progress_bar_on_a_terminal_only(moto_endpoint: str) -> None:
    args = ["call", "sts", "get-caller-identity", "--regions", "us-east-1,eu-west-1"]
    code, shown = _on_a_terminal([*args, *_where(moto_endpoint)])
    assert code == 0, shown
    assert "━" in shown and "2/2 targets" in shown and "0 failed" in shown
    assert "2 targets: 2 ok, 0 skipped, 0 failed" in shown
    piped = aiokit_cli(*args, *_where(moto_endpoint))
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == "2 targets: 2 ok, 0 skipped, 0 failed\n"  # no bar, no colour
    assert len(piped.stdout.splitlines()) == 2


def test_targets_is_a_table_on_a_terminal(moto_endpoint: str) -> None:
    code, shown = _on_a_terminal(["targets", "--regions", "us-east-1", *_where(moto_endpoint)])
    assert code == 0, shown
    assert "┏" in shown and "┃" in shown and "│ 123456789012 │" in shown
