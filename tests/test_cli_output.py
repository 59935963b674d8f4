"""The command line's one output layer (``aiokit/cli/_output.py``) and ``--query`` as the
AWS CLI applies it, as subprocesses against moto.

The expected values of the ``--query`` parity tests are written by hand from the AWS CLI's
documented behaviour: for a paginated operation it merges every page's result keys into
one response (botocore's ``build_full_result``) and applies ``--query`` once to that;
``--max-items`` puts a ``NextToken`` in the merged result; ``--output text`` prints a list
of scalars tab-separated on one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

ROOT = Path(__file__).parents[1]
KEYS = [f"k{n:03}" for n in range(7)]


def aiokit_cli(*args: str, python: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="250")  # a table wide enough not to fold
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, *(python or ["-m", "aiokit.cli"]), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _where(endpoint: str) -> list[str]:
    return ["--endpoint-url", endpoint, "--region", "us-east-1"]


@pytest.fixture
def bucket(moto_endpoint: str) -> str:
    """A bucket of 7 one-byte objects, k000 ... k006."""
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="parity")
    for key in KEYS:
        s3.put_object(Bucket="parity", Key=key, Body=b"x")
    return "parity"


def _paginate(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    return aiokit_cli(
        "paginate", "s3", "list-objects-v2", "--param", "Bucket=parity", "--page-size", "2",
        *args, *_where(endpoint),
    )  # fmt: skip


# --- --query parity with the AWS CLI: on the merged result ----------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Contents[].Key", KEYS),  # every key, not one list per page
        ("length(Contents)", 7),  # 7, not 2, 2, 2, 1
        ("Contents[0].Key", "k000"),  # the first key overall, not the first of each page
        ("Contents[-1].Key", "k006"),
        ("Contents[?Size == `1`] | length(@)", 7),
        ("KeyCount", None),  # not a result key: not merged, so null as the AWS CLI prints
    ],
    ids=["keys", "length", "first", "last", "filter", "not-a-result-key"],
)
def test_query_applies_to_the_merged_result(
    moto_endpoint: str, bucket: str, query: str, expected: Any
) -> None:
    result = _paginate(moto_endpoint, "--query", query)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == expected


def test_the_merged_result_is_the_aws_clis(moto_endpoint: str, bucket: str) -> None:
    result = _paginate(moto_endpoint)
    assert result.returncode == 0, result.stderr
    merged = json.loads(result.stdout)
    assert [c["Key"] for c in merged["Contents"]] == KEYS
    assert "NextToken" not in merged and "ContinuationToken" not in merged
    assert result.stdout.startswith('{\n    "Contents": [')  # indented by 4, as the AWS CLI


def test_text_of_a_list_of_keys_is_one_tab_separated_line(moto_endpoint: str, bucket: str) -> None:
    result = _paginate(moto_endpoint, "--query", "Contents[].Key", "--output", "text")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "\t".join(KEYS) + "\n"


def test_max_items_puts_the_next_token_in_the_merged_result(
    moto_endpoint: str, bucket: str
) -> None:
    first = _paginate(moto_endpoint, "--max-items", "3")
    assert first.returncode == 0, first.stderr
    merged = json.loads(first.stdout)
    assert [c["Key"] for c in merged["Contents"]] == KEYS[:3]
    token = merged["NextToken"]
    assert f"NextToken: {token}" in first.stderr  # said on stderr too: a --query may drop it
    rest = _paginate(moto_endpoint, "--starting-token", token, "--query", "Contents[].Key")
    assert rest.returncode == 0, rest.stderr
    assert json.loads(rest.stdout) == KEYS[3:]
    queried = _paginate(moto_endpoint, "--max-items", "3", "--query", "NextToken")
    assert json.loads(queried.stdout) == token


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("Contents[", "--query: invalid JMESPath expression 'Contents['"),
        ("abs(Contents)", "--query: JMESPath expression 'abs(Contents)' fails on the result"),
    ],
    ids=["syntax", "fails-on-the-result"],
)
def test_a_bad_query_is_one_line_and_exit_2(
    moto_endpoint: str, bucket: str, query: str, message: str
) -> None:
    result = _paginate(moto_endpoint, "--query", query)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error:") and result.stderr.count("error:") == 1
    assert message in result.stderr and "hint: --query takes a JMESPath" in result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr


# --- crawl --query: per item, and never silently nothing -------------------------------------


def _crawl(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    return aiokit_cli(
        "crawl", "s3", "list-objects-v2", "--param", "Bucket=parity", "--regions", "us-east-1",
        *args, *_where(endpoint),
    )  # fmt: skip


def test_crawl_query_applies_to_each_item(moto_endpoint: str, bucket: str) -> None:
    result = _crawl(moto_endpoint, "--query", "Key", "--output", "jsonl")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["item"] for line in result.stdout.splitlines()] == KEYS
    assert "warning" not in result.stderr


def test_crawl_query_matching_nothing_warns(moto_endpoint: str, bucket: str) -> None:
    """A query written for a whole response matches nothing on an item: exit 0 (the crawl
    went fine), no items, and one warning line saying why."""
    result = _crawl(moto_endpoint, "--query", "Contents[].Key")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: --query 'Contents[].Key' matched nothing in 7 items: crawl applies it to "
        "each item (e.g. 'Key', not 'Contents[].Key')"
    ]


def test_crawl_format_is_a_deprecated_alias_of_output(moto_endpoint: str, bucket: str) -> None:
    result = _crawl(moto_endpoint, "--format", "jsonl", "--query", "Key")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["item"] for line in result.stdout.splitlines()] == KEYS
    deprecations = [line for line in result.stderr.splitlines() if "deprecated" in line]
    assert deprecations == [
        "warning: --format is deprecated: use --output (it takes the same values)"
    ]
    both = _crawl(moto_endpoint, "--format", "jsonl", "--output", "jsonl")
    assert both.returncode == 2 and "give --output only" in both.stderr


# --- every --output format, per command family ----------------------------------------------


def _keys_of(output: str, stdout: str) -> list[str]:
    """The S3 keys a command printed, read back from ``output``'s format."""
    if output == "json":
        value: Any = json.loads(stdout)
    elif output == "yaml":
        value = yaml.safe_load(stdout)
    elif output == "jsonl":
        value = [json.loads(line) for line in stdout.splitlines()]
    else:  # text, table: the keys as they appear
        return [k for k in KEYS if k in stdout]
    found = json.dumps(value)
    return [k for k in KEYS if f'"{k}"' in found]


FORMATS = ["json", "jsonl", "text", "table", "yaml"]


@pytest.mark.parametrize("output", FORMATS, ids=FORMATS)
@pytest.mark.parametrize(
    "command",
    [
        ["paginate", "s3", "list-objects-v2", "--param", "Bucket=parity", "--page-size", "2"],
        ["crawl", "s3", "list-objects-v2", "--param", "Bucket=parity", "--regions", "us-east-1"],
        ["call", "s3", "list-objects-v2", "--param", "Bucket=parity"],
        ["call", "s3", "list-objects-v2", "--param", "Bucket=parity", "--regions", "us-east-1"],
    ],
    ids=["paginate", "crawl", "call", "call-fan-out"],
)
def test_every_output_format(
    moto_endpoint: str, bucket: str, command: list[str], output: str
) -> None:
    result = aiokit_cli(*command, "--output", output, *_where(moto_endpoint))
    assert result.returncode == 0, result.stderr
    assert _keys_of(output, result.stdout) == KEYS, result.stdout
    decorated = "┏" in result.stdout and "┃" in result.stdout
    assert decorated == (output == "table")  # a real table, and only when asked
    if output == "table":
        assert "┃ Key" in result.stdout or "┃ result" in result.stdout
        assert "Key=" not in result.stdout  # not Key=value lines
    if output == "jsonl" and command[0] != "call":
        assert len(result.stdout.splitlines()) == 7  # one item a line


TARGET = {"account": "123456789012", "name": None, "region": "us-east-1", "ou": None}
CHECKS: dict[str, Callable[[str], bool]] = {
    "json": lambda out: json.loads(out) == [TARGET],
    "jsonl": lambda out: [json.loads(line) for line in out.splitlines()] == [TARGET],
    "text": lambda out: out == "123456789012\tNone\tNone\tus-east-1\n",
    "table": lambda out: "┃ account" in out and "│ 123456789012 │" in out,
    "yaml": lambda out: yaml.safe_load(out) == [TARGET],
}


@pytest.mark.parametrize("output", FORMATS, ids=FORMATS)
def test_targets_in_every_format(moto_endpoint: str, output: str) -> None:
    result = aiokit_cli("targets", "--regions", "us-east-1", "--output", output,
                        *_where(moto_endpoint))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert CHECKS[output](result.stdout), result.stdout


@pytest.mark.parametrize("output", FORMATS, ids=FORMATS)
def test_inventory_list_in_every_format(output: str) -> None:
    result = aiokit_cli("inventory", "list", "--output", output)
    assert result.returncode == 0, result.stderr
    if output in ("json", "yaml"):
        rows = (json.loads if output == "json" else yaml.safe_load)(result.stdout)
        assert any(r["name"] == "s3.buckets" and r["global"] is True for r in rows)
    elif output == "jsonl":
        assert json.loads(result.stdout.splitlines()[0])["name"]
    else:
        assert "s3.buckets" in result.stdout
        assert ("┃ name" in result.stdout) == (output == "table")


def test_piped_defaults_are_never_decorative(moto_endpoint: str, bucket: str) -> None:
    """Piped: json for a one-off, jsonl for what streams; no box drawing anywhere."""
    paginate = _paginate(moto_endpoint)
    crawl = _crawl(moto_endpoint)
    targets = aiokit_cli("targets", "--regions", "us-east-1", *_where(moto_endpoint))
    assert json.loads(paginate.stdout)["Contents"]  # one document
    assert len(crawl.stdout.splitlines()) == 7  # one item a line
    assert json.loads(targets.stdout) == [TARGET]
    for result in (paginate, crawl, targets):
        assert result.returncode == 0, result.stderr
        assert "┃" not in result.stdout and "━" not in result.stdout
        assert "in flight" not in result.stderr  # no progress bar


# --- hostile ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["paginate", "s3", "list-objects-v2"],
        ["crawl", "s3", "list-objects-v2"],
        ["call", "sts", "get-caller-identity"],
        ["targets"],
        ["inventory", "list"],
        ["inventory", "diff"],
    ],
    ids=["paginate", "crawl", "call", "targets", "inventory-list", "inventory-diff"],
)
def test_an_unknown_output_is_a_usage_error(moto_endpoint: str, command: list[str]) -> None:
    result = aiokit_cli(*command, "--output", "nope", *(_where(moto_endpoint)
                        if command[0] != "inventory" else []))  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "'nope' is not one of 'json', 'jsonl', 'text', 'table', 'yaml'" in result.stderr
    assert result.stderr.startswith("error:") and "Traceback" not in result.stderr


def test_crawl_output_to_stdout_only_with_out_is_refused(
    moto_endpoint: str, bucket: str, tmp_path: Path
) -> None:
    result = _crawl(moto_endpoint, "--output", "json", "--out", str(tmp_path / "o.jsonl"))
    assert result.returncode == 2
    assert "--output json prints to stdout: drop --out, or use jsonl, csv or sqlite" in (
        result.stderr
    )


def test_yaml_without_pyyaml_is_one_clear_error(moto_endpoint: str) -> None:
    """PyYAML blocked: one line naming the extra, exit 2, before any request."""
    blocked = ["-c", "import sys; sys.modules['yaml'] = None; from aiokit.cli import main; main()"]
    result = aiokit_cli(
        "call", "sts", "get-caller-identity", "--output", "yaml", *_where(moto_endpoint),
        python=blocked,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: --output yaml needs PyYAML, in the cli extra")
    assert "pip install 'aiokit[cli]'" in result.stderr and result.stdout == ""
    assert "Traceback" not in result.stderr


def _head_1(args: list[str]) -> tuple[str, int, str, bool]:
    """``aiokit ARGS | head -1``: the first line, the exit code, stderr, and whether the
    command was still running when its reader went away."""
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
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.stderr.close()
    return first, process.wait(timeout=120), stderr, running


def test_crawl_into_head_1_exits_0_quietly(moto_endpoint: str) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="long")
    for n in range(60):
        s3.put_object(Bucket="long", Key=f"k{n:03}", Body=b"x")
    first, code, stderr, running = _head_1(
        [
            "crawl", "s3", "list-objects-v2", "--param", "Bucket=long", "--param", "MaxKeys=1",
            "--regions", "us-east-1", "--query", "Key", *_where(moto_endpoint),
        ]
    )  # fmt: skip
    assert json.loads(first)["item"] == "k000"
    assert running, "the crawl ended before its reader went away: make it longer"
    assert code == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr


# --- demo --member-accounts (was --accounts N) ------------------------------------------------


def test_demo_accounts_is_a_deprecated_alias_of_member_accounts(tmp_path: Path) -> None:
    """The old name still works, with one line; both names at once is a usage error. (The
    --out in a missing directory stops the demo before its emulator starts.)"""
    nowhere = str(tmp_path / "nowhere" / "demo.db")
    old = aiokit_cli("demo", "--accounts", "2", "--out", nowhere)
    assert old.returncode == 2, old.stderr
    assert old.stderr.splitlines()[0] == (
        "warning: demo --accounts N is deprecated: use --member-accounts N (it takes the same "
        "values)"
    )
    assert "does not exist" in old.stderr and "Traceback" not in old.stderr
    new = aiokit_cli("demo", "--member-accounts", "2", "--out", nowhere)
    assert new.returncode == 2 and "deprecated" not in new.stderr
    both = aiokit_cli("demo", "--accounts", "2", "--member-accounts", "2", "--out", nowhere)
    assert both.returncode == 2 and "old name of --member-accounts" in both.stderr
    assert "--member-accounts N" in aiokit_cli("demo", "-h").stdout
    assert "--accounts" not in aiokit_cli("demo", "-h").stdout  # hidden


# --- shell completion (click's), as the guide documents it ------------------------------------


def _complete(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, **env)
    full["PYTHONPATH"] = os.pathsep.join([str(ROOT), full.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "aiokit.cli"], capture_output=True, text=True, env=full, timeout=60
    )


@pytest.mark.parametrize(
    ("shell", "start"),
    [("bash", "_aiokit_completion() {"), ("zsh", "#compdef aiokit"), ("fish", "function")],
    ids=["bash", "zsh", "fish"],
)
def test_completion_sources_generate(shell: str, start: str) -> None:
    result = _complete({"_AIOKIT_COMPLETE": f"{shell}_source"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(start) and "_AIOKIT_COMPLETE" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("words", "cword", "offered"),
    [
        ("aiokit cr", "1", ["crawl"]),
        ("aiokit inventory d", "2", ["diff"]),
        ("aiokit paginate s3 x --output ", "5", ["json", "jsonl", "text", "table", "yaml"]),
    ],
    ids=["command", "subcommand", "output-values"],
)
def test_bash_completion_offers_the_commands(words: str, cword: str, offered: list[str]) -> None:
    result = _complete(
        {"_AIOKIT_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": cword}
    )
    assert result.returncode == 0, result.stderr
    assert [line.split(",", 1)[1] for line in result.stdout.splitlines()] == offered


# --- kebab-case parameter names (--param queue-name=q) ----------------------------------------


def test_kebab_case_parameter_names_map_to_the_api_names(moto_endpoint: str, bucket: str) -> None:
    made = aiokit_cli("call", "sqs", "create-queue", "--param", "queue-name=kebab",
                      *_where(moto_endpoint))  # fmt: skip
    assert made.returncode == 0, made.stderr
    url = aiokit_cli("call", "sqs", "get-queue-url", "--param", "queue-name=kebab",
                     "--query", "QueueUrl", *_where(moto_endpoint))  # fmt: skip
    assert url.returncode == 0, url.stderr
    assert json.loads(url.stdout).endswith("/kebab")
    listed = aiokit_cli("paginate", "s3", "list-objects-v2", "--param", "bucket=parity",
                        "--query", "length(Contents)", *_where(moto_endpoint))  # fmt: skip
    assert (listed.returncode, json.loads(listed.stdout)) == (0, 7), listed.stderr
    crawled = _crawl(moto_endpoint, "--query", "Key", "--output", "jsonl", "--param", "max-keys=2")
    assert crawled.returncode == 0, crawled.stderr
    assert [json.loads(line)["item"] for line in crawled.stdout.splitlines()] == KEYS


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["call", "sqs", "get-queue-url", "--param", "queue-nme=q"],
         "sqs GetQueueUrl has no parameter 'queue-nme'; did you mean queue-name?"),
        (["call", "sqs", "get-queue-url", "--param", "queue-name=q", "--param", "QueueName=q"],
         "QueueName is given twice (as queue-name and QueueName): give it once"),
        (["paginate", "s3", "list-objects-v2", "--param", "bucket-nam=b"],
         "s3 ListObjectsV2 has no parameter 'bucket-nam'; did you mean bucket?"),
    ],
    ids=["unknown", "twice", "paginate-unknown"],
)  # fmt: skip
def test_an_unknown_kebab_parameter_is_one_line_with_close_names(
    moto_endpoint: str, args: list[str], message: str
) -> None:
    result = aiokit_cli(*args, *_where(moto_endpoint))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {message}"), result.stderr
    assert result.stderr.count("error:") == 1 and "Traceback" not in result.stderr
