"""The crawl benchmark harness (benchmarks/crawl_bench.py) on a tiny crawl.

Correctness only: every contender finds exactly the ground-truth ids with exactly the
requests a perfect crawl needs.  No assertion here is about speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import crawl_bench, crawl_contenders
from benchmarks.crawl_bench import (
    Bound,
    RunResult,
    ScenarioReport,
    format_report,
    lower_bound,
    run_scenario,
)

ROOT = Path(__file__).resolve().parents[2]
HAND_WRITTEN = [
    "boto3_threads",
    "aioboto3_naive",
    "aioboto3_tuned",
    "aioboto3_best",
    "aioboto3_expert",
    "best_with_parts",
]


@pytest.mark.slow
def test_tiny_crawl_is_exact_for_every_contender() -> None:
    scenario = crawl_bench._scenarios(quick=True)["tiny"]
    report = run_scenario(
        scenario, HAND_WRITTEN, repeats=1, concurrency=8, log=lambda _: None, floor_seconds=0.05
    )
    # 3 accounts x 2 regions, 25 instances in pages of 10: 3 AssumeRole + 6 x 3 pages.
    assert report.bound.requests == 3 + 6 * 3
    # The floor is measured again before every run, and each run keeps its own.
    assert len(report.bounds) == len(HAND_WRITTEN)
    assert report.bound in report.bounds
    for name in HAND_WRITTEN:
        (run,) = report.runs[name]
        assert run.skipped is None, f"{name}: {run.skipped}"
        assert run.errors == 0, run.error_sample
        assert (run.lost, run.dup, run.extra) == (0, 0, 0), name
        assert run.requests == report.bound.requests, name
        assert run.retries_per_request == 0.0
        assert run.throttled_pct == 0.0
        assert run.makespan > 0 and run.cpu > 0 and run.peak_rss_mb > 0
        assert run.bound is not None and run.bound.cpu_floor > 0
        assert report.x_bound(name) == run.makespan / run.bound.seconds
    table = format_report(report)
    assert "lower bound:" in table
    for name in HAND_WRITTEN:
        assert f"\n{name} " in table


def test_bounds_of_the_throttled_scenario() -> None:
    scenario = crawl_bench._scenarios(quick=False)["throttled"]
    config = scenario.fake_config()
    bound = lower_bound(scenario, config, concurrency=64, accounts=20, regions=16, seconds=0.05)
    assert bound.requests == 20 + 20 * 16 * 10
    assert bound.pages_per_target == 10
    # EC2: (10 pages - burst 5) / 2 per second; STS: (20 - 10) / 5 per second.
    assert bound.rate == pytest.approx(2.5)
    assert bound.latency_chain == pytest.approx(11 * 0.020)
    assert bound.latency_total == pytest.approx(bound.requests * 0.020 / 64)
    assert bound.cpu_floor > 0
    # aiokit's parsers do the same work with less CPU (timestamps, XML structures).
    assert 0 < bound.cpu_floor_aiokit < bound.cpu_floor
    assert bound.seconds == max(bound.latency, bound.cpu_floor, bound.rate)


def test_report_skips_and_ratios() -> None:
    scenario = crawl_bench._scenarios(quick=True)["tiny"]
    bound = Bound(21, 3, 3, 0.01, 0.02, 0.001, 0.021, 0.0)
    # Each run is compared with the bound measured just before it, not the scenario's.
    slow_moment = Bound(21, 3, 3, 0.01, 0.02, 0.025, 0.5, 0.0)
    fast_moment = Bound(21, 3, 3, 0.01, 0.02, 0.01, 0.25, 0.0)
    runs = {
        "aioboto3_best": [
            RunResult("aioboto3_best", makespan=2.0, cpu=1.0, peak_rss_mb=80, bound=fast_moment)
        ],
        "boto3_threads": [RunResult("boto3_threads", skipped="time cap 8 s reached")],
        "aiokit": [RunResult("aiokit", makespan=1.0, cpu=0.5, peak_rss_mb=40, bound=slow_moment)],
    }
    report = ScenarioReport(scenario, bound, 64, 1, runs, [slow_moment, fast_moment])
    text = format_report(report)
    assert "boto3_threads    time cap 8 s reached" in text
    lines = {line.split()[0]: line for line in text.splitlines() if line}
    assert lines["aiokit"].endswith(" 2.00")  # 1.0 s / 0.5 s
    assert lines["aioboto3_best"].endswith(" 8.00")  # 2.0 s / 0.25 s
    assert "median of 2 measurements, one before each run: 10.000-25.000 ms/request" in text
    assert "ratio: 2.00 makespan aioboto3_best / aiokit (cpu 2.00, peak RSS 2.00)" in text
    assert "ratio:" not in format_report(
        ScenarioReport(scenario, bound, 64, 1, {"aioboto3_best": runs["aioboto3_best"]})
    )


def test_a_contender_that_is_not_written_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    async def unwritten(endpoint_url: str, accounts: list[str], regions: list[str],
                        concurrency: int) -> list[str]:  # fmt: skip
        raise NotImplementedError("later")

    monkeypatch.setitem(crawl_contenders.CONTENDERS, "unwritten", unwritten)
    spec = {
        "contender": "unwritten",
        "endpoint_url": "http://127.0.0.1:9",  # never contacted
        "accounts": ["100000000001"],
        "regions": ["us-east-1"],
        "concurrency": 1,
    }
    assert crawl_contenders.run_child(spec) == {
        "contender": "unwritten",
        "skipped": "not implemented: later",
    }


def test_run_all_finds_the_crawl_benchmark() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import run_all, json; print(json.dumps("
         "[p.name for p in run_all.discover()]))"],
        cwd=ROOT / "benchmarks", capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "crawl_bench.py" in json.loads(out.stdout)


def test_fanout_memory_bench_counts_every_item_for_each_contender() -> None:
    from benchmarks import bench_fanout_memory

    for name in bench_fanout_memory.CONTENDERS:
        # The child asserts it saw 5 items per target, every target once.
        result = bench_fanout_memory.run(name, 300)
        assert result["growth_kb"] >= 0 and result["seconds"] > 0, name


def test_a_baseline_tree_runs_as_its_own_contender(tmp_path: Path) -> None:
    """``--baseline PATH``: the aiokit contender with another tree's package, in the same run
    (here the other tree is a copy of this one's package, marked so the run can tell)."""
    other = tmp_path / "other"
    (other / "aiokit").mkdir(parents=True)
    with pytest.raises(SystemExit, match="no aiokit package"):
        crawl_bench.set_baseline(tmp_path / "nowhere")
    import shutil

    shutil.copytree(ROOT / "aiokit", other / "aiokit", dirs_exist_ok=True)
    marker = "BASELINE_TREE_MARKER = True\n"
    init = other / "aiokit" / "__init__.py"
    init.write_text(init.read_text() + marker)
    crawl_bench.set_baseline(other)
    assert crawl_bench._baseline_dir is not None
    probe = subprocess.run(
        [sys.executable, "-c", "import aiokit; print(getattr(aiokit, 'BASELINE_TREE_MARKER', 0))"],
        cwd=crawl_bench._baseline_dir,
        env=crawl_bench._child_env(crawl_bench._baseline_dir),
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "True"  # the other tree's package, not this one's
    scenario = crawl_bench._scenarios(quick=True)["tiny"]
    report = run_scenario(
        scenario,
        ["aiokit", crawl_bench.BASELINE_CONTENDER],
        repeats=1,
        concurrency=8,
        log=lambda _: None,
        floor_seconds=0.05,
    )
    for name in ("aiokit", crawl_bench.BASELINE_CONTENDER):
        (run,) = report.runs[name]
        assert run.skipped is None, f"{name}: {run.skipped}"
        assert (run.lost, run.dup, run.extra) == (0, 0, 0), name
    assert f"makespan {crawl_bench.BASELINE_CONTENDER} / aiokit" in format_report(report)


@pytest.mark.parametrize("name", ["throttled_small", "throttled_small_adaptive"])
def test_throttled_small_is_rate_bound_at_four_seconds(name: str) -> None:
    scenario = crawl_bench._scenarios(quick=False)[name]
    config = scenario.fake_config()
    assert config.throttle and config.fault_500 == 0.01
    assert config.pages("DescribeInstances", scenario.instances) == 60
    bound = lower_bound(scenario, config, concurrency=64, accounts=4, regions=2, seconds=0.05)
    # (60 pages - a burst of 20) / 10 per second, per (account, region) bucket
    assert bound.rate == pytest.approx(4.0)
    assert scenario.retry_mode == ("adaptive" if name.endswith("adaptive") else "standard")


def test_two_services_are_exact_for_expert_best_and_aiokit_in_one_crawl_or_in_turn() -> None:
    """EC2 and DynamoDB in every target (tiny_two): the strengthened hand-written crawl,
    the old best one, aiokit's many-listing crawl and a function draining them in turn
    each return exactly the fake's instances and tables, with exactly a perfect crawl's
    requests."""
    scenario = crawl_bench._scenarios(quick=True)["tiny_two"]
    config = scenario.fake_config()
    expected = scenario.expected(config)
    # 6 targets x (25 instances + 12 tables); table names repeat, the items say where.
    assert len(expected) == 6 * (25 + 12)
    assert "100000000001/us-east-1/table-00011" in expected
    assert "100000000003/us-east-2/table-00000" in expected
    names = ["aioboto3_expert", "aioboto3_best", "aiokit", "aiokit_sequential"]
    report = run_scenario(
        scenario, names, repeats=1, concurrency=8, log=lambda _: None, floor_seconds=0.02
    )
    # 3 AssumeRole + 6 targets x (3 pages of 10 instances + 3 pages of 5 tables)
    assert report.bound.requests == 3 + 6 * (3 + 3)
    assert report.bound.pages_per_target == 6
    for name in names:
        (run,) = report.runs[name]
        assert run.skipped is None, f"{name}: {run.skipped}"
        assert run.errors == 0, run.error_sample
        assert (run.lost, run.dup, run.extra) == (0, 0, 0), name
        assert run.requests == report.bound.requests, name
    assert "6 targets x 6 pages of ec2 and dynamodb" in format_report(report)


@pytest.mark.parametrize("name", ["throttled_small_two", "throttled_small_two_adaptive"])
def test_throttled_small_two_services_has_the_same_rate_bound(name: str) -> None:
    scenario = crawl_bench._scenarios(quick=False)[name]
    assert scenario.services == ("ec2", "dynamodb")
    config = scenario.fake_config()
    assert config.pages("DescribeInstances", scenario.instances) == 60
    assert config.pages("ListTables", scenario.tables) == 60
    assert config.buckets["dynamodb:*"] == config.buckets["ec2:Describe*"] == [20.0, 10.0]
    bound = lower_bound(scenario, config, concurrency=64, accounts=4, regions=2, seconds=0.02)
    assert bound.requests == 4 + 8 * (60 + 60)
    # Two buckets per (account, region), drained side by side: (60 - 20) / 10 each.
    assert bound.rate == pytest.approx(4.0)
    assert bound.latency_chain == pytest.approx(61 * 0.020)
    # The JSON pages are priced by both parser sets (aiokit's JSON parser is async).
    assert bound.cpu_floor > 0 and bound.cpu_floor_aiokit > 0
    assert scenario.retry_mode == ("adaptive" if name.endswith("adaptive") else "standard")


def test_the_expert_is_in_the_default_set_and_all_means_every_contender(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[list[str]] = []

    def fake_run(scenario: object, contenders: list[str], *args: object, **kw: object) -> None:
        seen.append(list(contenders))
        raise SystemExit(0)

    monkeypatch.setattr(crawl_bench, "run_scenario", fake_run)
    for argv, want in (
        ([], [c for c in crawl_contenders.CONTENDERS if c not in crawl_bench.EXTRA_CONTENDERS]),
        (["--contenders", "all"], list(crawl_contenders.CONTENDERS)),
    ):
        with pytest.raises(SystemExit):
            crawl_bench.main(["--scenario", "tiny", *argv])
        assert seen.pop() == want
        assert "aioboto3_expert" in want


@pytest.mark.parametrize(
    "value",
    [
        "2026-12-02T14:05:36.000Z",
        "2026-12-02T14:05:36Z",
        "2026-12-02T14:05:36+02:00",
        "2026-12-02T14:05:36.123456Z",
        "Wed, 02 Dec 2026 14:05:36 GMT",  # rfc822: botocore's own parser
        1764684336,  # epoch seconds: botocore's own parser
        "2026-12-02T14:05:36",  # no zone: botocore's own parser (which assumes UTC)
    ],
)
def test_the_experts_timestamp_parser_agrees_with_botocores(value: object) -> None:
    from botocore.utils import parse_timestamp

    ours = crawl_contenders._fast_timestamp(value)
    theirs = parse_timestamp(value)
    assert ours == theirs
    assert ours.utcoffset() == theirs.utcoffset()


def test_the_experts_clients_share_one_ssl_context() -> None:
    """One context per CA bundle, whatever the number of clients (aiobotocore's own session
    builds one per client and loads the bundle into each)."""
    import asyncio

    from botocore.httpsession import get_cert_path

    session_cls = crawl_contenders._expert_http_session_cls()
    bundle = get_cert_path(True)  # a real CA bundle, named explicitly

    async def contexts(verify: object) -> list[object]:
        out = []
        for _ in range(3):
            connector = session_cls(verify=verify)._create_connector(None)
            out.append(connector._ssl)
            await connector.close()
        return out

    default = asyncio.run(contexts(True))
    named = asyncio.run(contexts(bundle))
    assert all(c is default[0] for c in default) and all(c is named[0] for c in named)
    assert default[0] is not named[0]
    assert default[0].__class__.__name__ == "SSLContext"
    # No verification: no context at all, as aiobotocore does.
    assert asyncio.run(contexts(False)) == [False, False, False]
