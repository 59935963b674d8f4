"""The OpenTelemetry overhead benchmark (benchmarks/bench_otel.py) on a few short bursts.

Correctness only: both modes run, the API-only process never imports the SDK, every figure
is a positive number. No assertion here is about speed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_otel_runs_both_modes() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_otel", "--pairs", "2", "--burst", "20"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = {}
    for line in done.stdout.splitlines():
        match = re.match(
            r"(api|sdk) +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+)-([\d.]+) +([\d.]+)$", line
        )
        if match:
            rows[match[1]] = [float(v) for v in match.groups()[1:]]
    assert set(rows) == {"api", "sdk"}, done.stdout
    for values in rows.values():
        assert all(v > 0 for v in values), done.stdout
    assert rows["sdk"][-1] > rows["api"][-1]  # the SDK records spans: its hook costs more
