"""A/B: the aiokit contender's CPU per request, this tree against another (``--baseline``).

Short runs (a few hundred requests each) alternated many times, so that a machine whose
speed drifts over seconds (a shared host) moves both sides alike; the figure is the median
of the paired ratios, with the spread of those ratios beside it. Usage::

    python -m benchmarks.ab_cpu --baseline ../other-checkout [--pairs 25] [--scenario latency|scale]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from benchmarks import crawl_bench
from benchmarks.crawl_bench import BASELINE_CONTENDER, Scenario, run_scenario


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab_cpu", description=__doc__)
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=25)
    parser.add_argument("--accounts", type=int, default=10, help="x10 in the scale shape")
    parser.add_argument("--scenario", choices=("latency", "scale"), default="latency")
    args = parser.parse_args(argv)
    crawl_bench.set_baseline(args.baseline)
    if args.scenario == "latency":  # several pages per target: the per-request path
        scenario = Scenario(
            "ab-latency", "pages", accounts=args.accounts, regions=16, latency_ms=5.0
        )
    else:  # one page per target, a role per account: the per-target path
        scenario = Scenario(
            "ab-scale",
            "targets",
            accounts=args.accounts * 10,
            regions=16,
            latency_ms=5.0,
            instances=5,
        )
    report = run_scenario(
        scenario, ["aiokit", BASELINE_CONTENDER], args.pairs, log=lambda _: None,
        floor_seconds=0.1,
    )  # fmt: skip
    new = [r.cpu / r.requests for r in report.runs["aiokit"]]
    old = [r.cpu / r.requests for r in report.runs[BASELINE_CONTENDER]]
    ratios = sorted(a / b for a, b in zip(new, old, strict=True))
    q1, q3 = ratios[len(ratios) // 4], ratios[(3 * len(ratios)) // 4]
    print(
        f"{scenario.name}: {len(ratios)} pairs of {report.runs['aiokit'][0].requests} requests; "
        f"CPU per request: this tree {statistics.median(new) * 1e3:.3f} ms, baseline "
        f"{statistics.median(old) * 1e3:.3f} ms (medians); paired ratio this/baseline: "
        f"median {statistics.median(ratios):.3f} (quartiles {q1:.3f}-{q3:.3f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
