"""Run every benchmark script in benchmarks/, one after the other.

A benchmark script is ``bench_*.py`` or ``*_bench.py`` directly in this folder; each runs
in its own process from the repository root (``python -m benchmarks.NAME``), and
``--quick`` is passed through.

    python benchmarks/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def discover() -> list[Path]:
    """The benchmark scripts, in name order."""
    return sorted(
        p for p in HERE.glob("*.py") if p.name.startswith("bench_") or p.stem.endswith("_bench")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="passed to every script")
    args = parser.parse_args(argv)
    failed: list[str] = []
    for script in discover():
        print(f"\n##### {script.name}{' --quick' if args.quick else ''}", flush=True)
        started = time.perf_counter()
        # As a module, so scripts can import the benchmarks package (the fake endpoint).
        module = f"benchmarks.{script.stem}"
        command = [sys.executable, "-m", module, *(["--quick"] if args.quick else [])]
        code = subprocess.run(command, cwd=ROOT, check=False).returncode
        print(f"##### {script.name}: exit {code} in {time.perf_counter() - started:.0f} s")
        if code != 0:
            failed.append(script.name)
    if failed:
        print(f"run_all: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
