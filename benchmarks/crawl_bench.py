"""Crawl benchmark: the same multi-account EC2 crawl by several contenders, side by side.

A crawl = for every (account, region) target: AssumeRole into the account (once per
account), then every page of DescribeInstances there, collecting instance ids (in the
``*_two`` scenarios DynamoDB ListTables too, side by side: ``Scenario.services``).  It runs
against the fake AWS endpoint (benchmarks/fake_aws), which injects latency, throttling
and faults and knows exactly which ids exist, so each contender is scored on speed
(makespan, CPU, peak RSS) and on correctness (items lost or duplicated).

Each contender runs in a fresh subprocess (benchmarks/crawl_contenders.py), so its CPU
time and RSS are its own; contenders alternate across repeats and medians are reported.
Every scenario prints a lower bound, the best any client could do on this machine:

    bound = max(latency bound, CPU floor, rate bound)
    latency bound = max(requests x latency / concurrency, longest per-target chain x latency)
    CPU floor     = requests x botocore's own CPU per request of that shape (serialize +
                    sign + parse a canned answer, measured here without the network)
    rate bound    = max over token buckets of (requests to it - burst) / refill rate

Usage:
    python -m benchmarks.crawl_bench [--quick] [--scenario NAME] [--contenders a,b]
                                     [--repeats N] [--concurrency N] [--json PATH]
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache, partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script (python benchmarks/crawl_bench.py) too
    sys.path.insert(0, str(ROOT))

from benchmarks.crawl_contenders import CONTENDERS, Settings, table_item  # noqa: E402
from benchmarks.fake_aws import DEFAULT_REGIONS, FakeAWS, FakeConfig, expected_items  # noqa: E402
from benchmarks.fake_aws.model import best_pattern  # noqa: E402


@dataclass
class Scenario:
    """One benchmark setting: the fake's shape and knobs, and the crawl's targets."""

    name: str
    description: str
    accounts: int
    regions: int = 16
    latency_ms: float = 30.0
    latency_sigma: float = 0.0
    instances: int = 30
    page_size: int = 10
    throttle: bool = False
    buckets: dict[str, list[float]] = field(default_factory=dict)
    faults: dict[str, float] = field(default_factory=dict)
    read_timeout: float = 10.0
    time_cap: float = 600.0  # safety net for any contender
    slow_contenders: tuple[str, ...] = ()  # contenders held to slow_cap here
    slow_cap: float = 600.0
    rss_per_account: bool = False
    # botocore's retry mode for every contender's clients ("standard" or "adaptive")
    retry_mode: str = "standard"
    # What each target lists, side by side ("ec2": DescribeInstances; "dynamodb":
    # ListTables, ``tables`` of them in pages of ``table_page_size``).
    services: tuple[str, ...] = ("ec2",)
    tables: int = 0
    table_page_size: int = 100

    def fake_config(self) -> FakeConfig:
        tables = self.tables if "dynamodb" in self.services else 0
        return FakeConfig(
            accounts=self.accounts,
            latency_ms=self.latency_ms,
            latency_sigma=self.latency_sigma,
            items={"instances": self.instances, "tables": tables, "functions": 0, "buckets": 0},
            page_size={"DescribeInstances": self.page_size, "ListTables": self.table_page_size},
            throttle=self.throttle,
            buckets=dict(self.buckets),
            **self.faults,  # type: ignore[arg-type]
        )

    def targets(self, config: FakeConfig) -> tuple[list[str], list[str]]:
        return config.member_accounts(), list(DEFAULT_REGIONS[: self.regions])

    def expected(self, config: FakeConfig) -> set[str]:
        """Every item a crawl of this scenario must return, from the fake's ground truth."""
        accounts, regions = self.targets(config)
        out = set()
        for a in accounts:
            for r in regions:
                if "ec2" in self.services:
                    out.update(expected_items(config, a, r, "instances"))
                if "dynamodb" in self.services:
                    out.update(table_item(a, r, n) for n in expected_items(config, a, r, "tables"))
        return out


def _scenarios(quick: bool) -> dict[str, Scenario]:
    """The scenarios; ``quick`` shrinks them (fewer accounts and regions) so that the
    whole quick run, every contender included, stays under two minutes on 2 cores."""
    q = quick
    cap = 60.0 if q else 300.0  # per contender run; a capped run is reported as skipped
    faults = {
        "fault_500": 0.03,
        "fault_503": 0.03,
        "fault_reset": 0.02,
        "fault_stall": 0.005,
        "stall_seconds": 3.0,
        "fault_seed": 42,
    }
    return {
        "latency": Scenario(
            "latency",
            "30 ms per request, no throttling: concurrency and per-request CPU decide",
            accounts=4 if q else 50,
            regions=4 if q else 16,
            time_cap=cap,
        ),
        "throttled": Scenario(
            "throttled",
            "AWS-like token buckets, made small so they bite: EC2 DescribeInstances burst 5 "
            "refill 2/s per (account, region); STS AssumeRole burst 10 refill 5/s",
            accounts=2 if q else 20,
            regions=4 if q else 16,
            latency_ms=20.0,
            instances=100,
            throttle=True,
            buckets={"ec2:Describe*": [5.0, 2.0], "sts:*": [10.0, 5.0]},
            time_cap=cap,
        ),
        "scale": Scenario(
            "scale",
            "many accounts, one page each: memory and per-target overheads dominate",
            accounts=20 if q else 1000,
            regions=4 if q else 16,
            latency_ms=10.0,
            instances=5,
            time_cap=cap,
            # A client per target costs these three tens of milliseconds of CPU each (a new
            # Session per target: hundreds): at 16,000 targets that is hours.
            slow_contenders=("boto3_threads", "aioboto3_naive", "aioboto3_tuned"),
            slow_cap=4.0 if q else 240.0,
            rss_per_account=True,
        ),
        "faults": Scenario(
            "faults",
            "500s, 503s, connection resets and stalled answers (past a 1 s read timeout)",
            accounts=4 if q else 20,
            regions=4 if q else 16,
            latency_ms=10.0,
            faults=faults,
            read_timeout=1.0,
            time_cap=cap,
        ),
        "throttled_aws": Scenario(
            "throttled_aws",
            "EC2's documented bucket (burst 100, refill 20/s per account and region) and "
            "long listings: each target pages faster than its bucket refills",
            # Small pages keep botocore's parsing cheap, so the buckets, not this machine's
            # CPU, set the pace.
            accounts=1 if q else 2,
            regions=2,
            latency_ms=20.0,
            instances=300 if q else 500,
            page_size=1,
            throttle=True,
            buckets={"ec2:Describe*": [100.0, 20.0], "sts:*": [100.0, 20.0]},
            time_cap=cap,
        ),
        # Issue 18's throttled shape: buckets small enough that a crawl drains them at once,
        # so the makespan is set by how fast a client learns each bucket's refill rate.
        "throttled_small": _throttled_small("standard", cap),
        "throttled_small_adaptive": _throttled_small("adaptive", cap),
        # The same with DynamoDB ListTables beside EC2 in every target: two buckets of the
        # same shape per (account, region), drained side by side.
        "throttled_small_two": _throttled_small("standard", cap, two_services=True),
        "throttled_small_two_adaptive": _throttled_small("adaptive", cap, two_services=True),
        # Not part of the default set: the smoke test's tiny crawl.
        "tiny": Scenario(
            "tiny",
            "3 accounts x 2 regions, for the harness's own test",
            accounts=3,
            regions=2,
            latency_ms=5.0,
            instances=25,
            time_cap=120.0,
        ),
        # Not part of the default set: the two-service smoke test.
        "tiny_two": Scenario(
            "tiny_two",
            "3 accounts x 2 regions, EC2 and DynamoDB side by side, for the harness's test",
            accounts=3,
            regions=2,
            latency_ms=5.0,
            instances=25,
            time_cap=120.0,
            services=("ec2", "dynamodb"),
            tables=12,
            table_page_size=5,
        ),
    }


def _throttled_small(retry_mode: str, cap: float, two_services: bool = False) -> Scenario:
    """4 accounts x 2 regions, EC2 buckets of burst 20 refill 10/s per (account, region,
    action), 60 one-item pages per bucket, 1 % HTTP 500s; every contender's clients in
    botocore's ``retry_mode`` (the rate bound: (60 - 20) / 10 = 4 s).

    ``two_services``: DynamoDB ListTables too, 60 one-table pages per target against a
    bucket of the same shape per (account, region): twice the requests, the same bound."""
    name = "throttled_small_two" if two_services else "throttled_small"
    if retry_mode != "standard":
        name = f"{name}_{retry_mode}"
    both = "EC2 and DynamoDB side by side, " if two_services else ""
    return Scenario(
        name,
        f"{both}small token buckets (burst 20, refill 10/s per account, region and action), "
        f"60 pages per bucket, 1 % HTTP 500s; botocore retry mode {retry_mode}",
        accounts=4,
        regions=2,
        latency_ms=20.0,
        instances=60,
        page_size=1,
        throttle=True,
        buckets={"ec2:Describe*": [20.0, 10.0], "dynamodb:*": [20.0, 10.0], "sts:*": [20.0, 10.0]},
        faults={"fault_500": 0.01, "fault_seed": 18},
        time_cap=cap,
        retry_mode=retry_mode,
        services=("ec2", "dynamodb") if two_services else ("ec2",),
        tables=60,
        table_page_size=1,
    )


DEFAULT_SCENARIOS = ("latency", "throttled", "scale", "faults")
# Contenders run only when named: comparisons of aiokit's parts, not real-world crawlers.
EXTRA_CONTENDERS = ("aiokit_standard", "aiokit_adaptive", "best_with_parts", "aiokit_sequential")

# CPU seconds each floor measurement runs for (per request shape and parser set); the
# floor is measured again before every contender run.
FLOOR_SECONDS = 0.5


# -- the lower bound


@dataclass
class Bound:
    requests: int
    assume_roles: int
    pages_per_target: int
    latency_total: float
    latency_chain: float
    cpu_per_request: float
    cpu_floor: float
    rate: float
    # The same floor with aiokit's response parsers (timestamps, XML structures): not the
    # bound, which is botocore's, but what aiokit's makespan is also compared with.
    cpu_floor_aiokit: float = 0.0

    @property
    def latency(self) -> float:
        return max(self.latency_total, self.latency_chain)

    @property
    def seconds(self) -> float:
        return max(self.latency, self.cpu_floor, self.rate)

    def describe(self) -> str:
        return (
            f"lower bound: {self.seconds:.2f} s = max(latency {self.latency:.2f} s "
            f"[requests x latency / concurrency {self.latency_total:.2f} s, longest chain "
            f"{self.latency_chain:.2f} s], cpu floor {self.cpu_floor:.2f} s "
            f"[{self.cpu_per_request * 1e3:.3f} ms/request], rate {self.rate:.2f} s)"
        )


@cache
def _service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def botocore_cpu_per_request(
    service: str,
    operation: str,
    params: dict[str, Any],
    answer: tuple[int, dict[str, str], bytes],
    region: str,
    seconds: float = FLOOR_SECONDS,
    aiokit_parsers: bool = False,
) -> float:
    """CPU seconds botocore itself spends on one request of this shape: serialize
    (with validation), sign (SigV4), prepare, and parse the canned answer, no network.

    The mean over ``seconds`` of CPU, after a warm-up and a full garbage collection: a
    crawl's makespan is a mean over its own run too, and on a shared machine the speed of
    the CPU moves for seconds at a time, so a minimum over short batches would compare a
    crawl with the machine's best moment (session 2 saw that minimum anywhere between 0.7
    and 1.7 ms for the same request).

    ``aiokit_parsers``: parse with the parsers a ``SessionPool`` installs instead."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import create_request_object, prepare_request_dict
    from botocore.credentials import Credentials
    from botocore.parsers import ResponseParser, create_parser
    from botocore.serialize import create_serializer

    model = _service_model(service)
    op = model.operation_model(operation)
    serializer = create_serializer(model.metadata["protocol"], include_validation=True)
    parser = create_parser(model.metadata["protocol"])
    if aiokit_parsers:
        from aiokit._botocore.parsers import ParserFactory

        aio_parser = ParserFactory().create_parser(model.metadata["protocol"])
        # aiobotocore's parse() is async; botocore's synchronous one (which the XML parsers
        # inherit, with the same steps) parses the same way without an event loop.
        parser = SimpleNamespace(parse=partial(ResponseParser.parse, aio_parser))
        if inspect.iscoroutinefunction(aio_parser._do_parse):
            # The JSON parsers (aiobotocore's own) parse asynchronously all the way down:
            # drive the coroutine, which never waits on anything for a body in memory.
            parser = SimpleNamespace(parse=lambda r, shape: _drive(aio_parser.parse(r, shape)))
    signer = SigV4Auth(Credentials("ASIA100000000001ABCD", "secret", "token"), service, region)
    status, headers, body = answer
    response = {"status_code": status, "headers": {k.lower(): v for k, v in headers.items()}}

    def once() -> None:
        request_dict = serializer.serialize_to_request(params, op)
        prepare_request_dict(request_dict, endpoint_url="http://127.0.0.1:1")
        request = create_request_object(request_dict)
        signer.add_auth(request)
        request.prepare()
        parser.parse({**response, "body": body}, op.output_shape)

    for _ in range(20):  # warm caches, as a long crawl would have them
        once()
    gc.collect()  # no collection owed by whatever ran before lands in the measurement
    count = 0
    start = time.process_time()
    elapsed = 0.0
    while elapsed < seconds or count < 20:
        for _ in range(10):
            once()
        count += 10
        elapsed = time.process_time() - start
    return elapsed / count


def _drive(coroutine: Any) -> Any:
    """Run a coroutine that never suspends to its end, without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    coroutine.close()
    raise RuntimeError("the coroutine suspended: it needs an event loop")


def lower_bound(
    scenario: Scenario,
    config: FakeConfig,
    concurrency: int,
    accounts: int,
    regions: int,
    seconds: float = FLOOR_SECONDS,
) -> Bound:
    """The scenario's lower bound, its CPU floor measured now (``seconds`` of CPU per
    request shape and parser set)."""
    from benchmarks.fake_aws.server import FakeAWSServer

    server = FakeAWSServer(config)  # in-process, only to render canned answers
    account = config.member_accounts()[0]
    region = DEFAULT_REGIONS[0]
    n = scenario.instances
    size = scenario.page_size
    full_pages, rest = divmod(n, size)
    with_ec2 = "ec2" in scenario.services
    pages = config.pages("DescribeInstances", n) if with_ec2 else 0
    # DynamoDB ListTables beside it: its own pages, its own bucket, its own chain.
    table_pages = config.pages("ListTables", scenario.tables)
    table_pages = table_pages if "dynamodb" in scenario.services else 0
    targets = accounts * regions
    requests = accounts + targets * (pages + table_pages)

    assume_params = {"RoleArn": f"arn:aws:iam::{account}:role/R", "RoleSessionName": "crawl"}
    assume_answer = server.render(
        "sts", "AssumeRole", config.management_account, region, dict(assume_params)
    )

    def floor(aiokit_parsers: bool) -> float:
        cpu_assume = botocore_cpu_per_request(
            "sts", "AssumeRole", assume_params, assume_answer, region, seconds,
            aiokit_parsers=aiokit_parsers,
        )  # fmt: skip

        def page_cpu(start: int) -> float:
            fields = {"NextToken": f"instances-{start}"} if start else {}
            answer = server.render("ec2", "DescribeInstances", account, region, fields)
            return botocore_cpu_per_request(
                "ec2", "DescribeInstances", dict(fields), answer, region, seconds,
                aiokit_parsers=aiokit_parsers,
            )  # fmt: skip

        cpu_target = full_pages * page_cpu(0) if full_pages and with_ec2 else 0.0
        if with_ec2 and (rest or not full_pages):
            cpu_target += page_cpu(full_pages * size)
        if table_pages:
            # Every page priced as a full middle page (the last one is smaller).
            answer = server.render("dynamodb", "ListTables", account, region)
            cpu_target += table_pages * botocore_cpu_per_request(
                "dynamodb", "ListTables", {"ExclusiveStartTableName": "table-00000"}, answer,
                region, seconds, aiokit_parsers=aiokit_parsers,
            )  # fmt: skip
        return accounts * cpu_assume + targets * cpu_target

    cpu_floor = floor(aiokit_parsers=False)
    cpu_floor_aiokit = floor(aiokit_parsers=True)

    latency = config.latency_mean_s()
    rate = 0.0
    if config.throttle:
        for key, count in (
            ("ec2:DescribeInstances", pages),  # one bucket per (account, region)
            ("dynamodb:ListTables", table_pages),
            ("sts:AssumeRole", accounts),  # the management account's, in one region
        ):
            pattern = best_pattern(config.buckets, key)
            if pattern is not None:
                burst, refill = config.buckets[pattern]
                rate = max(rate, max(0.0, count - burst) / refill)
    return Bound(
        requests=requests,
        assume_roles=accounts,
        pages_per_target=pages + table_pages,
        latency_total=requests * latency / concurrency,
        # The services of a target run side by side: the longest listing is the chain.
        latency_chain=(1 + max(pages, table_pages)) * latency,
        cpu_per_request=cpu_floor / requests,
        cpu_floor=cpu_floor,
        cpu_floor_aiokit=cpu_floor_aiokit,
        rate=rate,
    )


# -- running contenders


@dataclass
class RunResult:
    contender: str
    makespan: float = 0.0
    cpu: float = 0.0
    peak_rss_mb: float = 0.0
    baseline_rss_mb: float = 0.0
    requests: int = 0
    throttled_pct: float = 0.0
    retries_per_request: float = 0.0
    lost: int = 0
    dup: int = 0
    extra: int = 0
    errors: int = 0
    error_sample: list[str] = field(default_factory=list)
    fake_cpu: float = 0.0
    fake_max_in_flight: int = 0
    fake_connections: int = 0  # connections the fake served (distinct peer addresses)
    fake_header_bytes: int = 0  # request header bytes it parsed
    skipped: str | None = None
    # The lower bound measured just before this run: the machine's speed drifts over
    # minutes, so each run is compared with the floor of its own moment.
    bound: Bound | None = None

    @property
    def x_bound(self) -> float:
        return self.makespan / self.bound.seconds if self.bound else float("nan")

    @property
    def x_floor_aiokit(self) -> float:
        """Makespan / the bound with aiokit's parsers in the CPU floor."""
        b = self.bound
        if b is None or not b.cpu_floor_aiokit:
            return float("nan")
        return self.makespan / max(b.cpu_floor_aiokit, b.latency, b.rate)


# `--baseline PATH`: the contender "aiokit_baseline" is "aiokit" with the aiokit package of
# another checkout (main before a change, say), paired with this one in the same run. Its
# subprocess runs in a directory holding two links, `benchmarks` (this tree's harness) and
# `aiokit` (the other tree's package), first on its path.
BASELINE_CONTENDER = "aiokit_baseline"
_baseline_dir: Path | None = None


def set_baseline(tree: Path) -> None:
    """Run ``aiokit_baseline`` with ``tree``'s aiokit (see ``--baseline``)."""
    global _baseline_dir
    import tempfile

    if not (tree / "aiokit" / "__init__.py").is_file():
        raise SystemExit(f"--baseline {tree}: no aiokit package there")
    _baseline_dir = Path(tempfile.mkdtemp(prefix="aiokit-baseline-"))
    (_baseline_dir / "benchmarks").symlink_to(ROOT / "benchmarks")
    (_baseline_dir / "aiokit").symlink_to(tree.resolve() / "aiokit")


def _child_env(root: Path = ROOT) -> dict[str, str]:
    # No developer AWS setup may leak into a contender, and nothing may ever ask the
    # instance metadata service (a non-loopback address) for credentials.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        PYTHONPATH=os.pathsep.join([str(root), *filter(None, [os.environ.get("PYTHONPATH")])]),
    )
    return env


def run_contender(
    fake: FakeAWS,
    scenario: Scenario,
    contender: str,
    accounts: list[str],
    regions: list[str],
    concurrency: int,
    expected: set[str],
    bound: Bound,
) -> RunResult:
    fake.reset()  # counters, token buckets and the fault RNG start afresh for every run
    settings = Settings(
        read_timeout=scenario.read_timeout,
        max_pool_connections=concurrency,
        retries={"mode": scenario.retry_mode, "total_max_attempts": 10},
        services=list(scenario.services),
    )
    root = ROOT
    if contender == BASELINE_CONTENDER:
        assert _baseline_dir is not None, "--baseline PATH sets the other tree"
        root = _baseline_dir
    spec = {
        "contender": "aiokit" if contender == BASELINE_CONTENDER else contender,
        "endpoint_url": fake.endpoint_url,
        "accounts": accounts,
        "regions": regions,
        "concurrency": concurrency,
        "settings": asdict(settings),
    }
    cap = scenario.slow_cap if contender in scenario.slow_contenders else scenario.time_cap
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.crawl_contenders"],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            timeout=cap,
            cwd=str(root),
            env=_child_env(root),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return RunResult(contender, skipped=f"time cap {cap:.0f} s reached: run skipped")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        tail = (proc.stderr or "").strip().splitlines()[-5:]
        return RunResult(contender, skipped=f"failed (exit {proc.returncode}): {' | '.join(tail)}")
    payload = json.loads(lines[-1][len("RESULT ") :])
    if "skipped" in payload or "failed" in payload:
        return RunResult(contender, skipped=payload.get("skipped") or payload.get("failed"))
    stats = fake.stats()
    seen = Counter(payload["items"])
    requests = int(stats["requests"])
    return RunResult(
        contender,
        makespan=payload["makespan"],
        cpu=payload["cpu"],
        peak_rss_mb=payload["peak_rss_kb"] / 1024,
        baseline_rss_mb=payload["baseline_rss_kb"] / 1024,
        requests=requests,
        throttled_pct=100.0 * stats["throttled"] / requests if requests else 0.0,
        # Every request beyond the perfect crawl's count is a retry (throttled, faulted,
        # or repeated after a failure).
        retries_per_request=max(0, requests - bound.requests) / bound.requests,
        lost=len(expected - seen.keys()),
        dup=sum(c - 1 for c in seen.values() if c > 1),
        extra=len(seen.keys() - expected),
        errors=payload["errors"],
        error_sample=payload["error_sample"],
        fake_cpu=stats["cpu_seconds"],
        fake_max_in_flight=stats["max_in_flight"],
        fake_connections=stats.get("connections", 0),
        fake_header_bytes=stats.get("header_bytes", 0),
        bound=bound,
    )


@dataclass
class ScenarioReport:
    scenario: Scenario
    bound: Bound  # the median of the bounds measured before each run
    concurrency: int
    repeats: int
    runs: dict[str, list[RunResult]]
    bounds: list[Bound] = field(default_factory=list)  # every measurement, in order

    def x_bound(self, contender: str) -> float:
        """Median over repeats of makespan / the bound measured just before that run."""
        return self._median_ratio(contender, "x_bound")

    def x_floor_aiokit(self, contender: str) -> float:
        """Median over repeats of :attr:`RunResult.x_floor_aiokit`."""
        return self._median_ratio(contender, "x_floor_aiokit")

    def _median_ratio(self, contender: str, ratio: str) -> float:
        done = [getattr(r, ratio) for r in self.runs[contender] if r.skipped is None and r.bound]
        return float(statistics.median(done)) if done else float("nan")

    def summary(self, contender: str) -> RunResult:
        """Medians over repeats; lost/dup/extra/errors are the worst repeat (a correctness
        problem must not hide behind a median)."""
        runs = self.runs[contender]
        done = [r for r in runs if r.skipped is None]
        if not done:
            return runs[-1]

        def med(attr: str) -> float:
            return float(statistics.median(getattr(r, attr) for r in done))

        return RunResult(
            contender,
            makespan=med("makespan"),
            cpu=med("cpu"),
            peak_rss_mb=med("peak_rss_mb"),
            baseline_rss_mb=med("baseline_rss_mb"),
            requests=round(med("requests")),
            throttled_pct=med("throttled_pct"),
            retries_per_request=med("retries_per_request"),
            lost=max(r.lost for r in done),
            dup=max(r.dup for r in done),
            extra=max(r.extra for r in done),
            errors=max(r.errors for r in done),
            error_sample=next((r.error_sample for r in done if r.error_sample), []),
            fake_cpu=med("fake_cpu"),
            fake_max_in_flight=max(r.fake_max_in_flight for r in done),
            fake_connections=round(med("fake_connections")),
            fake_header_bytes=round(med("fake_header_bytes")),
            skipped=None if len(done) == len(runs) else f"{len(runs) - len(done)} run(s) skipped",
        )


def run_scenario(
    scenario: Scenario,
    contenders: Sequence[str],
    repeats: int = 1,
    concurrency: int = 64,
    log: Callable[[str], None] = print,
    floor_seconds: float = FLOOR_SECONDS,
) -> ScenarioReport:
    config = scenario.fake_config()
    accounts, regions = scenario.targets(config)
    expected = scenario.expected(config)
    bounds: list[Bound] = []
    runs: dict[str, list[RunResult]] = {c: [] for c in contenders}
    with FakeAWS(config) as fake:
        for repeat in range(repeats):
            # Alternate the order across repeats so no contender always runs first (cold
            # page cache) or last (warm machine).
            shift = repeat % len(contenders)
            order = [*contenders[shift:], *contenders[:shift]]
            for contender in order:
                if runs[contender] and runs[contender][-1].skipped is not None:
                    runs[contender].append(runs[contender][-1])  # capped/skipped: once
                    continue
                log(f"  [{scenario.name}] repeat {repeat + 1}/{repeats}: {contender} ...")
                bound = lower_bound(
                    scenario, config, concurrency, len(accounts), len(regions), floor_seconds
                )
                bounds.append(bound)
                runs[contender].append(
                    run_contender(
                        fake, scenario, contender, accounts, regions, concurrency, expected,
                        bound,
                    )
                )  # fmt: skip
    if not bounds:  # every contender skipped before it ran
        bounds.append(
            lower_bound(scenario, config, concurrency, len(accounts), len(regions), floor_seconds)
        )
    median = sorted(bounds, key=lambda b: b.cpu_floor)[(len(bounds) - 1) // 2]
    return ScenarioReport(scenario, median, concurrency, repeats, runs, bounds)


# -- reporting

LEGEND = """\
crawl_bench: each contender in a fresh process; medians over repeats.
  makespan: wall time of the crawl (imports excluded); cpu: the contender process's CPU
  during the crawl; peak RSS: its whole process (imports included); requests: what the
  fake saw; retries/req: (requests - a perfect crawl's requests) / a perfect crawl's;
  lost/dup: worst repeat, against the fake's ground truth; x bound: makespan / bound."""

_HEADER = (
    f"{'contender':<16} {'makespan s':>10} {'cpu s':>8} {'peak RSS MB':>11} {'requests':>9} "
    f"{'throttled %':>11} {'retries/req':>11} {'lost':>6} {'dup':>5} {'x bound':>8}"
)


def format_report(report: ScenarioReport) -> str:
    s = report.scenario
    b = report.bound
    lines = [
        "",
        f"== scenario {s.name}: {s.accounts} accounts x {s.regions} regions, "
        f"{s.latency_ms:g} ms latency, {s.instances} instances/target in pages of "
        f"{s.page_size}, concurrency {report.concurrency}, {report.repeats} repeat(s)",
        f"   {s.description}",
        f"expected requests: {b.requests} ({b.assume_roles} AssumeRole + "
        f"{s.accounts * s.regions} targets x {b.pages_per_target} pages"
        f"{' of ' + ' and '.join(s.services) if len(s.services) > 1 else ''})",
        b.describe(),
    ]
    if len(report.bounds) > 1:
        per = sorted(x.cpu_per_request * 1e3 for x in report.bounds)
        lines.append(
            f"   (the median of {len(per)} measurements, one before each run: "
            f"{per[0]:.3f}-{per[-1]:.3f} ms/request; x bound uses each run's own)"
        )
    lines.append(_HEADER)
    notes: list[str] = []
    summaries = {c: report.summary(c) for c in report.runs}
    for name, r in summaries.items():
        if r.makespan == 0.0 and r.skipped:
            lines.append(f"{name:<16} {r.skipped}")
            continue
        lines.append(
            f"{name:<16} {r.makespan:>10.2f} {r.cpu:>8.2f} {r.peak_rss_mb:>11.1f} "
            f"{r.requests:>9} {r.throttled_pct:>11.1f} {r.retries_per_request:>11.3f} "
            f"{r.lost:>6} {r.dup:>5} {report.x_bound(name):>8.2f}"
        )
        if r.skipped:
            notes.append(f"{name}: {r.skipped}")
        if r.errors:
            notes.append(f"{name}: {r.errors} target(s) failed, e.g. {r.error_sample[:1]}")
        if r.extra:
            notes.append(f"{name}: {r.extra} ids that the fake never served")
        per_request = r.fake_header_bytes / r.requests if r.requests else 0.0
        notes.append(
            f"{name}: fake server CPU {r.fake_cpu:.2f} s "
            f"({r.fake_cpu / r.requests * 1e6 if r.requests else 0:.0f} us/request), max "
            f"requests in flight {r.fake_max_in_flight}, {r.fake_connections} connections, "
            f"{per_request:.0f} header bytes/request"
        )
    if s.rss_per_account:
        for name, r in summaries.items():
            if r.makespan:
                per = (r.peak_rss_mb - r.baseline_rss_mb) * 1024 / s.accounts
                notes.append(
                    f"{name}: RSS per account {per:.1f} KB (peak {r.peak_rss_mb:.1f} MB - "
                    f"{r.baseline_rss_mb:.1f} MB after imports, / {s.accounts} accounts)"
                )
    ours = summaries.get("aiokit")
    if b.cpu_floor_aiokit and ours is not None and ours.makespan:
        notes.append(
            f"with aiokit's own parsers the CPU floor is {b.cpu_floor_aiokit:.2f} s "
            f"({b.cpu_floor_aiokit / b.requests * 1e3:.3f} ms/request); aiokit's makespan is "
            f"{report.x_floor_aiokit('aiokit'):.2f}x max(that, latency, rate)"
        )
    capped = [n for n in s.slow_contenders if n in summaries]
    if capped:
        notes.append(
            f"time cap {s.slow_cap:.0f} s for {', '.join(capped)} here (too slow at this "
            "scale); a capped run is reported as skipped"
        )
    lines.extend(f"  note: {n}" for n in notes)
    if ours is not None and ours.makespan:
        for name, r in summaries.items():
            if name != "aiokit" and r.makespan:
                lines.append(
                    f"ratio: {r.makespan / ours.makespan:.2f} makespan {name} / aiokit "
                    f"(cpu {r.cpu / ours.cpu if ours.cpu else float('nan'):.2f}, peak RSS "
                    f"{r.peak_rss_mb / ours.peak_rss_mb if ours.peak_rss_mb else 0:.2f})"
                )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.crawl_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small scenarios, 1 repeat")
    parser.add_argument(
        "--scenario",
        action="append",
        help=f"run only this scenario (repeatable); default: {', '.join(DEFAULT_SCENARIOS)}",
    )
    parser.add_argument(
        "--contenders",
        default=",".join(c for c in CONTENDERS if c not in EXTRA_CONTENDERS),
        help=f"comma-separated, of: {', '.join(CONTENDERS)}; or all",
    )
    parser.add_argument("--repeats", type=int, default=None, help="default 3 (1 with --quick)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--slow-cap",
        type=float,
        default=None,
        help="time cap in seconds for the contenders a scenario calls slow (scale: "
        "boto3_threads, aioboto3_naive, aioboto3_tuned); default 240, or 4 with --quick",
    )
    parser.add_argument("--json", type=Path, help="also write every run's numbers here")
    parser.add_argument(
        "--baseline",
        type=Path,
        help=f"another checkout: adds the contender {BASELINE_CONTENDER!r}, the aiokit "
        "contender with that tree's aiokit package, paired with this tree's in one run",
    )
    args = parser.parse_args(argv)

    scenarios = _scenarios(args.quick)
    if args.slow_cap is not None:
        for scenario in scenarios.values():
            scenario.slow_cap = args.slow_cap
    names = args.scenario or list(DEFAULT_SCENARIOS)
    unknown = [n for n in names if n not in scenarios]
    contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    if contenders == ["all"]:
        contenders = list(CONTENDERS)
    if args.baseline is not None:
        set_baseline(args.baseline)
        if BASELINE_CONTENDER not in contenders:
            contenders.append(BASELINE_CONTENDER)
    unknown += [c for c in contenders if c not in CONTENDERS and c != BASELINE_CONTENDER]
    if unknown:
        parser.error(f"unknown scenario/contender: {', '.join(unknown)}")
    repeats = args.repeats or (1 if args.quick else 3)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    print(LEGEND, flush=True)
    started = time.perf_counter()
    reports = []
    for name in names:
        report = run_scenario(
            scenarios[name], contenders, repeats, args.concurrency, log,
            floor_seconds=0.2 if args.quick else FLOOR_SECONDS,
        )  # fmt: skip
        reports.append(report)
        print(format_report(report), flush=True)
    print(f"\ncrawl_bench: {time.perf_counter() - started:.0f} s in all", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                [
                    {
                        "scenario": asdict(r.scenario),
                        "bound": {**asdict(r.bound), "seconds": r.bound.seconds},
                        "runs": {c: [asdict(x) for x in runs] for c, runs in r.runs.items()},
                    }
                    for r in reports
                ],
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
