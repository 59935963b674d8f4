"""The command line against hostile input: every case ends in an exit code and one clear line.

A table of invocations (bad names, bad numbers, bad files, contradicting options, a closed
stdout, the same command twice), each run as a subprocess against moto: the exit code, a
fragment of stderr, and never a traceback. Output files are checked before the first
request, so none of the file cases may reach AWS at all.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import aiokit

ROOT = Path(__file__).parents[1]


def aiokit_cli(*args: str, stdin: Any = None, **kw: Any) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(
        [sys.executable, "-m", "aiokit.cli", *args],
        text=True,
        env=env,
        timeout=120,
        **kw,
    )


def _random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(4096))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _other_schema(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE items (x INTEGER)")
        db.execute("INSERT INTO items VALUES (1)")


def _corrupt_inventory(path: Path) -> None:
    """A real aiokit inventory whose pages were then overwritten."""
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE runs (run_id TEXT PRIMARY KEY, key TEXT NOT NULL, service TEXT, "
            "operation TEXT, params TEXT, started TEXT, finished TEXT);"
            "CREATE TABLE items (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, account TEXT, "
            "region TEXT, service TEXT, operation TEXT, resource_id TEXT, item TEXT NOT NULL);"
            "CREATE INDEX items_cell ON items (run_id, account, region);"
            "CREATE TABLE outcomes (run_id TEXT NOT NULL, account TEXT, region TEXT, status "
            "TEXT, reason TEXT, error TEXT, duration REAL, items INTEGER, retries INTEGER, "
            "throttles INTEGER, PRIMARY KEY (run_id, account, region));"
        )
        db.executemany(
            "INSERT INTO items (run_id, item, account, region) VALUES ('r', ?, 'a', 'b')",
            [("x" * 200,) for _ in range(200)],
        )
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(3 * page, len(data), page):  # keep the schema page, ruin the data
        data[offset + 8 : offset + page] = os.urandom(page - 8)
    path.write_bytes(bytes(data))


def _a_file(path: Path) -> None:
    path.write_text("a regular file, not a directory\n")


Setup = Callable[[Path], None] | None

# (id, arguments after `aiokit`, setup of {file}, exit code, fragment of stderr). In the
# arguments, {tmp} is a fresh directory and {file} a path in it that setup prepares.
CRAWL = ["crawl", "sqs", "list_queues"]
CASES: list[tuple[str, list[str], Setup, int, str]] = [
    # names
    ("bad-region", [*CRAWL, "--regions", "us-eats-1"], None, 2, "'us-eats-1'"),
    ("bad-pool-region", [*CRAWL, "--region", "us-eats-1"], None, 2, "did you mean us-east-1"),
    ("paginate-bad-region", ["paginate", "sqs", "list_queues", "--region", "us-eats-1"], None,
     2, "unknown region 'us-eats-1'"),
    ("wait-bad-region", ["wait", "dynamodb", "table_exists", "--region", "mars-1"], None, 2,
     "'mars-1'"),
    ("bad-service", ["crawl", "sqsx", "list_queues"], None, 2, "unknown service 'sqsx'"),
    ("bad-operation", ["crawl", "sqs", "list_quuues"], None, 2, "did you mean list_queues"),
    ("paginate-bad-operation", ["paginate", "sqs", "lisst_queues"], None, 2, "list_queues"),
    ("bad-waiter", ["wait", "dynamodb", "table_exizts"], None, 2, "table_exists"),
    ("no-waiters", ["wait", "sqs", "queue_exists"], None, 2, "has no waiters"),
    ("bad-account", [*CRAWL, "--accounts", "123", "--role", "R"], None, 2, "12 digits"),
    ("no-accounts", [*CRAWL, "--accounts", ","], None, 2, "',' names no account"),
    ("empty-accounts", [*CRAWL, "--accounts", ""], None, 2, "'' names no account"),
    ("targets-no-accounts", ["targets", "--accounts", " , "], None, 2, "names no account"),
    ("bad-profile", ["paginate", "sqs", "list_queues", "--profile", "nope"], None, 2, "'nope'"),
    # parameters
    ("unknown-param", [*CRAWL, "--param", "Bogus=1"], None, 2, "Bogus"),
    ("param-without-equals", [*CRAWL, "--param", "Bogus"], None, 2, "expected Name=value"),
    ("params-not-json", [*CRAWL, "--params", "{bad"], None, 2, "--params is not JSON"),
    ("params-not-object", [*CRAWL, "--params", "[1, 2]"], None, 2, "JSON object"),
    ("bad-jmespath", [*CRAWL, "--query", "foo[", "--output", "jsonl"], None, 2,
     "invalid JMESPath"),
    ("paginate-bad-jmespath", ["paginate", "sqs", "list_queues", "--query", "a[?"], None, 2,
     "JMESPath"),
    # numbers
    ("negative-concurrency", [*CRAWL, "--concurrency", "-1"], None, 2, "--concurrency"),
    ("zero-concurrency", [*CRAWL, "--concurrency", "0"], None, 2, "--concurrency"),
    ("text-concurrency", [*CRAWL, "--concurrency", "many"], None, 2, "--concurrency"),
    ("zero-deadline", [*CRAWL, "--deadline", "0"], None, 2, "--deadline"),
    ("negative-deadline", [*CRAWL, "--deadline", "-1"], None, 2, "--deadline"),
    # output files
    ("missing-dir-jsonl", [*CRAWL, "--out", "{tmp}/nowhere/out.jsonl"], None, 2,
     "does not exist"),
    ("missing-dir-csv", [*CRAWL, "--out", "{tmp}/nowhere/out.csv"], None, 2, "does not exist"),
    ("missing-dir-db", [*CRAWL, "--out", "{tmp}/nowhere/out.db"], None, 2, "does not exist"),
    ("under-a-file", [*CRAWL, "--out", "{file}/out.jsonl"], _a_file, 2, "is not a directory"),
    ("under-a-file-deeper", [*CRAWL, "--out", "{file}/sub/out.db"], _a_file, 2,
     "does not exist"),
    ("proc-path", [*CRAWL, "--out", "/proc/aiokit-out.jsonl"], None, 2, "cannot write"),
    ("proc-path-db", [*CRAWL, "--out", "/proc/aiokit-out.db"], None, 2, "aiokit-out.db"),
    ("random-bytes-db", [*CRAWL, "--out", "{file}.db"], _random_bytes, 2,
     "not a usable aiokit inventory"),
    ("random-bytes-resume", [*CRAWL, "--out", "{file}.db", "--resume"], _random_bytes, 2,
     "not a usable aiokit inventory"),
    ("empty-file-resume", [*CRAWL, "--out", "{file}.db", "--resume"], _empty, 2,
     "is empty, not an aiokit inventory"),
    ("other-schema", [*CRAWL, "--out", "{file}.db"], _other_schema, 2,
     "not an aiokit inventory"),
    ("other-schema-resume", [*CRAWL, "--out", "{file}.db", "--resume"], _other_schema, 2,
     "not an aiokit inventory"),
    ("other-schema-replace", [*CRAWL, "--out", "{file}.db", "--replace"], _other_schema, 2,
     "not an aiokit inventory"),
    ("corrupt-db-resume", [*CRAWL, "--out", "{file}.db", "--resume"], _corrupt_inventory, 2,
     "not a usable aiokit inventory"),
    ("corrupt-db-append", [*CRAWL, "--out", "{file}.db", "--append"], _corrupt_inventory, 2,
     "not a usable aiokit inventory"),
    ("out-is-a-directory", [*CRAWL, "--out", "{tmp}"], None, 2, "directory"),
    ("trailing-slash-jsonl", [*CRAWL, "--out", "{tmp}/new.jsonl/"], None, 2,
     "a path ending in / names a directory"),
    ("trailing-slash-db", [*CRAWL, "--out", "{tmp}/new.db/"], None, 2,
     "a path ending in / names a directory"),
    ("disk-full", [*CRAWL, "--out", "/dev/full", "--output", "csv"], None, 2,
     "No space left on device"),
    # formats
    ("unknown-extension", [*CRAWL, "--out", "{tmp}/out.txt"], None, 2, "cannot tell"),
    ("no-extension", [*CRAWL, "--out", "{tmp}/out"], None, 2, "cannot tell"),
    ("format-contradicts-extension", [*CRAWL, "--out", "{tmp}/out.csv", "--output", "jsonl"],
     None, 2, "contradicts"),
    ("format-table-with-out", [*CRAWL, "--out", "{tmp}/out.jsonl", "--output", "table"], None,
     2, "--output table prints to stdout"),
    ("format-sqlite-without-out", [*CRAWL, "--output", "sqlite"], None, 2, "needs --out"),
    ("unknown-format", [*CRAWL, "--output", "parquet"], None, 2, "--output"),
    ("resume-without-out", [*CRAWL, "--resume"], None, 2, "--resume needs --out"),
    ("resume-into-jsonl", [*CRAWL, "--out", "{tmp}/o.jsonl", "--resume"], None, 2,
     "needs an SQLite inventory"),
    ("append-and-replace", [*CRAWL, "--out", "{tmp}/o.db", "--append", "--replace"], None, 2,
     "exclude each other"),
    ("wait-zero-timeout", ["wait", "dynamodb", "table_exists", "--timeout", "0"], None, 2,
     "--timeout"),
    ("wait-negative-delay", ["wait", "dynamodb", "table_exists", "--delay", "-1"], None, 2,
     "--delay"),
    ("demo-zero-accounts", ["demo", "--member-accounts", "0"], None, 2, "--member-accounts"),
    ("demo-zero-accounts-old-name", ["demo", "--accounts", "0"], None, 2, "--accounts"),
    ("demo-missing-dir", ["demo", "--out", "{tmp}/nowhere/demo.db"], None, 2,
     "does not exist"),
    ("demo-out-directory", ["demo", "--out", "{tmp}"], None, 2, "is a directory"),
    ("demo-out-a-text-file", ["demo", "--out", "{file}"], _a_file, 2,
     "exists and is not an aiokit inventory"),
    ("demo-out-another-database", ["demo", "--out", "{file}.db"], _other_schema, 2,
     "exists and is not an aiokit inventory"),
    ("demo-out-random-bytes", ["demo", "--out", "{file}.db"], _random_bytes, 2,
     "exists and is not an aiokit inventory"),
    ("demo-out-jsonl", ["demo", "--out", "{tmp}/demo.jsonl"], None, 2,
     "the demo writes an SQLite inventory"),
    # usage
    ("no-command", ["frobnicate"], None, 2, "No such command"),
    ("missing-argument", ["crawl", "sqs"], None, 2, "OPERATION"),
    ("unknown-option", [*CRAWL, "--colour"], None, 2, "--colour"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "setup", "code", "fragment"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_hostile_invocations_end_in_one_clear_line(
    moto_endpoint: str,
    tmp_path: Path,
    args: list[str],
    setup: Setup,
    code: int,
    fragment: str,
) -> None:
    file = tmp_path / "thing"
    if setup is not None:
        setup(file.with_suffix(".db") if "{file}.db" in " ".join(args) else file)
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{file}", str(file)) for a in args]
    endpoint = [] if argv[0] == "demo" else ["--endpoint-url", moto_endpoint]  # demo has its own
    result = aiokit_cli(*argv, *endpoint)
    assert result.returncode == code, result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr  # one line says what was wrong
    if setup is not None and argv[0] == "demo":  # refused, not deleted
        assert (file.with_suffix(".db") if "{file}.db" in " ".join(args) else file).exists()


HINT_CASES = [
    # (id, arguments, the hint says, the hint must not say)
    ("waiter", ["wait", "dynamodb", "table_exizts"], "waiter names", "snake_case"),
    ("no-waiters", ["wait", "sqs", "queue_exists"], "has no waiters", "snake_case"),
    ("operation", ["paginate", "sqs", "lisst_queues"], "snake_case", "--param"),
    ("not-paginated", ["paginate", "sqs", "get_queue_url"], "paginator", "snake_case"),
    ("crawl-jmespath", [*CRAWL, "--query", "foo[", "--output", "jsonl"], "--query", "--param"),
    ("paginate-jmespath", ["paginate", "sqs", "list_queues", "--query", "a[?"], "--query",
     "--param"),
    ("parameter", [*CRAWL, "--param", "Bogus=1"], "--param", "--query"),
    ("region", ["paginate", "sqs", "list_queues", "--region", "us-eats-1"], "eu-west-1",
     "--param"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "says", "not_says"), [pytest.param(*c[1:], id=c[0]) for c in HINT_CASES]
)
def test_hints_fit_the_error(moto_endpoint: str, args: list[str], says: str, not_says: str) -> None:
    result = aiokit_cli(*args, "--endpoint-url", moto_endpoint)
    assert result.returncode == 2, result.stderr
    hints = [line for line in result.stderr.splitlines() if line.startswith("hint:")]
    assert len(hints) == 1, result.stderr
    assert says in hints[0] and not_says not in hints[0], hints[0]


@pytest.mark.parametrize(
    ("out", "setup", "args", "fragment"),
    [
        pytest.param("inv.db", _random_bytes, ["--resume"], "not a usable", id="random-bytes"),
        pytest.param("inv.db", _other_schema, [], "not an aiokit inventory", id="other-schema"),
        pytest.param("nowhere/inv.db", None, [], "does not exist", id="missing-dir-db"),
        pytest.param("nowhere/o.jsonl", None, [], "does not exist", id="missing-dir-jsonl"),
        pytest.param("nowhere/o.csv", None, [], "does not exist", id="missing-dir-csv"),
        pytest.param("file/o.jsonl", _a_file, [], "not a directory", id="under-a-file-jsonl"),
        pytest.param("file/o.csv", _a_file, [], "not a directory", id="under-a-file-csv"),
        pytest.param("o.txt", None, [], "cannot tell", id="unknown-extension"),
    ],
)
def test_unusable_outputs_are_refused_before_the_first_request(
    tmp_path: Path, out: str, setup: Setup, args: list[str], fragment: str
) -> None:
    # An endpoint that would hang the command if it were ever asked: a listening socket
    # nobody answers. Reaching it at all would mean the check came too late.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        path = tmp_path / out
        if setup is not None:
            setup(path if path.suffix == ".db" else path.parent)
        started = time.monotonic()
        result = aiokit_cli(*CRAWL, "--out", str(path), *args, "--endpoint-url", url)
        elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr
    assert elapsed < 15


def test_an_unreachable_endpoint_fails_fast_in_paginate() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: connections are refused
    started = time.monotonic()
    result = aiokit_cli(
        "paginate", "sqs", "list_queues", "--endpoint-url", f"http://127.0.0.1:{port}",
        "--region", "us-east-1",
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert elapsed < 15, elapsed
    assert "Could not connect to the endpoint URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert "hint: check --endpoint-url" in result.stderr


def test_a_closed_stdout_pipe_ends_quietly(moto_endpoint: str) -> None:
    # `aiokit crawl ... | head -0`: the reader is gone before the first item is written.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    import boto3

    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    for n in range(50):
        sqs.create_queue(QueueName=f"pipe-{n}")
    for command in (
        [*CRAWL, "--output", "jsonl", "--regions", "us-east-1"],
        [*CRAWL, "--output", "csv", "--regions", "us-east-1"],
        ["paginate", "sqs", "list_queues"],
    ):
        process = subprocess.Popen(
            [sys.executable, "-m", "aiokit.cli", *command, "--endpoint-url", moto_endpoint],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # head -0
        stderr = process.stderr.read().decode()
        process.stderr.close()
        code = process.wait(timeout=120)
        assert code == 0, stderr
        assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr


@pytest.mark.parametrize(
    "args",
    [
        [*CRAWL, "--output", "jsonl"],
        [*CRAWL, "--output", "csv"],
        [*CRAWL, "--output", "table"],
        CRAWL,
        ["paginate", "sqs", "list_queues"],
        ["targets"],
    ],
    ids=["crawl-jsonl", "crawl-csv", "crawl-table", "crawl-default", "paginate", "targets"],
)
def test_a_closed_stdout_is_an_unusable_output(moto_endpoint: str, args: list[str]) -> None:
    # `aiokit paginate ... >&-`: Python starts with no sys.stdout. Printing into nothing and
    # exiting 0 would say the data was delivered; it is exit code 2 and one line, as `ls >&-`.
    result = aiokit_cli(
        *args, "--endpoint-url", moto_endpoint, "--regions" if args[0] != "paginate" else
        "--region", "us-east-1", stdout=None, preexec_fn=lambda: os.close(1),
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "error: cannot write the output: stdout is closed" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "bad",
    [
        ["--accounts", ","],
        ["--param", "Bogus=1"],
        ["--param", "MaxResults=NaN"],
        ["--regions", "us-eats-1"],
        ["--regions", "all,us-east-1"],
        ["--query", "a["],
    ],
    ids=["accounts", "param", "param-type", "region", "all-in-a-list", "query"],
)
@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".db"])
def test_bad_input_leaves_the_output_as_it_was(
    moto_endpoint: str, tmp_path: Path, bad: list[str], suffix: str
) -> None:
    # Exit 2 says nothing was crawled: an earlier file is not emptied, and no new inventory
    # is left behind to refuse the corrected command ("already holds an aiokit inventory").
    earlier = tmp_path / f"earlier{suffix}"
    if suffix != ".db":
        earlier.write_text("an earlier run\n")
    result = aiokit_cli(*CRAWL, *bad, "--out", str(earlier), "--endpoint-url", moto_endpoint)
    assert result.returncode == 2, result.stderr
    if suffix == ".db":
        assert not earlier.exists()
    else:
        assert earlier.read_text() == "an earlier run\n"


def test_an_inventory_left_without_runs_does_not_refuse_the_corrected_command(
    moto_endpoint: str, tmp_path: Path
) -> None:
    # A malformed account id is found only once the pool resolves targets, after the
    # inventory was made; the corrected command must not then be told to --append.
    db = tmp_path / "inv.db"
    bad = aiokit_cli(*CRAWL, "--accounts", "123", "--role", "R", "--out", str(db),
                     "--endpoint-url", moto_endpoint, "--regions", "us-east-1")  # fmt: skip
    assert bad.returncode == 2, bad.stderr
    good = aiokit_cli(*CRAWL, "--out", str(db), "--endpoint-url", moto_endpoint,
                      "--regions", "us-east-1")  # fmt: skip
    assert good.returncode == 0, good.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (1,)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        pytest.param(["--regions", "us-east-1"], 0, id="ok"),
        pytest.param(["--regions", "us-east-1", "--debug"], 0, id="ok-debug"),
        pytest.param(["--regions", "us-eats-1"], 2, id="bad-input"),
    ],
)
def test_an_unwritable_stderr_does_not_change_the_exit_code(
    moto_endpoint: str, tmp_path: Path, args: list[str], code: int
) -> None:
    # `2>/dev/full` (a log on a full disk): the summary cannot be shown, but the crawl's
    # outcome, and so its exit code, is what it was.
    out = tmp_path / "o.jsonl"
    with open("/dev/full", "w") as full:
        result = aiokit_cli(*CRAWL, *args, "--out", str(out), "--endpoint-url", moto_endpoint,
                            stderr=full)  # fmt: skip
    assert result.returncode == code
    if code == 0:
        assert out.exists()


def test_the_same_command_twice(moto_endpoint: str, tmp_path: Path) -> None:
    for out, second in (("o.jsonl", 0), ("o.csv", 0), ("o.db", 2)):
        args = [*CRAWL, "--out", str(tmp_path / out), "--endpoint-url", moto_endpoint]
        first = aiokit_cli(*args)
        assert first.returncode == 0, first.stderr
        again = aiokit_cli(*args)
        assert again.returncode == second, again.stderr
        assert "Traceback" not in again.stderr
    assert "use --append to add a run, --replace to start over, or --resume" in again.stderr


# --- the extras: one line naming what to install ---------------------------------------------


@pytest.mark.parametrize("blocked", ["click", "rich"])
def test_the_command_without_the_cli_extra_names_it(blocked: str) -> None:
    code = (
        f"import sys; sys.modules[{blocked!r}] = None; sys.argv = ['aiokit', 'crawl', '--help']"
        "; from aiokit.cli import main; main()"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: the aiokit command needs the cli extra ({blocked} not installed): "
        "pip install 'aiokit[cli]'"
    ]


def test_report_to_pandas_without_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # type: ignore[arg-type]
    with pytest.raises(aiokit.MissingDependencyError, match=r"pip install 'aiokit\[pandas\]'"):
        aiokit.Report().to_pandas()


@pytest.mark.asyncio
async def test_crawl_to_pandas_without_pandas_fails_before_crawling(
    aiokit_pool: aiokit.SessionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # type: ignore[arg-type]
    crawl = aiokit_pool.crawl("sqs", "list_queues", [aiokit.Target(None, "us-east-1")])
    with pytest.raises(aiokit.MissingDependencyError) as caught:
        await crawl.to_pandas()
    assert isinstance(caught.value, aiokit.ConfigurationError)
    assert isinstance(caught.value, ImportError)  # `except ImportError` still works
    assert aiokit_pool.statistics().clients_created == 0  # nothing was sent


def test_aiokit_alone_prints_its_help() -> None:
    result = aiokit_cli()
    assert result.returncode == 2
    assert (result.stdout + result.stderr).startswith("Usage: aiokit [OPTIONS] COMMAND")
    assert "error:" not in result.stderr and "Traceback" not in result.stderr
