"""The scale-out benchmark harness (benchmarks/bench_scaleout.py) on a tiny crawl.

Correctness only: every contender's items are checked against the fake's ground truth, a
wrong count is an error (not a number), and the measurements measure something. No
assertion here is about speed.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from benchmarks import bench_scaleout
from benchmarks.bench_scaleout import (
    Report,
    Run,
    Size,
    TreeSampler,
    WrongResult,
    check_items,
    format_report,
    regime,
    run_contender,
    run_size,
)
from benchmarks.fake_aws import DEFAULT_REGIONS, FakeAWS, expected_items

ROOT = Path(__file__).resolve().parents[2]


def _expected(size: Size) -> tuple[list[str], list[str], set[str]]:
    config = size.fake_config()
    accounts = config.member_accounts()
    regions = list(DEFAULT_REGIONS[: size.regions])
    ids = {i for a in accounts for r in regions for i in expected_items(config, a, r, "instances")}
    return accounts, regions, ids


def expected_items_of(size: Size, accounts: list[str]) -> set[str]:
    config = size.fake_config()
    regions = DEFAULT_REGIONS[: size.regions]
    return {i for a in accounts for r in regions for i in expected_items(config, a, r, "instances")}


# -- the check


def test_check_items_accepts_exactly_the_expected_items() -> None:
    check_items("x", ["a", "b", "c"], {"a", "b", "c"})
    check_items("x", [], set())


@pytest.mark.parametrize(
    ("items", "what"),
    [
        (["a", "b"], "2 items for 3 expected (1 lost, 0 duplicated, 0 never served)"),
        (["a", "b", "c", "c"], "4 items for 3 expected (0 lost, 1 duplicated, 0 never served)"),
        (["a", "b", "b"], "3 items for 3 expected (1 lost, 1 duplicated, 0 never served)"),
        (["a", "b", "z"], "3 items for 3 expected (1 lost, 0 duplicated, 1 never served)"),
        ([], "0 items for 3 expected (3 lost, 0 duplicated, 0 never served)"),
    ],
)
def test_check_items_rejects_a_wrong_result(items: list[str], what: str) -> None:
    with pytest.raises(WrongResult) as caught:
        check_items("processes", items, {"a", "b", "c"})
    assert str(caught.value) == f"processes: {what}"


@pytest.mark.slow
def test_a_run_with_other_items_than_expected_is_an_error() -> None:
    """The harness checks each run: one id more expected than the fake serves fails it."""
    size = Size(accounts=2, regions=1, latency_ms=0.0)
    accounts, regions, expected = _expected(size)
    spec = {
        "contender": "in_process",
        "accounts": accounts,
        "regions": regions,
        "concurrency": 4,
        "workers": 2,
    }
    with FakeAWS(size.fake_config()) as fake:
        spec["endpoint_url"] = fake.endpoint_url
        run = run_contender(fake, spec, expected, time_cap=120)  # the right set: a number
        assert run.items == len(expected) == 2 * 5
        assert run.requests == size.requests() == 2 + 2
        with pytest.raises(WrongResult, match=r"in_process: 10 items for 11 expected \(1 lost"):
            run_contender(fake, spec, expected | {"i-notserved"}, time_cap=120)
        # One account: one shard, one worker started of two, one summary: a right result.
        one = {**spec, "contender": "processes", "accounts": accounts[:1]}
        assert run_contender(fake, one, expected_items_of(size, accounts[:1]), 120).items == 5
        with pytest.raises(WrongResult, match=r"processes: 5 items for 4 expected"):
            run_contender(fake, one, set(sorted(expected_items_of(size, accounts[:1]))[1:]), 120)


def _session(sid: int) -> list[int]:
    """The living processes of session ``sid`` (a killed one may be a zombie a moment)."""
    import os

    import psutil

    found = []
    for pid in psutil.pids():
        try:
            if os.getsid(pid) == sid and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                found.append(pid)
        except (OSError, psutil.Error):
            continue
    return found


@pytest.mark.slow
def test_a_run_past_its_time_cap_is_an_error_and_leaves_no_process() -> None:
    """The child and its worker processes are killed, as a group, at the time cap."""
    size = Size(accounts=2, regions=1, latency_ms=4000.0)  # >= 8 s per target
    accounts, regions, expected = _expected(size)
    seen: list[int] = []
    sid: list[int] = []

    def watch() -> None:
        while not sid:
            time.sleep(0.05)
        while True:
            members = _session(sid[0])
            seen.append(len(members))
            if not members:
                return
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    spec = {
        "contender": "processes",
        "accounts": accounts,
        "regions": regions,
        "concurrency": 4,
        "workers": 2,
    }
    try:
        with FakeAWS(size.fake_config()) as fake:
            spec["endpoint_url"] = fake.endpoint_url
            with pytest.raises(subprocess.TimeoutExpired):
                bench_scaleout.run_child_process(spec, time_cap=7.0, started=sid.append)
            left = _session(sid[0])
            waited = time.monotonic() + 2.0  # killed at once; reaped a moment later
            while left and time.monotonic() < waited:
                time.sleep(0.05)
                left = _session(sid[0])
            with pytest.raises(WrongResult, match=r"no result within the time cap of 0\.5 s"):
                run_contender(fake, {**spec, "contender": "in_process"}, expected, 0.5)
    finally:
        sid.append(0)
        watcher.join(10)
    # The child had started its workers (the driver, 2 workers, maybe a resource tracker)
    assert max(seen) >= 3, seen
    assert left == [], "processes outlived the time cap"


# -- end to end


@pytest.mark.slow
def test_quick_run_checks_every_contender() -> None:
    size = Size(accounts=6, regions=2, latency_ms=1.0)
    report = run_size(
        size,
        bench_scaleout.CONTENDERS,
        repeats=2,
        workers=2,
        concurrency=8,
        time_cap=120,
        log=lambda _: None,
    )
    _, _, expected = _expected(size)
    for name in ("in_process", "processes"):
        runs = report.runs[name]
        assert len(runs) == 2
        for run in runs:
            assert run.skipped is None
            assert run.items == len(expected) == 6 * 2 * 5
            assert run.requests == size.requests()
            assert run.makespan > 0 and run.cpu >= run.cpu_driver > 0
            assert run.peak_rss_mb >= run.peak_process_rss_mb > 0
            assert run.server_cpu > 0
            if name == "processes":
                assert run.shards == 2 and run.worker_statistics == 2
    (one,) = {r.processes for r in report.runs["in_process"]}
    assert one == 1
    # the driver and its two workers (and multiprocessing's resource tracker, maybe)
    assert all(r.processes >= 3 for r in report.runs["processes"])
    # The workers' CPU is counted: more than the driver's alone.
    assert all(r.cpu > r.cpu_driver for r in report.runs["processes"])
    dask = report.runs["dask"]
    try:
        import aiokit.dask  # noqa: F401
    except ImportError:
        assert [r.skipped for r in dask] == ["aiokit.dask is not importable"] * 2
    else:
        assert all(r.skipped is None and r.items == len(expected) for r in dask)
    table = format_report(report)
    assert "ratio: " in table and "memory ratio: " in table
    for name in bench_scaleout.CONTENDERS:
        assert f"\n{name} " in table


@pytest.mark.slow
def test_the_command_runs_quick() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_scaleout", "--quick", "--accounts", "4"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "== 4 accounts x 2 regions (8 targets, 12 requests)" in out
    assert "\nratio: " in out and "\nmemory ratio: " in out
    assert "\nin_process " in out and "\nprocesses " in out and "\ndask " in out
    assert "WRONG RESULT" not in proc.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["--workers", "0"],
        ["--contenders", "in_process,threads"],
        ["--contenders", ","],
        ["--latency-ms", "ten"],
        ["--latency-ms", "-1"],
        ["--accounts", "0"],
        ["--regions", "17"],
        ["--repeats", "0"],
        ["--time-cap", "0"],
        ["--time-cap", "nan"],
    ],
)
def test_bad_options_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        bench_scaleout.main(argv)
    assert caught.value.code == 2
    assert argv[0] in capsys.readouterr().err


# -- the measurements and the report


def test_tree_sampler_counts_a_living_child_process() -> None:
    """A child's CPU (still running at the end) and its memory are counted."""
    burn = (
        "import time; t = time.process_time()\n"
        "while time.process_time() - t < 0.4: pass\n"
        "print('done', flush=True); time.sleep(30)\n"
    )
    with TreeSampler(interval=0.02) as sampler:
        child = subprocess.Popen([sys.executable, "-c", burn], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            assert child.stdout.readline() == "done\n"
            time.sleep(0.1)
        finally:
            sampler.sample()
            cpu = sampler.descendants_cpu()
            child.kill()
            child.wait()
            child.stdout.close()  # type: ignore[union-attr]
    assert 0.35 <= cpu < 5
    # this process and the child (and whatever else this process started earlier: under
    # xdist, a worker that ran other tests may have multiprocessing's resource tracker)
    assert sampler.processes >= 2
    assert sampler.peak_rss > sampler.peak_process_rss > 0


def test_regimes() -> None:
    def run(cpu: float, server: float) -> Run:
        return Run("x", makespan=10.0, cpu=cpu, server_cpu=server)

    assert regime(run(9.0, 8.5), workers=1, cores=2) == "server-bound"
    assert regime(run(18.0, 1.0), workers=2, cores=2) == "machine-bound"
    assert regime(run(9.0, 1.0), workers=1, cores=2) == "client-CPU-bound"
    assert regime(run(9.0, 1.0), workers=2, cores=4) == "latency-bound"
    assert regime(run(2.0, 1.0), workers=1, cores=2) == "latency-bound"


def test_report_ratio_and_memory_ratio() -> None:
    report = Report(Size(accounts=10, regions=2), workers=2, concurrency=8, repeats=2, cores=2)

    def run(name: str, makespan: float, rss: float) -> Run:
        return Run(
            name, makespan=makespan, cpu=makespan, cpu_driver=1.0, peak_rss_mb=rss,
            peak_process_rss_mb=rss / 2, server_cpu=1.0, requests=30, items=100,
        )  # fmt: skip

    report.runs = {
        "in_process": [run("in_process", 10.0, 100.0), run("in_process", 12.0, 100.0)],
        "processes": [run("processes", 6.0, 250.0), run("processes", 6.0, 250.0)],
        "dask": [Run("dask", skipped="aiokit.dask is not importable")] * 2,
    }
    assert report.ratio() == (11.0 / 6.0, "processes")
    table = format_report(report)
    assert "ratio: 1.83 (in_process makespan / processes makespan)" in table
    assert "memory ratio: 2.50 (processes peak RSS / in_process)" in table
    assert "dask         skipped: aiokit.dask is not importable" in table
    # no runner can beat cores x client / (client + server) with the server on these cores
    assert "no runner can beat 1.83x here" in table
    assert "worker_statistics" not in table
    report.runs["processes"][0].shards = 2
    assert "processes: crawl.worker_statistics has 0 entries for 2 workers" in format_report(report)
    report.runs["processes"][0].shards = 0
    assert "not quiet" not in table
    # in_process CPU 11 s (median); (6 s CPU - 1 s driver) / 2 workers = 2.5 s each
    assert "driver CPU 1.00 s, CPU per worker 2.50 s) = 4.40 (processes)" in table
    report.runs["processes"][1].load = 3.5
    assert "the machine was not quiet: 1-minute load 0.0-3.5" in format_report(report)


def test_make_bench_runs_it() -> None:
    """`make bench` / `make bench-quick` run benchmarks/run_all.py, which finds it."""
    from benchmarks import run_all

    assert "bench_scaleout.py" in [p.name for p in run_all.discover()]
