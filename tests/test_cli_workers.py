"""``aiokit crawl --workers N`` / ``--dask ...`` and ``aiokit demo --workers N``, as subprocesses.

Three kinds of endpoint: moto's fake organization (the same rows with and without workers,
the demo, Dask); a scripted loopback AWS (STS + SQS) whose answers a test holds per region,
so a crawl can be interrupted mid-run at a known point; and no endpoint at all for what must
be refused before any request.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import warnings
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import anyio
import psutil
import pytest
import pytest_asyncio
from aiohttp import web

import aiokit
from aiokit.testing import FakeOrganization, serve_on_loopback
from tests.test_runners import worker_processes

if TYPE_CHECKING:
    from tests.conftest import OrgPool, SeedQueues

ROOT = Path(__file__).resolve().parents[1]
ROLE = "OrganizationAccountAccessRole"
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]

pytestmark = pytest.mark.timeout(240)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def aiokit_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiokit.cli", *args],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def summary(stderr: str) -> dict[str, int]:
    match = re.search(
        r"(\d+) targets: (\d+) ok, (\d+) skipped, (\d+) failed, (\d+) never visited; (\d+) items",
        stderr,
    )
    assert match, stderr
    keys = ("targets", "ok", "skipped", "failed", "never visited", "items")
    return dict(zip(keys, map(int, match.groups()), strict=True))


def workers_line(stderr: str) -> int | None:
    """How many worker processes the summary says ran (``None``: it says none)."""
    match = re.search(r"items, on (\d+) worker process(?:es)?\b", stderr)
    return int(match.group(1)) if match else None


def rows(db: Path, sql: str) -> list[Any]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def shards(accounts: list[str], n: int) -> int:
    """How many of ``n`` shards the accounts fill (the runner's stable hash)."""
    return len({zlib.crc32(a.encode()) % n for a in accounts})


# --- moto: the same rows with and without workers ------------------------------------------


def _count(i: int, j: int) -> int:
    return (i * 2 + j) % 3 + 1


@pytest.fixture
def seeded_org(seed_queues: SeedQueues, org_pool: OrgPool) -> dict[tuple[str, str], int]:
    async def seed() -> dict[tuple[str, str], int]:
        async with org_pool() as pool:
            return await seed_queues(pool, REGIONS, _count)

    return anyio.run(seed)


def _org_args(endpoint: str, *extra: str) -> list[str]:
    return [
        "crawl", "sqs", "list_queues", "--accounts", "org", "--role", ROLE,
        "--regions", ",".join(REGIONS), "--endpoint-url", endpoint, "--region", "us-east-1",
        *extra,
    ]  # fmt: skip


def _jsonl_rows(stdout: str) -> list[tuple[str, str, str]]:
    return [
        (r["account"], r["region"], json.dumps(r["item"]))
        for r in map(json.loads, stdout.splitlines())
    ]


def test_workers_give_the_same_rows_as_in_process(
    seeded_org: dict[tuple[str, str], int],
    moto_endpoint: str,
    fake_organization: FakeOrganization,
    tmp_path: Path,
) -> None:
    local = aiokit_cli(*_org_args(moto_endpoint, "--output", "jsonl"))
    sharded = aiokit_cli(*_org_args(moto_endpoint, "--output", "jsonl", "--workers", "2"))
    assert local.returncode == 0, local.stderr
    assert sharded.returncode == 0, sharded.stderr
    expected = _jsonl_rows(local.stdout)
    got = _jsonl_rows(sharded.stdout)
    assert len(expected) == sum(seeded_org.values())
    assert len(got) == len(set(got)) == len(expected)  # no duplicates
    assert set(got) == set(expected)
    assert summary(sharded.stderr) == summary(local.stderr)
    assert workers_line(local.stderr) is None
    assert workers_line(sharded.stderr) == shards(fake_organization.account_ids, 2)
    assert "Traceback" not in sharded.stderr

    # The SQLite sink too: every (account, region) cell holds what was seeded.
    db = tmp_path / "inventory.db"
    result = aiokit_cli(*_org_args(moto_endpoint, "--out", str(db), "--workers", "2"))
    assert result.returncode == 0, result.stderr
    cells = collections.Counter(rows(db, "SELECT account, region FROM items"))
    assert cells == seeded_org
    assert rows(db, "SELECT status, count(*) FROM outcomes GROUP BY 1") == [("ok", 18)]


def test_demo_with_workers_writes_the_same_inventories(tmp_path: Path) -> None:
    """--workers 2: both inventories on the same warm worker processes; the same rows and
    the same diff as without (tests/test_cli.py::test_demo_runs_end_to_end)."""
    db = tmp_path / "demo.db"
    result = aiokit_cli("demo", "--out", str(db), "--member-accounts", "3", "--workers", "2")
    assert result.returncode == 0, result.stderr
    seen = dict(
        ((run, name), n)
        for run, name, n in rows(
            db, "SELECT run_id, resource_type, count(*) FROM seen GROUP BY 1, 2"
        )
    )
    first = {"ec2.instances": 24, "dynamodb.tables": 12, "sqs.queues": 18, "s3.buckets": 3}
    second = {**first, "dynamodb.tables": 11, "sqs.queues": 19}
    assert seen == {(1, n): c for n, c in first.items()} | {(2, n): c for n, c in second.items()}
    statuses = dict(rows(db, "SELECT status, count(*) FROM outcomes GROUP BY 1"))
    assert statuses == {"ok": 2 * (3 * 4 * 3 + 3)}
    assert "1 added, 1 removed, 1 changed, 0 unknown" in result.stderr
    assert "inventory written" in result.stderr and "Traceback" not in result.stderr


# --- refused before any request --------------------------------------------------------------

_NOWHERE = ["--endpoint-url", "http://127.0.0.1:9", "--region", "us-east-1"]


_BAD = [
    (["--workers", "0"], "'--workers': 0 is not in the range x>=1", "zero"),
    (["--workers", "-1"], "'--workers': -1 is not in the range x>=1", "minus"),
    (["--workers", "abc"], "'--workers': 'abc' is not a valid integer", "abc"),
    (["--workers", "1.5"], "'--workers': '1.5' is not a valid integer", "float"),
    (["--workers", ""], "'--workers': '' is not a valid integer", "empty"),
    (
        ["--workers", "2", "--dask", "tcp://127.0.0.1:8786"],
        "--workers and --dask exclude each other",
        "workers-and-dask",
    ),
    (["--dask", ""], "'--dask': give the scheduler's address", "dask-empty"),
    (["--dask", "."], "'--dask': '.' is a directory", "dask-directory"),
    (
        ["--dask", "nowhere/scheduler.json"],
        "'--dask': no such scheduler file 'nowhere/scheduler.json'",
        "dask-missing-file",
    ),
]


@pytest.mark.parametrize(
    ("command", "args", "says"),
    [pytest.param("crawl", args, says, id=f"crawl-{name}") for args, says, name in _BAD]
    + [  # the demo has --workers only
        pytest.param("demo", args, says, id=f"demo-{name}")
        for args, says, name in _BAD
        if "--dask" not in args
    ],
)
def test_bad_runner_options_are_one_line_usage_errors(
    command: str, args: list[str], says: str, tmp_path: Path
) -> None:
    out = tmp_path / "kept.jsonl"
    out.write_text("earlier\n")
    if command == "crawl":
        argv = ["crawl", "sqs", "list_queues", "--out", str(out), *_NOWHERE, *args]
    else:
        argv = ["demo", "--out", str(tmp_path / "demo.db"), *args]
    started = time.monotonic()
    result = aiokit_cli(*argv)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and says in lines[0], result.stderr
    assert len(lines) <= 2 and "Traceback" not in result.stderr  # the error, a hint
    assert out.read_text() == "earlier\n"  # refused before the output was opened
    assert not (tmp_path / "demo.db").exists()
    assert time.monotonic() - started < 30


def test_dask_without_distributed_names_the_extra(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['distributed'] = None; from aiokit.cli import main; "
        "main(sys.argv[1:])"
    )
    out = tmp_path / "kept.jsonl"
    out.write_text("earlier\n")
    argv = ["crawl", "sqs", "list_queues", "--out", str(out), *_NOWHERE]
    result = subprocess.run(
        [sys.executable, "-c", code, *argv, "--dask", "tcp://127.0.0.1:8786"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert result.returncode == 2, result.stderr  # as every missing extra
    lines = result.stderr.strip().splitlines()
    assert lines[0] == (
        "error: aiokit crawl --dask needs distributed, which is not installed: "
        "pip install 'aiokit[dask]'"
    ), result.stderr
    assert lines[1:] == ["hint: install the extra the message names"]
    assert out.read_text() == "earlier\n"


# --- a scripted organization: interrupts, resume, the process tree ---------------------------

MANAGEMENT = "999988887777"
ACCOUNTS = [f"{100000000000 + 7919 * i:012d}" for i in range(6)]
QUEUES = 3


@dataclass
class ScriptedOrg:
    """STS (AssumeRole: keys naming the account) and SQS ListQueues, held per region."""

    held: set[str] = field(default_factory=set)  # regions whose ListQueues waits for release
    deny_roles: bool = False  # AssumeRole answers AccessDenied
    failing: set[str] = field(default_factory=set)  # regions whose ListQueues is refused
    released: anyio.Event = field(default_factory=anyio.Event)
    calls: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("Action") == "GetCallerIdentity":
            return _xml(_CALLER.format(account=MANAGEMENT))
        if form.get("Action") == "AssumeRole" and self.deny_roles:
            return _xml(_DENIED, status=403)
        if form.get("Action") == "AssumeRole":
            account = form["RoleArn"].split(":")[4]
            return _xml(_ASSUMED.format(key=f"ASIA{account}"))
        scope = re.search(
            r"Credential=([^/]+)/\d+/([^/]+)/", request.headers.get("Authorization", "")
        )
        assert scope and request.headers.get("X-Amz-Target", "").endswith("ListQueues")
        key, region = scope.groups()
        account = key[4:] if key.startswith("ASIA") else MANAGEMENT
        self.calls[(account, region)] += 1
        if region in self.held:
            await self.released.wait()
        if region in self.failing:
            error = {"__type": "com.amazonaws.sqs#InvalidClientTokenId", "message": "injected"}
            return web.json_response(error, status=403, content_type="application/x-amz-json-1.0")
        base = f"https://sqs.{region}.amazonaws.com/{account}/q"
        urls = [f"{base}{i}" for i in range(QUEUES)]
        return web.json_response({"QueueUrls": urls}, content_type="application/x-amz-json-1.0")


def _xml(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/xml")


_NS = 'xmlns="https://sts.amazonaws.com/doc/2011-06-15/"'
_CALLER = (
    f"<GetCallerIdentityResponse {_NS}><GetCallerIdentityResult>"
    "<Arn>arn:aws:iam::{account}:user/tester</Arn><UserId>AIDA</UserId>"
    "<Account>{account}</Account></GetCallerIdentityResult>"
    "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
)
_ASSUMED = (
    f"<AssumeRoleResponse {_NS}><AssumeRoleResult><Credentials>"
    "<AccessKeyId>{key}</AccessKeyId><SecretAccessKey>assumedSecret/0123456789abcdef"
    "</SecretAccessKey><SessionToken>sessionTokenValue0123456789</SessionToken>"
    "<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser>"
    "<AssumedRoleId>AROA:x</AssumedRoleId><Arn>arn:aws:sts::111122223333:assumed-role/R/x</Arn>"
    "</AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId>"
    "</ResponseMetadata></AssumeRoleResponse>"
)


_DENIED = (
    f"<ErrorResponse {_NS}><Error><Type>Sender</Type><Code>AccessDenied</Code>"
    "<Message>injected</Message></Error><RequestId>r</RequestId></ErrorResponse>"
)
ASSUMED_SECRET = "assumedSecret/0123456789abcdef"
ASSUMED_TOKEN = "sessionTokenValue0123456789"


@pytest_asyncio.fixture
async def scripted() -> AsyncIterator[ScriptedOrg]:
    org = ScriptedOrg()
    async with serve_on_loopback(org.handle) as org.url:
        yield org
        org.released.set()


def scripted_args(org: ScriptedOrg, out: Path | None, *extra: str) -> list[str]:
    args = [
        sys.executable, "-m", "aiokit.cli", "crawl", "sqs", "list_queues",
        "--accounts", ",".join(ACCOUNTS), "--role", "Crawler", "--regions", ",".join(REGIONS),
        "--endpoint-url", org.url, "--region", "us-east-1",
    ]  # fmt: skip
    if out is not None:
        args += ["--out", str(out)]
    return [*args, *extra]


async def run_cli(args: list[str]) -> tuple[int, str, str]:
    with anyio.fail_after(120):
        done = await anyio.run_process(args, check=False, env=_env())
    return done.returncode, done.stdout.decode(), done.stderr.decode()


async def _until(condition: Callable[[], bool], seconds: float = 60) -> None:
    """Poll ``condition`` (another process's state: no event to wait for)."""
    with anyio.fail_after(seconds):
        while True:
            if condition():
                return
            await anyio.sleep(0.05)


def _outcomes(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        return int(rows(db, "SELECT count(*) FROM outcomes")[0][0])
    except sqlite3.OperationalError:
        return 0  # tables not made yet


def _tree(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _workers(pid: int) -> list[psutil.Process]:
    """The worker processes under ``pid`` (not multiprocessing's resource tracker, nor the
    fork server they are forked from)."""
    return worker_processes(_tree(pid))


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def _gone(processes: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    """The processes still running after ``seconds`` (an empty list: all ended)."""
    with anyio.move_on_after(seconds):
        while True:
            if not any(_running(p) for p in processes):
                break
            await anyio.sleep(0.1)
    return [p for p in processes if _running(p)]


def _reap(processes: list[psutil.Process]) -> None:
    for p in processes:
        if _running(p):
            p.kill()


HELD = "eu-west-1"
DONE_FIRST = len(ACCOUNTS) * (len(REGIONS) - 1)  # the targets outside the held region


async def _interrupted(
    org: ScriptedOrg, out: Path, signum: int, *, group: bool = False, fmt: str = "sqlite"
) -> tuple[int, str, list[psutil.Process]]:
    """A ``--workers 2`` crawl into ``out``, interrupted once every target outside the held
    region has its outcome; returns its exit code, stderr and the workers it had."""
    org.held.add(HELD)
    log = out.with_suffix(".stderr")
    held = len(ACCOUNTS)
    everything: list[psutil.Process] = []
    with log.open("wb") as stderr:
        process = await anyio.open_process(
            scripted_args(org, out, "--workers", "2", "--output", fmt),
            stderr=stderr,
            env=_env(),
            start_new_session=group,
        )
        async with process:
            try:
                if fmt == "sqlite":
                    await _until(lambda: _outcomes(out) == DONE_FIRST)
                await _until(lambda: sum(org.calls[(a, HELD)] for a in ACCOUNTS) == held)
                workers = _workers(process.pid)
                everything = _tree(process.pid)
                if fmt != "sqlite":
                    await anyio.sleep(1)  # the other targets' items reach the file
                if group:  # Ctrl-C at a terminal: the whole foreground process group
                    os.killpg(process.pid, signum)
                else:
                    process.send_signal(signum)
                with anyio.fail_after(60):
                    returncode = await process.wait()
            finally:
                if process.returncode is None:
                    process.kill()
                left = await _gone(everything, 10)
                _reap(left)
    assert left == [], "a process outlived the command"
    return returncode, log.read_text(), workers


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("signum", "code", "group"),
    [
        (signal.SIGINT, 130, False),
        (signal.SIGTERM, 143, False),
        (signal.SIGINT, 130, True),
    ],
    ids=["SIGINT", "SIGTERM", "ctrl-c-to-the-group"],
)
async def test_an_interrupted_crawl_with_workers_keeps_its_items_leaves_no_process_and_resumes(
    scripted: ScriptedOrg, tmp_path: Path, signum: int, code: int, group: bool
) -> None:
    db = tmp_path / "inv.db"
    returncode, err, workers = await _interrupted(scripted, db, signum, group=group)
    try:
        assert returncode == code, err
        assert len(workers) == shards(ACCOUNTS, 2) == 2  # both workers were running
    finally:
        _reap(workers)
    assert f"interrupted by {signal.Signals(signum).name}" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert summary(err) == {
        "targets": 18, "ok": DONE_FIRST, "skipped": 0, "failed": 0,
        "never visited": len(ACCOUNTS), "items": DONE_FIRST * QUEUES,
    }  # fmt: skip
    assert rows(db, "SELECT count(*) FROM items") == [(DONE_FIRST * QUEUES,)]  # kept

    # Resumed with workers: the held region's targets only, every item once.
    scripted.held.clear()
    scripted.calls.clear()
    code2, _, err2 = await run_cli(scripted_args(scripted, db, "--resume", "--workers", "2"))
    assert code2 == 0, err2
    assert dict(scripted.calls) == {(a, HELD): 1 for a in ACCOUNTS}
    assert "(12 done by an earlier run, not visited again)" in err2
    cells = collections.Counter(rows(db, "SELECT account, region FROM latest_items"))
    assert cells == {(a, r): QUEUES for a in ACCOUNTS for r in REGIONS}
    duplicates = rows(
        db,
        "SELECT account, region, resource_id FROM items GROUP BY 1, 2, 3 HAVING count(*) > 1",
    )
    assert duplicates == []

    # Resuming the finished crawl with workers adds nothing, and asks nothing.
    scripted.calls.clear()
    code3, _, err3 = await run_cli(scripted_args(scripted, db, "--resume", "--workers", "2"))
    assert code3 == 0, err3
    assert dict(scripted.calls) == {}
    assert rows(db, "SELECT count(*) FROM items") == [(18 * QUEUES,)]
    assert summary(err3)["items"] == 0 and workers_line(err3) is None


@pytest.mark.asyncio
async def test_an_interrupted_jsonl_crawl_with_workers_holds_each_finished_item_once(
    scripted: ScriptedOrg, tmp_path: Path
) -> None:
    out = tmp_path / "items.jsonl"
    returncode, err, workers = await _interrupted(scripted, out, signal.SIGINT, fmt="jsonl")
    _reap(workers)
    assert returncode == 130, err
    lines = out.read_text().splitlines()
    found = [(r["account"], r["region"], r["item"]) for r in map(json.loads, lines)]
    expected = {
        (a, r, f"https://sqs.{r}.amazonaws.com/{a}/q{i}")
        for a in ACCOUNTS
        for r in REGIONS
        if r != HELD
        for i in range(QUEUES)
    }
    assert len(found) == len(set(found)) and set(found) == expected


@pytest.mark.asyncio
async def test_sigkill_of_the_command_takes_its_workers_along(
    scripted: ScriptedOrg, tmp_path: Path
) -> None:
    scripted.held.update(REGIONS)  # every request waits: the workers would wait forever
    process = await anyio.open_process(
        scripted_args(scripted, tmp_path / "inv.db", "--workers", "2"),
        stderr=subprocess.DEVNULL,
        env=_env(),
    )
    workers: list[psutil.Process] = []
    async with process:
        try:
            await _until(lambda: len(scripted.calls) == 18)
            workers = _workers(process.pid)
            everything = _tree(process.pid)
            assert len(workers) == 2
            process.kill()
            assert await process.wait() == -signal.SIGKILL
            assert await _gone(everything, 15) == [], "orphaned workers are still running"
        finally:
            _reap(workers)


@pytest.mark.asyncio
async def test_huge_workers_start_no_more_processes_than_accounts(
    scripted: ScriptedOrg, tmp_path: Path
) -> None:
    most = 0
    out, log = tmp_path / "out.jsonl", tmp_path / "stderr.txt"
    args = scripted_args(scripted, out, "--workers", "10000")
    with log.open("wb") as stderr:
        process = await anyio.open_process(args, stderr=stderr, env=_env())
        async with process:
            try:
                with anyio.fail_after(120):
                    while process.returncode is None:
                        most = max(most, len(_workers(process.pid)))
                        with anyio.move_on_after(0.02):
                            await process.wait()
            finally:
                if process.returncode is None:
                    process.kill()
    err = log.read_text()
    assert process.returncode == 0, err
    assert len(out.read_text().splitlines()) == 18 * QUEUES
    ran = shards(ACCOUNTS, len(ACCOUNTS))  # capped at 6 accounts: Processes(6)
    assert workers_line(err) == ran
    assert 1 <= most <= ran <= len(ACCOUNTS), most


# --- Dask: a LocalCluster started by the test (runs once aiokit.dask is there) -------------


@pytest.fixture
def local_cluster(aws_isolated_env: None) -> Iterator[Any]:
    """2 Dask worker processes on 127.0.0.1; their environment is the test's (isolated)."""
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("aiokit.dask")
    with _quiet_sockets():
        cluster = distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard": False},
        )
    try:
        yield cluster
    finally:
        with _quiet_sockets():
            cluster.close()


@contextlib.contextmanager
def _quiet_sockets() -> Iterator[None]:
    """distributed's own start and stop may leave a refused connection's socket to the
    collector (seen once in four runs): collected here, not in a later test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        yield
        gc.collect()


def test_dask_by_address_and_scheduler_file_gives_the_same_rows(
    seeded_org: dict[tuple[str, str], int],
    moto_endpoint: str,
    local_cluster: Any,
    tmp_path: Path,
) -> None:
    import distributed

    scheduler_file = tmp_path / "scheduler.json"
    with distributed.Client(local_cluster, set_as_default=False) as client:
        client.write_scheduler_file(str(scheduler_file))
    local = aiokit_cli(*_org_args(moto_endpoint, "--output", "jsonl"))
    assert local.returncode == 0, local.stderr
    expected = _jsonl_rows(local.stdout)
    assert len(expected) == sum(seeded_org.values())
    for where in (str(local_cluster.scheduler_address), str(scheduler_file)):
        result = aiokit_cli(*_org_args(moto_endpoint, "--output", "jsonl", "--dask", where))
        assert result.returncode == 0, result.stderr
        got = _jsonl_rows(result.stdout)
        assert len(got) == len(set(got)) == len(expected), where
        assert set(got) == set(expected), where
        assert summary(result.stderr) == summary(local.stderr)
        assert "items, on a Dask cluster of 2 workers" in result.stderr
        assert "Traceback" not in result.stderr
    # The cluster is the user's: still there, both workers alive.
    with distributed.Client(local_cluster, set_as_default=False) as client:
        assert len(client.scheduler_info()["workers"]) == 2


def test_dask_at_a_closed_port_is_one_line_in_bounded_time(
    moto_endpoint: str, tmp_path: Path
) -> None:
    pytest.importorskip("distributed")
    pytest.importorskip("aiokit.dask")
    with socket.socket() as s:  # a free port, closed again: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    started = time.monotonic()
    result = aiokit_cli(
        "crawl", "sqs", "list_queues", "--regions", "us-east-1", "--output", "jsonl",
        "--endpoint-url", moto_endpoint, "--region", "us-east-1", "--dask", address,
    )  # fmt: skip
    took = time.monotonic() - started
    assert result.returncode in (1, 2), result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and address in errors[0], result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert took < 45, took


@pytest.mark.asyncio
async def test_a_worker_killed_mid_crawl_the_command_still_ends_with_every_item_once(
    scripted: ScriptedOrg, tmp_path: Path
) -> None:
    scripted.held.add(HELD)
    db = tmp_path / "inv.db"
    log = tmp_path / "stderr.txt"
    with log.open("wb") as stderr:
        process = await anyio.open_process(
            scripted_args(scripted, db, "--workers", "2"), stderr=stderr, env=_env()
        )
        async with process:
            try:
                await _until(lambda: _outcomes(db) == DONE_FIRST)
                await _until(lambda: sum(scripted.calls[(a, HELD)] for a in ACCOUNTS) == 6)
                victim, *_ = _workers(process.pid)
                victim.kill()  # mid-crawl: its held targets have no outcome yet
                await _gone([victim], 10)
                scripted.released.set()  # the fresh worker's requests (and the other's) end
                with anyio.fail_after(60):
                    returncode = await process.wait()
            finally:
                if process.returncode is None:
                    process.kill()
    err = log.read_text()
    assert returncode == 0, err
    assert summary(err) == {
        "targets": 18, "ok": 18, "skipped": 0, "failed": 0, "never visited": 0,
        "items": 18 * QUEUES,
    }  # fmt: skip
    cells = collections.Counter(rows(db, "SELECT account, region FROM items"))
    assert cells == {(a, r): QUEUES for a in ACCOUNTS for r in REGIONS}  # none twice
    assert max(n for (_, region), n in scripted.calls.items() if region == HELD) == 2  # rerun


@pytest.mark.asyncio
async def test_a_deadline_with_workers_exits_3_and_leaves_no_process(
    scripted: ScriptedOrg, tmp_path: Path
) -> None:
    scripted.held.add(HELD)
    db = tmp_path / "inv.db"
    started = time.monotonic()
    process = await anyio.open_process(
        scripted_args(scripted, db, "--workers", "2", "--deadline", "8"),
        stderr=subprocess.PIPE,
        env=_env(),
    )
    seen: list[psutil.Process] = []
    async with process:
        try:
            await _until(lambda: sum(scripted.calls[(a, HELD)] for a in ACCOUNTS) == 6)
            seen = _tree(process.pid)
            with anyio.fail_after(60):
                returncode = await process.wait()
                assert process.stderr is not None
                err = b"".join([chunk async for chunk in process.stderr]).decode()
        finally:
            if process.returncode is None:
                process.kill()
    assert returncode == 3, err
    assert time.monotonic() - started < 40
    assert summary(err) == {
        "targets": 18, "ok": DONE_FIRST, "skipped": 0, "failed": 0,
        "never visited": len(ACCOUNTS), "items": DONE_FIRST * QUEUES,
    }  # fmt: skip
    assert "stopped by --deadline" in err and "Traceback" not in err
    left = await _gone(seen, 10)
    _reap(left)
    assert left == []


@pytest.mark.asyncio
async def test_the_progress_bar_counts_what_the_workers_did(
    scripted: ScriptedOrg, tmp_path: Path
) -> None:
    env = {**_env(), "TTY_COMPATIBLE": "1", "COLUMNS": "200"}  # rich: stderr is a terminal
    args = scripted_args(scripted, tmp_path / "inv.db", "--workers", "2")
    with anyio.fail_after(120):
        done = await anyio.run_process(args, check=False, env=env)
    err = done.stderr.decode()
    assert done.returncode == 0, err
    assert re.search(r"18/18 targets\s+0 in flight, 0 failed\s+54 items", err), err


# --- the workers' logs: through the command's own logging ------------------------------------


@pytest.mark.asyncio
async def test_workers_warnings_are_the_commands_one_line_warnings(
    scripted: ScriptedOrg, tmp_path: Path
) -> None:
    scripted.deny_roles = True
    found = {}
    for extra in ([], ["--workers", "2"]):
        code, _, err = await run_cli(scripted_args(scripted, tmp_path / "o.jsonl", *extra))
        assert code == 0, err  # skipped by design
        assert summary(err)["skipped"] == 18
        assert "Traceback" not in err, err  # botocore logs each failed refresh with one
        found[bool(extra)] = {line for line in err.splitlines() if line.startswith("warning:")}
    assert any("Refreshing temporary credentials failed" in w for w in found[True])
    assert found[True] == found[False]  # the same lines, as the command writes them


@pytest.mark.asyncio
async def test_workers_debug_logs_reach_debug_output_redacted(
    scripted: ScriptedOrg, tmp_path: Path
) -> None:
    args = scripted_args(scripted, tmp_path / "o.jsonl", "--workers", "2", "--debug")
    code, _, err = await run_cli(args)
    assert code == 0, err
    # Only the workers call ListQueues, and AssumeRole in the member accounts.
    assert "ListQueues" in err and "AssumeRole" in err
    assert ASSUMED_SECRET not in err and ASSUMED_TOKEN not in err
    assert not re.search(r"\bASIA[0-9]{12}", err)
    assert "Traceback" not in err


@pytest.mark.asyncio
async def test_failed_targets_are_listed_as_without_workers(
    scripted: ScriptedOrg, tmp_path: Path
) -> None:
    scripted.failing.add(HELD)
    found = {}
    for extra in ([], ["--workers", "2"]):
        db = tmp_path / f"inv{len(extra)}.db"
        code, _, err = await run_cli(scripted_args(scripted, db, *extra))
        assert code == 1, err
        assert summary(err)["failed"] == len(ACCOUNTS)
        failed = sorted(line for line in err.splitlines() if line.startswith("failed "))
        stored = rows(db, "SELECT account, region, status, reason FROM outcomes ORDER BY 1, 2")
        found[bool(extra)] = failed, stored
    assert len(found[True][0]) == len(ACCOUNTS)
    assert found[True] == found[False]


def test_a_worker_error_is_listed_without_the_type_its_reason_names() -> None:
    # An error that cannot be pickled (aiokit's EndpointConnectionError is a class made on
    # the fly) travels back as WorkerError("Type: message"); the failed line is as without
    # workers: "error: EndpointConnectionError: sts AssumeRole ...", the type said once.
    from aiokit._workers import WorkerError, _portable
    from aiokit.cli._crawl import _error_text

    class Unpicklable(Exception):  # a local class: pickle cannot find it by name
        pass

    target = aiokit.Target("111111111111", "us-east-1")
    error = _portable(Unpicklable("sts AssumeRole in us-east-1: Could not connect"))
    assert isinstance(error, WorkerError)
    outcome = aiokit.Outcome(target, aiokit.Status.FAILED, reason="error: Unpicklable", error=error)
    assert _error_text(outcome) == "sts AssumeRole in us-east-1: Could not connect"
    plain = aiokit.Outcome(target, aiokit.Status.FAILED, reason="error", error=ValueError("x: y"))
    assert _error_text(plain) == "x: y"


@pytest.mark.asyncio
async def test_a_workers_warning_about_an_error_that_does_not_pickle_is_still_written() -> None:
    # aiokit's EndpointConnectionError is a class made on the fly: neither it nor its class
    # pickle. The worker's record of it must still reach the command's log, as in-process.
    import logging
    from io import StringIO

    from aiokit.cli._logging import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    found = {}
    try:
        async with aiokit.SessionPool(
            endpoint_url="http://127.0.0.1:9",  # nothing listens: connection refused
            region="us-east-1",
            credentials=aiokit.StaticKeys("AKIDEXAMPLE", "x" * 40),
            retry=aiokit.RetrySettings(max_attempts=1),
        ) as pool:
            targets = [aiokit.Target.assume("111111111111", "us-east-1", "R")]
            for runner in (None, aiokit.Processes(1)):
                log = StringIO()
                configure_logging(False, log)
                async with pool.crawl("sqs", "list_queues", targets, runner=runner) as crawl:
                    statuses = [e.status.value async for e in crawl.events()]
                assert statuses == ["failed"]
                found[runner is None] = log.getvalue().splitlines()
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    assert found[True] and found[False] == found[True]
    assert "EndpointConnectionError: sts AssumeRole" in found[False][0]
