"""``aiokit crawl`` runs end to end: exit codes, the summary, deadline, resume, append, logs.

The CLI runs as a subprocess against a loopback endpoint scripted per region (answer, fail
or stall), so a test decides which targets succeed, fail or are never reached, and counts
the requests each run makes.
"""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
import pytest_asyncio
from aiohttp import web

from aiokit.testing import serve_on_loopback

pytestmark = pytest.mark.asyncio

REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2"]
ACCOUNT = "123456789012"
# What the scripted STS hands out for an assumed role: distinctive, so a log can be searched.
ASSUMED_KEY_ID = "ASIAXXXXEXAMPLEKEYID"
ASSUMED_SECRET = "assumedSecretValue/0123456789abcdefGHIJKLMNOPQRSTU"
ASSUMED_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLEsessionTOKENvalue0123456789abcdefgh"
SOURCE_SECRET = "sourceSecretValue/9876543210zyxwvuTSRQPONMLKJIH"


@dataclass
class FakeAWS:
    """STS (caller identity, AssumeRole) and SQS ListQueues, scripted per region."""

    behaviour: dict[str, str] = field(default_factory=dict)  # region -> ok | fail | stall
    deny_roles: bool = False
    queues: int = 3
    name: str = "q"
    calls: collections.Counter[str] = field(default_factory=collections.Counter)
    released: anyio.Event = field(default_factory=anyio.Event)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        authorization = request.headers.get("Authorization", "")
        scope = re.search(r"Credential=[^/]+/\d+/([^/]+)/", authorization)
        region = scope.group(1) if scope else "?"
        if b"Action=GetCallerIdentity" in body:
            return _xml(_CALLER)
        if b"Action=AssumeRole" in body:
            self.calls["AssumeRole"] += 1
            if self.deny_roles:
                return _xml(_STS_ERROR.format(code="AccessDenied"), status=403)
            return _xml(_ASSUMED)
        target = request.headers.get("X-Amz-Target", "")
        assert target.endswith("ListQueues"), target
        self.calls[region] += 1
        what = self.behaviour.get(region, "ok")
        if what == "stall":
            await self.released.wait()
        if what == "fail":
            error = {"__type": "com.amazonaws.sqs#InvalidClientTokenId", "message": "injected"}
            return web.json_response(error, status=403, content_type="application/x-amz-json-1.0")
        base = f"https://sqs.{region}.amazonaws.com/{ACCOUNT}/{self.name}"
        urls = [f"{base}{i}" for i in range(self.queues)]
        return web.json_response({"QueueUrls": urls}, content_type="application/x-amz-json-1.0")


def _xml(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/xml")


_NS = 'xmlns="https://sts.amazonaws.com/doc/2011-06-15/"'
_CALLER = (
    f"<GetCallerIdentityResponse {_NS}><GetCallerIdentityResult>"
    f"<Arn>arn:aws:iam::{ACCOUNT}:user/tester</Arn><UserId>AIDA</UserId>"
    f"<Account>{ACCOUNT}</Account></GetCallerIdentityResult>"
    "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
)
_ASSUMED = (
    f"<AssumeRoleResponse {_NS}><AssumeRoleResult><Credentials>"
    f"<AccessKeyId>{ASSUMED_KEY_ID}</AccessKeyId><SecretAccessKey>{ASSUMED_SECRET}"
    f"</SecretAccessKey><SessionToken>{ASSUMED_TOKEN}</SessionToken>"
    "<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser>"
    "<AssumedRoleId>AROA:x</AssumedRoleId><Arn>arn:aws:sts::111122223333:assumed-role/R/x</Arn>"
    "</AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId>"
    "</ResponseMetadata></AssumeRoleResponse>"
)
_STS_ERROR = (
    f"<ErrorResponse {_NS}><Error><Type>Sender</Type><Code>{{code}}</Code>"
    "<Message>injected</Message></Error><RequestId>r</RequestId></ErrorResponse>"
)


@pytest_asyncio.fixture
async def fake(tmp_path: Path) -> AsyncIterator[FakeAWS]:
    server = FakeAWS()
    async with serve_on_loopback(server.handle) as server.url:
        yield server
        server.released.set()


async def aiokit_cli(fake: FakeAWS, *args: str) -> tuple[int, str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[1]), env.get("PYTHONPATH", "")])
    env["AWS_SECRET_ACCESS_KEY"] = SOURCE_SECRET
    command = [
        sys.executable, "-m", "aiokit.cli", *args,
        "--endpoint-url", fake.url, "--region", "us-east-1",
    ]  # fmt: skip
    with anyio.fail_after(120):
        done = await anyio.run_process(command, check=False, env=env)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def crawl_args(out: Path | None, *extra: str, regions: list[str] = REGIONS) -> list[str]:
    args = ["crawl", "sqs", "list_queues", "--regions", ",".join(regions)]
    if out is not None:
        args += ["--out", str(out)]
    return [*args, *extra]


def rows(db: Path, sql: str) -> list[Any]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def summary(stderr: str) -> dict[str, int]:
    match = re.search(
        r"(\d+) targets: (\d+) ok, (\d+) skipped, (\d+) failed, (\d+) never visited; (\d+) items",
        stderr,
    )
    assert match, stderr
    keys = ("targets", "ok", "skipped", "failed", "never visited", "items")
    return dict(zip(keys, map(int, match.groups()), strict=True))


# --- exit codes and the summary ------------------------------------------------------------


async def test_all_targets_ok_exits_0_with_the_summary(fake: FakeAWS, tmp_path: Path) -> None:
    code, _, err = await aiokit_cli(fake, *crawl_args(tmp_path / "inv.db"))
    assert code == 0, err
    assert summary(err) == {
        "targets": 4, "ok": 4, "skipped": 0, "failed": 0, "never visited": 0, "items": 12,
    }  # fmt: skip


async def test_a_failed_target_exits_1_and_is_listed(fake: FakeAWS, tmp_path: Path) -> None:
    fake.behaviour["eu-west-1"] = "fail"
    code, _, err = await aiokit_cli(fake, *crawl_args(tmp_path / "inv.jsonl"))
    assert code == 1, err
    assert summary(err)["failed"] == 1
    assert "failed 123456789012 eu-west-1: invalid credentials" in err
    assert "Traceback" not in err


async def test_deadline_reports_targets_never_visited_and_exits_3(
    fake: FakeAWS, tmp_path: Path
) -> None:
    fake.behaviour.update({"eu-west-1": "stall", "us-west-2": "fail"})
    db = tmp_path / "inv.db"
    code, _, err = await aiokit_cli(fake, *crawl_args(db, "--deadline", "2"))
    # A failure and unvisited targets: the deadline's code wins, both are reported.
    assert code == 3, err
    assert summary(err) == {
        "targets": 4, "ok": 2, "skipped": 0, "failed": 1, "never visited": 1, "items": 6,
    }  # fmt: skip
    assert "never visited" in err and "Traceback" not in err
    assert rows(db, "SELECT count(*) FROM outcomes") == [(3,)]

    # Resume re-runs the failed target and the one never visited, and only those.
    fake.behaviour.clear()
    fake.calls.clear()
    code, _, err = await aiokit_cli(fake, *crawl_args(db, "--resume"))
    assert code == 0, err
    assert dict(fake.calls) == {"eu-west-1": 1, "us-west-2": 1}
    assert "2 done by an earlier run" in err
    cells = rows(db, "SELECT region, count(*) FROM items GROUP BY 1 ORDER BY 1")
    assert cells == sorted((r, 3) for r in REGIONS)  # every item once
    assert rows(db, "SELECT DISTINCT status FROM outcomes") == [("ok",)]

    # Resuming a finished crawl visits nothing and stores nothing.
    fake.calls.clear()
    before = rows(db, "SELECT * FROM items ORDER BY id")
    code, _, err = await aiokit_cli(fake, *crawl_args(db, "--resume"))
    assert code == 0, err
    assert dict(fake.calls) == {}
    assert rows(db, "SELECT * FROM items ORDER BY id") == before
    assert rows(db, "SELECT count(*) FROM outcomes") == [(4,)]


async def test_resume_reruns_failed_targets(fake: FakeAWS, tmp_path: Path) -> None:
    db = tmp_path / "inv.db"
    fake.behaviour["ap-southeast-2"] = "fail"
    code, _, _ = await aiokit_cli(fake, *crawl_args(db))
    assert code == 1
    fake.behaviour.clear()
    fake.calls.clear()
    code, _, err = await aiokit_cli(fake, *crawl_args(db, "--resume"))
    assert code == 0, err
    assert dict(fake.calls) == {"ap-southeast-2": 1}
    assert rows(db, "SELECT count(*), count(DISTINCT item) FROM items") == [(12, 12)]


async def test_denied_roles_are_skipped_with_one_line_warnings_and_exit_0(
    fake: FakeAWS, tmp_path: Path
) -> None:
    fake.deny_roles = True
    code, _, err = await aiokit_cli(
        fake, *crawl_args(tmp_path / "o.jsonl", "--accounts", "111122223333", "--role", "R")
    )
    assert code == 0, err  # skipped by design: not a failure
    assert summary(err)["skipped"] == 4
    assert "role not assumable" in err
    assert "Traceback" not in err
    # botocore logs each failed refresh with its traceback; here each is one line.
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert any("Refreshing temporary credentials failed" in w for w in warnings), err
    assert all("AccessDenied" in w or "regions" in w for w in warnings), warnings
    assert len(warnings) == len(set(warnings))  # the same warning once, not once per region


# --- one run per JSON Lines / CSV file; SQLite runs ----------------------------------------


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
async def test_a_crawl_with_no_items_still_replaces_the_output(
    fake: FakeAWS, tmp_path: Path, suffix: str
) -> None:
    out = tmp_path / f"out{suffix}"
    out.write_text("stale output of an earlier run\n")
    fake.queues = 0
    code, _, err = await aiokit_cli(fake, *crawl_args(out))
    assert code == 0, err
    text = out.read_text()
    if suffix == ".csv":
        assert text.splitlines() == ["run_id,account,region,service,operation,resource_id,item"]
    else:
        assert text == ""


async def test_the_same_file_output_run_twice_holds_one_run(fake: FakeAWS, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    for _ in range(2):
        code, _, err = await aiokit_cli(fake, *crawl_args(out))
        assert code == 0, err
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 12 and len({line["run_id"] for line in lines}) == 1


async def test_format_csv_without_out_prints_csv(fake: FakeAWS) -> None:
    code, out, err = await aiokit_cli(fake, *crawl_args(None, "--output", "csv"))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "run_id,account,region,service,operation,resource_id,item"
    assert len(lines) == 13


async def test_a_second_crawl_into_an_inventory_needs_append_replace_or_resume(
    fake: FakeAWS, tmp_path: Path
) -> None:
    db = tmp_path / "inv.db"
    code, _, err = await aiokit_cli(fake, *crawl_args(db))
    assert code == 0, err
    fake.calls.clear()
    code, _, err = await aiokit_cli(fake, *crawl_args(db))
    assert code == 2
    assert "use --append to add a run, --replace to start over, or --resume" in err
    assert dict(fake.calls) == {}  # refused before any request

    fake.queues = 2
    code, _, err = await aiokit_cli(fake, *crawl_args(db, "--append"))
    assert code == 0, err
    assert rows(db, "SELECT count(*) FROM runs") == [(2,)]
    assert rows(db, "SELECT count(*) FROM items") == [(12 + 8,)]
    # The query-facing views show the latest run only.
    assert rows(db, "SELECT count(*) FROM latest_items") == [(8,)]
    assert rows(db, "SELECT count(*) FROM latest_outcomes") == [(4,)]
    assert rows(db, "SELECT count(*) FROM latest_runs") == [(1,)]

    fake.queues = 1
    code, _, err = await aiokit_cli(fake, *crawl_args(db, "--replace"))
    assert code == 0, err
    assert rows(db, "SELECT count(*) FROM runs") == [(1,)]
    assert rows(db, "SELECT count(*) FROM items") == [(4,)]


# --- logging -------------------------------------------------------------------------------


async def test_debug_output_never_holds_a_credential(fake: FakeAWS, tmp_path: Path) -> None:
    code, _, err = await aiokit_cli(
        fake,
        *crawl_args(tmp_path / "o.jsonl", "--accounts", "111122223333", "--role", "R"),
        "--debug",
    )
    assert code == 0, err
    assert fake.calls["AssumeRole"] >= 1
    assert "DEBUG" in err and "AssumeRole" in err  # botocore's wire-level records are there
    for secret in (ASSUMED_SECRET, ASSUMED_TOKEN, ASSUMED_KEY_ID, SOURCE_SECRET):
        assert secret not in err
    # The signatures of the requests, and the token header, are redacted as well.
    assert not re.search(r"Signature=[0-9a-f]{64}", err)
    tokens = re.findall(r"(?i)x-amz-security-token['\"]?\s*[:=]\s*b?['\"]?([^'\"\s,]*)", err)
    assert tokens and set(tokens) == {"***"}


async def test_debug_output_of_an_assume_role_crawl_on_moto_has_no_credentials(
    moto_endpoint: str, tmp_path: Path
) -> None:
    from aiokit.testing import make_fake_organization

    org = make_fake_organization(moto_endpoint, accounts=2)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[1]), env.get("PYTHONPATH", "")])
    command = [
        sys.executable, "-m", "aiokit.cli", "crawl", "sqs", "list_queues",
        "--accounts", ",".join(org.account_ids), "--role", org.role_name,
        "--regions", "us-east-1", "--endpoint-url", moto_endpoint, "--region", "us-east-1",
        "--out", str(tmp_path / "o.jsonl"), "--debug",
    ]  # fmt: skip
    with anyio.fail_after(120):
        done = await anyio.run_process(command, check=False, env=env)
    err = done.stderr.decode()
    assert done.returncode == 0, err[-3000:]
    assert "AssumeRole" in err
    # moto's answers held fresh keys: the key id, the secret and the token are all redacted.
    assert "<SecretAccessKey>***</SecretAccessKey>" in err
    assert not re.search(r"<(SecretAccessKey|SessionToken)>(?!\*\*\*<)", err)
    assert not re.search(r"\bASIA[A-Z0-9]{12,}", err)
    assert not re.search(r"Signature=[0-9a-f]{64}", err)


# --- interrupts ------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[1]), env.get("PYTHONPATH", "")])
    return env


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
async def test_an_interrupted_crawl_sums_up_and_keeps_what_it_collected(
    fake: FakeAWS, tmp_path: Path, signum: int, code: int
) -> None:
    fake.behaviour["eu-west-1"] = "stall"
    db = tmp_path / "inv.db"
    command = [
        sys.executable, "-m", "aiokit.cli", *crawl_args(db),
        "--endpoint-url", fake.url, "--region", "us-east-1",
    ]  # fmt: skip
    log = tmp_path / "stderr.txt"
    with log.open("wb") as stderr:
        process = await anyio.open_process(command, stderr=stderr, env=_env())
        async with process:
            with anyio.fail_after(60):
                await _until(lambda: fake.calls["eu-west-1"] > 0 and _outcomes(db) == 3)
            process.send_signal(signum)
            with anyio.fail_after(60):
                returncode = await process.wait()
    err = log.read_text()
    assert returncode == code, err
    assert f"interrupted by {signal.Signals(signum).name}" in err
    assert summary(err) == {
        "targets": 4, "ok": 3, "skipped": 0, "failed": 0, "never visited": 1, "items": 9,
    }  # fmt: skip
    assert "Traceback" not in err
    assert rows(db, "SELECT count(*) FROM items") == [(9,)]  # kept

    fake.released.set()
    fake.calls.clear()
    result, _, err = await aiokit_cli(fake, *crawl_args(db, "--resume"))
    assert result == 0, err
    assert dict(fake.calls) == {"eu-west-1": 1}
    assert rows(db, "SELECT count(*) FROM items") == [(12,)]


async def _until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` (a file another process writes: no event to wait for)."""
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


@pytest.mark.slow
async def test_sigterm_of_the_demo_stops_its_emulator(tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "aiokit.cli", "demo", "--member-accounts", "2", "--keep-running",
        "--out", str(tmp_path / "demo.db"),
    ]  # fmt: skip
    log = tmp_path / "stderr.txt"
    with log.open("wb") as stderr:
        process = await anyio.open_process(command, stderr=stderr, env=_env())
        async with process:
            with anyio.fail_after(120):
                await _until(lambda: "keeps running at" in log.read_text())
            url = re.search(r"emulator at (http://127\.0\.0\.1:\d+)", log.read_text())
            assert url is not None
            process.send_signal(signal.SIGTERM)
            with anyio.fail_after(60):
                returncode = await process.wait()
    err = log.read_text()
    assert returncode == 143, err
    assert "Traceback" not in err
    host, port = url.group(1).removeprefix("http://").split(":")
    with pytest.raises(OSError):  # nothing listens there any more
        with anyio.fail_after(5):
            stream = await anyio.connect_tcp(host, int(port))
            await stream.aclose()


async def test_resume_on_a_missing_inventory_starts_it(fake: FakeAWS, tmp_path: Path) -> None:
    # So that `until aiokit crawl ... --resume; do :; done` works from the first run.
    db = tmp_path / "new.db"
    code, _, err = await aiokit_cli(fake, *crawl_args(db, "--resume"))
    assert code == 0, err
    assert rows(db, "SELECT count(*) FROM latest_items") == [(12,)]


async def test_resume_of_a_crawl_the_inventory_does_not_hold_is_refused(
    fake: FakeAWS, tmp_path: Path
) -> None:
    db = tmp_path / "inv.db"
    code, _, err = await aiokit_cli(fake, *crawl_args(db))
    assert code == 0, err
    fake.calls.clear()
    code, _, err = await aiokit_cli(fake, *crawl_args(db, "--resume", "--param", "MaxResults=5"))
    assert code == 2
    assert "holds no crawl of sqs list_queues with these parameters" in err
    assert dict(fake.calls) == {}


@pytest.mark.parametrize("suffix", [".db", ".jsonl"])
async def test_a_second_crawl_into_a_file_being_written_is_refused(
    fake: FakeAWS, tmp_path: Path, suffix: str
) -> None:
    fake.behaviour["eu-west-1"] = "stall"
    out = tmp_path / f"out{suffix}"
    first = [
        sys.executable, "-m", "aiokit.cli", *crawl_args(out),
        "--endpoint-url", fake.url, "--region", "us-east-1",
    ]  # fmt: skip
    process = await anyio.open_process(first, env=_env())
    async with process:
        with anyio.fail_after(60):
            await _until(lambda: fake.calls["eu-west-1"] > 0)
        # The same command again (or a resume) while the first still writes: refused.
        again = ["--resume"] if suffix == ".db" else []
        code, _, err = await aiokit_cli(fake, *crawl_args(out, *again))
        assert code == 2, err
        assert "is being written by another aiokit crawl" in err
        fake.released.set()
        with anyio.fail_after(60):
            assert await process.wait() == 0
    code, _, err = await aiokit_cli(
        fake, *crawl_args(out, *(["--resume"] if suffix == ".db" else []))
    )
    assert code == 0, err


@pytest.mark.parametrize(
    "args",
    [
        ["paginate", "sqs", "list_queues"],
        ["crawl", "sqs", "list_queues", "--output", "table"],
        ["crawl", "sqs", "list_queues", "--output", "jsonl"],
    ],
    ids=["paginate", "table", "jsonl"],
)
async def test_data_is_printed_as_it_is(fake: FakeAWS, args: list[str]) -> None:
    fake.name, fake.queues = "[bold]q[/bold]", 1  # looks like terminal markup
    code, out, err = await aiokit_cli(fake, *args)
    assert code == 0, err
    if "table" in args:  # a table may fold the URL: the markup is shown, not applied
        assert "[bold]q" in out and "[/bold]" in out
    else:
        assert "/[bold]q[/bold]0" in out


async def test_targets_lists_what_a_crawl_would_visit(fake: FakeAWS) -> None:
    code, out, err = await aiokit_cli(fake, "targets", "--regions", "us-east-1,eu-west-1")
    assert code == 0, err
    assert out.count(ACCOUNT) == 2 and "eu-west-1" in out
    assert "2 targets" in err


@pytest.mark.parametrize(
    ("second", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
async def test_a_second_signal_while_the_first_cleans_up_exits_at_once(
    fake: FakeAWS, tmp_path: Path, second: signal.Signals, code: int
) -> None:
    # --out a FIFO whose reader never reads: once the pipe is full the crawl's writes block,
    # so the first Ctrl-C's cleanup cannot end. The second signal must end the command with
    # one line and its exit code: not a KeyboardInterrupt traceback, not a silent SIGTERM
    # death, not a hang.
    fake.queues = 2000  # 4 regions x 2000 items: far more than a pipe holds
    fifo = tmp_path / "out.jsonl"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # opened, never read
    command = [
        sys.executable, "-m", "aiokit.cli", *crawl_args(fifo),
        "--endpoint-url", fake.url, "--region", "us-east-1",
    ]  # fmt: skip
    log = tmp_path / "stderr.txt"
    try:
        with log.open("wb") as stderr:
            process = await anyio.open_process(command, stderr=stderr, env=_env())
            async with process:
                try:
                    with anyio.fail_after(60):
                        await _until(lambda: all(fake.calls[r] > 0 for r in REGIONS))
                    await anyio.sleep(1)  # the pipe fills
                    process.send_signal(signal.SIGINT)
                    await anyio.sleep(1)
                    process.send_signal(second)
                    with anyio.fail_after(20):
                        returncode = await process.wait()
                finally:
                    if process.returncode is None:
                        process.kill()
    finally:
        os.close(reader)
    err = log.read_text()
    assert returncode == code, err
    assert f"interrupted again by {signal.Signals(second).name}: exiting now" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
