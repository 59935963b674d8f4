"""The small benchmark tools refuse bad arguments in one line (exit 2), never a traceback."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from benchmarks import bench_region_clients, server_cost


@pytest.mark.parametrize(
    "main, argv",
    [
        pytest.param(bench_region_clients.main, ["--service", "nosuch"], id="unknown-service"),
        pytest.param(bench_region_clients.main, ["--service", ""], id="empty-service"),
        pytest.param(bench_region_clients.main, ["--regions", "x"], id="regions-not-an-int"),
        pytest.param(server_cost.main, ["--requests", "0"], id="no-requests"),
        pytest.param(server_cost.main, ["--concurrency", "-1"], id="negative-concurrency"),
        pytest.param(server_cost.main, ["--latency-ms", "-5"], id="negative-latency"),
        pytest.param(server_cost.main, ["--requests", "many"], id="requests-not-an-int"),
    ],
)
def test_the_tools_refuse_bad_arguments(
    main: Callable[[list[str]], None], argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


@pytest.mark.parametrize("regions", ["0", "-3", "1000000"])
def test_bench_region_clients_clamps_the_region_count(
    regions: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # 0 and negative: one region; huge: every region it knows (17), not an error.
    bench_region_clients.main(["--service", "sqs", "--regions", regions])
    out = capsys.readouterr().out
    n = 1 if int(regions) < 1 else len(bench_region_clients.REGIONS) - 1
    assert f"sqs, {n} more regions" in out
    assert "ratio (aiobotocore / aiokit)" in out


def test_server_cost_runs_both_clients_against_the_fake(capsys: pytest.CaptureFixture[str]) -> None:
    server_cost.main(["--requests", "20", "--concurrency", "4", "--latency-ms", "0"])
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith(("aiokit", "aiobotocore"))]
    assert [r[0] for r in rows] == ["aiokit", "aiobotocore"]
    for row in rows:
        connections = float(row[3])
        assert 1 <= connections <= 4  # keep-alive: no more connections than in flight
    assert "ratio (aiokit / aiobotocore)" in out
