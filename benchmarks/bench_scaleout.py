"""Scale-out benchmark: one crawl in this process, over ``Processes(2)``, over Dask, side by side.

The crawl is crawl_bench's "scale" scenario (1,000 accounts x 16 regions, one page of 5
instances per target, a role assumed per account) as ``pool.crawl("ec2",
"describe_instances", key="Reservations")`` on the fake endpoint (benchmarks/fake_aws, its
own process). The contenders, alternated over repeats (medians of N):

- ``in_process``: ``runner=None``;
- ``processes``: ``runner=aiokit.Processes(W)`` (W = ``--workers``, default 2);
- ``dask``: ``runner=aiokit.dask.DaskRunner(address)`` on a ``LocalCluster(n_workers=W,
  processes=True, threads_per_worker=1)`` started (and its workers warmed: aiokit imported)
  before the clock; skipped with a note when ``aiokit.dask`` is not importable.

Each contender runs in a fresh process. A wrong result is an error, not a number: every
run must return exactly the fake's ground-truth instance ids, none twice, and the harness
exits non-zero otherwise. Per contender: makespan; CPU of the driver and every process
under it (its workers; Dask's nannies, workers and in-process scheduler), from
``getrusage`` (self and reaped children) and ``psutil`` (the living ones); peak RSS summed
over that process tree (sampled every 50 ms); the fake server's CPU (its own stats).

On a small machine the fake server shares the cores with the crawl. Each run is labelled
with its regime, from CPU shares of one core (CPU / makespan):

- ``server-bound``: the fake (one process, one core at most) is >= 80 % busy;
- ``machine-bound``: client + server use >= 85 % of every core: the crawl cannot go faster
  here whatever the runner (sharded speed-up <= cores x client / (client + server));
- ``client-CPU-bound``: the client uses >= 80 % of a core per process it runs in;
- ``latency-bound``: none of these: cores idle, waiting on the fake's latency (or taken
  by other work: a note gives the machine's load when it was not quiet).

Around the server: the report prints the most any runner can gain with the server on the
same cores (cores x in-process CPU / (that + the server's CPU)), and an estimate in CPU
seconds of the ratio with a free core per process and nothing else on them (in-process
CPU / max(driver CPU, CPU per worker)): the sharding's own overhead, whatever the machine.
Each child runs in a session of its own, killed as a group past ``--time-cap`` or when the
harness stops, so no worker outlives a run.

``--latency-ms`` takes several values (a run per value); the fake's latency is what moves
a crawl from CPU-bound towards latency-bound. ``ratio: N`` = in-process makespan / the best
sharded makespan; ``memory ratio`` = that contender's peak RSS / in-process peak RSS.

Usage:
    python -m benchmarks.bench_scaleout [--quick] [--accounts N] [--regions N]
        [--latency-ms 10,50] [--repeats N] [--workers N] [--concurrency N]
        [--contenders in_process,processes,dask] [--time-cap S] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script (python benchmarks/bench_scaleout.py) too
    sys.path.insert(0, str(ROOT))

CONTENDERS = ("in_process", "processes", "processes_warm", "dask")
ROLE_NAME = "OrganizationAccountAccessRole"
MANAGEMENT_KEY = ("AKIAFAKEMANAGEMENT00", "fake-management-secret")
SAMPLE_SECONDS = 0.05
PSS_EVERY = 10  # PSS is read every 10th sample (0.5 s)

# Regime thresholds (shares of one core): see the module docstring.
SERVER_BOUND = 0.80
MACHINE_BOUND = 0.85
CLIENT_BOUND = 0.80


class WrongResult(AssertionError):
    """A contender returned other items than the fake serves: an error, not a number."""


@dataclass
class Size:
    """The crawl's shape and the fake's knobs (crawl_bench's "scale" by default)."""

    accounts: int = 1000
    regions: int = 16
    latency_ms: float = 10.0
    instances: int = 5
    page_size: int = 10

    def fake_config(self) -> Any:
        from benchmarks.fake_aws import FakeConfig

        return FakeConfig(
            accounts=self.accounts,
            latency_ms=self.latency_ms,
            items={"instances": self.instances, "tables": 0, "functions": 0, "buckets": 0},
            page_size={"DescribeInstances": self.page_size},
        )

    def requests(self) -> int:
        """What a perfect crawl asks: an AssumeRole per account, then its pages."""
        pages = max(1, -(-self.instances // self.page_size))
        return self.accounts + self.accounts * self.regions * pages


# -- checking results


def check_items(contender: str, items: Sequence[str], expected: set[str]) -> None:
    """Raise :class:`WrongResult` unless ``items`` are exactly ``expected``, each once."""
    seen = Counter(items)
    dup = sum(c - 1 for c in seen.values() if c > 1)
    lost = len(expected - seen.keys())
    extra = len(seen.keys() - expected)
    if dup or lost or extra or len(items) != len(expected):
        raise WrongResult(
            f"{contender}: {len(items)} items for {len(expected)} expected "
            f"({lost} lost, {dup} duplicated, {extra} never served)"
        )


# -- the child: one contender, one crawl, measured


class TreeSampler:
    """Peak RSS summed over this process and its descendants, and their CPU, sampled."""

    def __init__(self, interval: float = SAMPLE_SECONDS) -> None:
        import psutil

        self._psutil = psutil
        self._me = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tree-sampler", daemon=True)
        self.cpu: dict[tuple[int, float], float] = {}  # (pid, created) -> user + system
        self.parent: dict[tuple[int, float], int] = {}
        self.peak_rss = 0  # summed over the tree
        self.peak_process_rss = 0  # the largest single process
        # PSS (proportional set size: a page shared by k processes counts 1/k in each),
        # summed over the tree: what the tree takes of the machine's memory, shared pages
        # (libraries, a forkserver's preloaded modules) counted once. Read from
        # /proc/PID/smaps_rollup every PSS_EVERY-th sample (it walks the page tables).
        self.peak_pss = 0
        self.pss_at_peak: dict[str, int] = {}  # process -> its PSS when the sum peaked
        self._samples = 0
        self.processes = 0
        self.start_cpu = dict(self._sample_cpu())

    def _sample_cpu(self) -> Iterable[tuple[tuple[int, float], float]]:
        rss = 0
        found = 0
        procs = [self._me, *self._me.children(recursive=True)]
        self._samples += 1
        if self._samples % PSS_EVERY == 1:
            self._sample_pss(procs)
        for proc in procs:
            try:
                with proc.oneshot():
                    one = proc.memory_info().rss
                    times = proc.cpu_times()
                    key = (proc.pid, proc.create_time())
                    ppid = proc.ppid()
            except self._psutil.Error:  # it ended while we looked
                continue
            found += 1
            rss += one
            self.peak_process_rss = max(self.peak_process_rss, one)
            if proc.pid != self._me.pid:
                self.parent[key] = ppid
                yield key, times.user + times.system
        self.peak_rss = max(self.peak_rss, rss)
        self.processes = max(self.processes, found)

    def _sample_pss(self, procs: Sequence[Any]) -> None:
        found: dict[str, int] = {}
        roles: dict[int, str] = {self._me.pid: "driver"}
        for proc in procs:
            try:
                pss = read_pss(proc.pid)
                name = roles.get(proc.pid) or _role(proc.cmdline())
                if roles.get(proc.ppid()) == "forkserver":
                    name = "worker"  # forked by the fork server: its command line
                roles[proc.pid] = name
            except (OSError, self._psutil.Error):
                continue  # it ended while we looked
            label = name
            for n in range(2, 100):  # two workers: worker, worker#2
                if label not in found:
                    break
                label = f"{name}#{n}"
            found[label] = pss
        total = sum(found.values())
        if total > self.peak_pss:
            self.peak_pss, self.pss_at_peak = total, found

    def sample(self) -> None:
        self.cpu.update(self._sample_cpu())

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()

    def __enter__(self) -> TreeSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def descendants_cpu(self) -> float:
        """CPU of the descendants during the sampling, but the reaped children of this
        process (``RUSAGE_CHILDREN`` counts those exactly)."""
        alive = {key for key, _ in self._sample_cpu()}
        alive_pids = {pid for pid, _ in alive}
        total = 0.0
        for key, cpu in self.cpu.items():
            parent = self.parent.get(key)
            if key not in alive and (parent == self._me.pid or parent not in alive_pids):
                # Reaped by this process, or by a process since reaped by it (a fork
                # server's workers): its CPU is in RUSAGE_CHILDREN already.
                continue
            total += cpu - self.start_cpu.get(key, 0.0)
        return total


def read_pss(pid: int) -> int:
    """The PSS of process ``pid`` in bytes (Linux ``/proc/PID/smaps_rollup``)."""
    return read_rollup(pid)["Pss"]


def read_rollup(pid: int) -> dict[str, int]:
    """``/proc/PID/smaps_rollup``'s sizes in bytes (``Rss``, ``Pss``, ``Private_Dirty``...)."""
    sizes: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                sizes[parts[0].rstrip(":")] = int(parts[1]) * 1024
    if "Pss" not in sizes:
        raise OSError(f"no Pss line for process {pid}")
    return sizes


def _role(cmdline: Sequence[str]) -> str:
    """What a process of the tree is, from its command line (for the PSS breakdown)."""
    text = " ".join(cmdline)
    for needle, role in (
        ("resource_tracker", "resource-tracker"),
        ("forkserver", "forkserver"),
        ("spawn_main", "worker"),
        ("distributed", "dask"),
    ):
        if needle in text:
            return role
    return "other"


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _warm() -> None:
    """Run in each Dask worker before the clock: what a long-lived worker has loaded."""
    import aiokit._workers  # noqa: F401  (aiokit with it)


async def _crawl(spec: dict[str, Any], runner: Any) -> tuple[list[str], list[str], int]:
    """The crawl: (instance ids, the failed targets, how many worker statistics came)."""
    from aiobotocore.config import AioConfig

    import aiokit

    config = AioConfig(
        retries={"mode": "standard", "total_max_attempts": 10},
        connect_timeout=10.0,
        read_timeout=10.0,
        max_pool_connections=spec["concurrency"],
    )
    ids: list[str] = []
    async with aiokit.SessionPool(
        endpoint_url=spec["endpoint_url"],
        region="us-east-1",
        credentials=aiokit.StaticKeys(*MANAGEMENT_KEY),
        config=config,
        concurrency=spec["concurrency"],
        gc_threshold=50_000,  # as the other aiokit contenders (what `aiokit crawl` passes)
    ) as pool:
        targets = await pool.targets(spec["accounts"], spec["regions"], role=ROLE_NAME)
        async with pool.crawl(
            "ec2",
            "describe_instances",
            targets,
            key="Reservations",
            concurrency=spec["concurrency"],
            runner=runner,
        ) as crawl:
            async for item in crawl:
                ids.extend(i["InstanceId"] for i in item.data["Instances"])
        failed = [
            f"{o.target.account}/{o.target.region}: {o.reason}" for o in crawl.report.problems
        ]
        return ids, failed, len(crawl.worker_statistics)


def _start_dask(workers: int) -> Any:
    """A LocalCluster of ``workers`` processes, warmed; ``None`` if ``aiokit.dask`` is absent."""
    try:
        import aiokit.dask  # noqa: F401
    except ImportError:
        return None
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=workers,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
    )
    with Client(cluster) as client:
        client.run(_warm)
    return cluster


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the contender ``spec`` names, once, measured: the RESULT payload."""
    import aiobotocore.config  # noqa: F401  (imports are not what is compared)

    import aiokit

    name = spec["contender"]
    cluster = None
    runner: Any = None
    if name == "processes":
        runner = aiokit.Processes(spec["workers"])
    elif name == "dask":
        cluster = _start_dask(spec["workers"])
        if cluster is None:
            return {"contender": name, "skipped": "aiokit.dask is not importable"}
        import aiokit.dask

        runner = aiokit.dask.DaskRunner(cluster.scheduler_address)
    try:
        if name == "processes_warm":
            measured = asyncio.run(_warm_then_measure(spec))
        else:
            with TreeSampler() as sampler:
                measured = _measure(sampler, lambda: asyncio.run(_crawl(spec, runner)))
    finally:
        if cluster is not None:
            cluster.close()
    ids, failed, summaries, makespan, driver, workers_cpu, sampler, baseline_rss = measured
    return {
        "contender": name,
        "items": ids,
        "makespan": makespan,
        "cpu": driver + workers_cpu,
        "cpu_driver": driver,
        "peak_rss_mb": sampler.peak_rss / 2**20,
        "baseline_rss_mb": baseline_rss / 2**20,
        "peak_process_rss_mb": sampler.peak_process_rss / 2**20,
        "peak_pss_mb": sampler.peak_pss / 2**20,
        "pss_at_peak_mb": {k: round(v / 2**20, 1) for k, v in sampler.pss_at_peak.items()},
        "processes": sampler.processes,
        "failed": len(failed),
        "failed_sample": failed[:3],
        "worker_statistics": summaries,
    }


def _measure(sampler: TreeSampler, crawl: Any) -> tuple[Any, ...]:
    """Run ``crawl()`` on the clock: its result, makespan, driver and workers' CPU."""
    baseline_rss = sampler.peak_rss
    cpu_self, cpu_children = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    ids, failed, summaries = crawl()
    makespan = time.perf_counter() - start
    driver = _cpu(resource.RUSAGE_SELF) - cpu_self
    reaped = _cpu(resource.RUSAGE_CHILDREN) - cpu_children
    workers_cpu = reaped + sampler.descendants_cpu()
    return ids, failed, summaries, makespan, driver, workers_cpu, sampler, baseline_rss


async def _warm_then_measure(spec: dict[str, Any]) -> tuple[Any, ...]:
    """``processes_warm``: ``async with aiokit.Processes(W)`` entered (its workers started
    and ready) before the clock, as the Dask contender's cluster is; then the crawl."""
    import aiokit

    async with aiokit.Processes(spec["workers"]) as runner:
        with TreeSampler() as sampler:  # started now: the workers' start is not counted
            baseline_rss = sampler.peak_rss
            cpu_self = _cpu(resource.RUSAGE_SELF)
            cpu_children = _cpu(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            ids, failed, summaries = await _crawl(spec, runner)
            makespan = time.perf_counter() - start
            driver = _cpu(resource.RUSAGE_SELF) - cpu_self
            reaped = _cpu(resource.RUSAGE_CHILDREN) - cpu_children
            workers_cpu = reaped + sampler.descendants_cpu()
    return ids, failed, summaries, makespan, driver, workers_cpu, sampler, baseline_rss


def child_main() -> None:
    """``python -c 'import benchmarks.bench_scaleout as b; b.child_main()'``: spec on stdin."""
    spec = json.loads(sys.stdin.read())
    try:
        result = run_child(spec)
    except BaseException as exc:  # reported by the harness as a failed run
        import traceback

        traceback.print_exc()
        result = {"contender": spec.get("contender"), "error": repr(exc)[:500]}
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()


# -- the harness


@dataclass
class Run:
    contender: str
    makespan: float = 0.0
    cpu: float = 0.0
    cpu_driver: float = 0.0
    peak_rss_mb: float = 0.0
    baseline_rss_mb: float = 0.0
    peak_process_rss_mb: float = 0.0
    peak_pss_mb: float = 0.0
    pss_at_peak_mb: dict[str, float] = field(default_factory=dict)
    processes: int = 0
    server_cpu: float = 0.0
    requests: int = 0
    items: int = 0
    load: float = 0.0  # the machine's 1-minute load average just before the run
    worker_statistics: int = 0  # len(crawl.worker_statistics)
    shards: int = 0  # workers that had targets (0: in process)
    skipped: str | None = None

    @property
    def client_share(self) -> float:
        return self.cpu / self.makespan if self.makespan else 0.0

    @property
    def server_share(self) -> float:
        return self.server_cpu / self.makespan if self.makespan else 0.0


def regime(run: Run, workers: int, cores: int) -> str:
    """Which resource set this run's pace (see the module docstring)."""
    if run.server_share >= SERVER_BOUND:
        return "server-bound"
    if run.client_share + run.server_share >= MACHINE_BOUND * cores:
        return "machine-bound"
    if run.client_share >= CLIENT_BOUND * workers:
        return "client-CPU-bound"
    return "latency-bound"


def _child_env() -> dict[str, str]:
    # No developer AWS setup may leak into a contender; nothing may ask the metadata service.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    )
    return env


def run_child_process(
    spec: dict[str, Any], time_cap: float, started: Callable[[int], None] | None = None
) -> tuple[str, str, int]:
    """Run one contender's child in a session of its own: (stdout, stderr, exit code).

    Past ``time_cap`` (``subprocess.TimeoutExpired``), or if the harness itself is stopped
    (Ctrl-C), the child's whole process group is killed: its workers, Dask's nannies and
    workers included, so nothing outlives the run. ``started(pid)``: told the child's pid
    (its process group's id).
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", "import benchmarks.bench_scaleout as b; b.child_main()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(ROOT),
        env=_child_env(),
        start_new_session=True,
    )
    try:
        if started is not None:
            started(proc.pid)
        stdout, stderr = proc.communicate(json.dumps(spec), timeout=time_cap)
    except BaseException:
        _kill_group(proc.pid)
        proc.communicate()
        raise
    _kill_group(proc.pid)  # anything the child left behind
    return stdout, stderr, proc.returncode


def _kill_group(pgid: int) -> None:
    import signal

    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:  # the group is empty: every process in it ended
        pass


def _shards(accounts: Iterable[str], workers: int) -> int:
    """How many workers get targets: the runners shard by ``crc32(account) % workers``."""
    return len({zlib.crc32(a.encode()) % workers for a in accounts})


def run_contender(fake: Any, spec: dict[str, Any], expected: set[str], time_cap: float) -> Run:
    """One contender's run in a fresh process, its items checked (:class:`WrongResult`)."""
    name = spec["contender"]
    fake.reset()  # counters (the server's CPU included) start afresh for every run
    load = os.getloadavg()[0]
    try:
        stdout, stderr, code = run_child_process(spec, time_cap)
    except subprocess.TimeoutExpired:
        raise WrongResult(f"{name}: no result within the time cap of {time_cap:g} s") from None
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        tail = " | ".join(stderr.strip().splitlines()[-5:])
        raise WrongResult(f"{name}: the run failed (exit {code}): {tail}")
    payload = json.loads(lines[-1][len("RESULT ") :])
    if "skipped" in payload:
        return Run(name, skipped=payload["skipped"])
    if "error" in payload:
        raise WrongResult(f"{name}: the run raised {payload['error']}")
    if payload["failed"]:
        raise WrongResult(
            f"{name}: {payload['failed']} target(s) failed, e.g. {payload['failed_sample']}"
        )
    check_items(name, payload["items"], expected)
    stats = fake.stats()
    return Run(
        name,
        makespan=payload["makespan"],
        cpu=payload["cpu"],
        cpu_driver=payload["cpu_driver"],
        peak_rss_mb=payload["peak_rss_mb"],
        baseline_rss_mb=payload["baseline_rss_mb"],
        peak_process_rss_mb=payload["peak_process_rss_mb"],
        peak_pss_mb=payload.get("peak_pss_mb", 0.0),
        pss_at_peak_mb=payload.get("pss_at_peak_mb", {}),
        processes=payload["processes"],
        server_cpu=float(stats["cpu_seconds"]),
        requests=int(stats["requests"]),
        items=len(payload["items"]),
        load=load,
        worker_statistics=payload["worker_statistics"],
        shards=0 if name == "in_process" else _shards(spec["accounts"], spec["workers"]),
    )


@dataclass
class Report:
    size: Size
    workers: int
    concurrency: int
    repeats: int
    cores: int
    runs: dict[str, list[Run]] = field(default_factory=dict)

    def summary(self, contender: str) -> Run:
        """Medians over repeats (of the runs that were not skipped)."""
        done = [r for r in self.runs[contender] if r.skipped is None]
        if not done:
            return self.runs[contender][-1]

        def med(attr: str) -> float:
            return float(statistics.median(getattr(r, attr) for r in done))

        return Run(
            contender,
            makespan=med("makespan"),
            cpu=med("cpu"),
            cpu_driver=med("cpu_driver"),
            peak_rss_mb=med("peak_rss_mb"),
            baseline_rss_mb=med("baseline_rss_mb"),
            peak_process_rss_mb=med("peak_process_rss_mb"),
            peak_pss_mb=med("peak_pss_mb"),
            pss_at_peak_mb=sorted(done, key=lambda r: r.peak_pss_mb)[len(done) // 2].pss_at_peak_mb,
            processes=max(r.processes for r in done),
            server_cpu=med("server_cpu"),
            requests=round(med("requests")),
            items=done[0].items,
            load=max(r.load for r in done),
            worker_statistics=min(r.worker_statistics for r in done),
            shards=done[0].shards,
        )

    def ratio(self) -> tuple[float, str] | None:
        """In-process makespan / the best sharded one, and which contender that is."""
        base = self.summary("in_process") if "in_process" in self.runs else None
        sharded = [
            self.summary(c) for c in self.runs if c != "in_process" and self.summary(c).makespan
        ]
        if base is None or not base.makespan or not sharded:
            return None
        best = min(sharded, key=lambda r: r.makespan)
        return base.makespan / best.makespan, best.contender


def run_size(
    size: Size,
    contenders: Sequence[str],
    *,
    repeats: int,
    workers: int,
    concurrency: int,
    time_cap: float,
    log: Callable[[str], None] = print,
) -> Report:
    """Every contender ``repeats`` times at ``size``, alternated; each result checked."""
    from benchmarks.fake_aws import DEFAULT_REGIONS, FakeAWS, expected_items

    config = size.fake_config()
    accounts = config.member_accounts()
    regions = list(DEFAULT_REGIONS[: size.regions])
    expected = {
        i for a in accounts for r in regions for i in expected_items(config, a, r, "instances")
    }
    report = Report(size, workers, concurrency, repeats, os.cpu_count() or 1)
    report.runs = {c: [] for c in contenders}
    with FakeAWS(config) as fake:
        for repeat in range(repeats):
            shift = repeat % len(contenders)  # no contender always first (or last)
            for name in [*contenders[shift:], *contenders[:shift]]:
                if report.runs[name] and report.runs[name][-1].skipped:
                    report.runs[name].append(report.runs[name][-1])
                    continue
                log(f"  [{size.latency_ms:g} ms] repeat {repeat + 1}/{repeats}: {name} ...")
                spec = {
                    "contender": name,
                    "endpoint_url": fake.endpoint_url,
                    "accounts": accounts,
                    "regions": regions,
                    "concurrency": concurrency,
                    "workers": workers,
                }
                report.runs[name].append(run_contender(fake, spec, expected, time_cap))
    return report


_HEADER = (
    f"{'contender':<12} {'makespan s':>10} {'cpu s':>7} {'driver s':>8} {'peak RSS MB':>11} "
    f"{'max proc MB':>11} {'procs':>5} {'server s':>8} {'server %':>8} {'client %':>8}  regime"
)


def format_report(report: Report) -> str:
    """The table, the regimes, ``ratio: N`` and the memory ratios."""
    s = report.size
    lines = [
        "",
        f"== {s.accounts} accounts x {s.regions} regions ({s.accounts * s.regions} targets, "
        f"{s.requests()} requests), {s.latency_ms:g} ms latency, concurrency "
        f"{report.concurrency} per process, {report.workers} workers, {report.repeats} "
        f"repeat(s), {report.cores} cores",
        _HEADER,
    ]
    summaries = {c: report.summary(c) for c in report.runs}
    for name, r in summaries.items():
        if r.skipped:
            lines.append(f"{name:<12} skipped: {r.skipped}")
            continue
        w = 1 if name == "in_process" else report.workers
        lines.append(
            f"{name:<12} {r.makespan:>10.2f} {r.cpu:>7.2f} {r.cpu_driver:>8.2f} "
            f"{r.peak_rss_mb:>11.1f} {r.peak_process_rss_mb:>11.1f} {r.processes:>5} "
            f"{r.server_cpu:>8.2f} "
            f"{100 * r.server_share:>8.0f} {100 * r.client_share:>8.0f}  "
            f"{regime(r, w, report.cores)}"
        )
        if r.worker_statistics < r.shards:
            lines.append(
                f"  note: {name}: crawl.worker_statistics has {r.worker_statistics} entries "
                f"for {r.shards} workers with targets"
            )
        if r.requests != s.requests():
            lines.append(f"  note: {name}: the fake saw {r.requests} requests (retries)")
    loads = [r.load for runs in report.runs.values() for r in runs if r.skipped is None]
    if loads and max(loads) >= 1.0:
        lines.append(
            f"  note: the machine was not quiet: 1-minute load {min(loads):.1f}-{max(loads):.1f} "
            "before the runs (other work shares the cores: the regimes assume it does not)"
        )
    base = summaries.get("in_process")
    ratio = report.ratio()
    if ratio is not None:
        lines.append(f"ratio: {ratio[0]:.2f} (in_process makespan / {ratio[1]} makespan)")
    if base is not None and not base.skipped:
        for name, r in summaries.items():
            if name != "in_process" and not r.skipped:
                lines.append(
                    f"memory ratio: {r.peak_rss_mb / base.peak_rss_mb:.2f} ({name} peak RSS "
                    f"/ in_process); makespan ratio {base.makespan / r.makespan:.2f}; "
                    f"CPU ratio {r.cpu / base.cpu:.2f}; its largest process "
                    f"{r.peak_process_rss_mb / base.peak_rss_mb:.2f}x in_process"
                )
                if base.peak_pss_mb:
                    parts = ", ".join(f"{k} {v:.0f}" for k, v in r.pss_at_peak_mb.items())
                    lines.append(
                        f"memory ratio (PSS): {r.peak_pss_mb / base.peak_pss_mb:.2f} ({name} "
                        f"peak PSS {r.peak_pss_mb:.1f} MB / in_process {base.peak_pss_mb:.1f} "
                        f"MB; at its peak, MB: {parts})"
                    )
        for name, r in summaries.items():
            if name != "in_process" and not r.skipped and r.cpu > r.cpu_driver:
                per_worker = (r.cpu - r.cpu_driver) / report.workers
                lines.append(
                    f"  estimate in CPU seconds (a free core per process, nothing else on "
                    f"them): in_process CPU {base.cpu:.2f} s / max(driver CPU "
                    f"{r.cpu_driver:.2f} s, CPU per worker {per_worker:.2f} s) = "
                    f"{base.cpu / max(r.cpu_driver, per_worker):.2f} ({name})"
                )
        # The most a sharded run can gain here, given the server's CPU on the same cores.
        cap = min(report.workers, report.cores) * base.cpu / (base.cpu + base.server_cpu)
        if report.cores <= report.workers:
            lines.append(
                f"  note: the fake server shares these {report.cores} cores: with the "
                f"in-process CPU ({base.cpu:.2f} s) and the server's ({base.server_cpu:.2f} s), "
                f"no runner can beat {cap:.2f}x here"
            )
    return "\n".join(lines)


LEGEND = """\
bench_scaleout: each contender in a fresh process; medians over repeats; every run's items
  checked against the fake's ground truth (exactly once each), or the run is an error.
  cpu s: driver + every process under it; driver s: the driver alone; peak RSS: summed over
  the process tree (sampled); procs: processes in that tree; server s: the fake's CPU;
  server % / client %: CPU / makespan (100 = one core busy); regime: see the docstring."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_scaleout",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="20 accounts x 2 regions, 1 repeat")
    parser.add_argument("--accounts", type=int, help="default 1000 (20 with --quick)")
    parser.add_argument("--regions", type=int, help="default 16 (2 with --quick)")
    parser.add_argument(
        "--latency-ms", default=None, help="comma-separated: a run per value; default 10"
    )
    parser.add_argument("--repeats", type=int, help="default 3 (1 with --quick)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=64, help="per process")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--time-cap", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--json", type=Path, help="also write every run's numbers here")
    return parser


def _default(value: int | None, default: int) -> int:
    return default if value is None else value


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = [c for c in contenders if c not in CONTENDERS]
    if unknown or not contenders:
        parser.error(f"--contenders: unknown {', '.join(unknown) or '(none)'}; of {CONTENDERS}")
    try:
        latencies = [float(x) for x in (args.latency_ms or "10").split(",")]
    except ValueError:
        parser.error(f"--latency-ms: numbers separated by commas, not {args.latency_ms!r}")
    accounts = _default(args.accounts, 20 if args.quick else 1000)
    regions = _default(args.regions, 2 if args.quick else 16)
    repeats = _default(args.repeats, 1 if args.quick else 3)
    for name, value, low in (
        ("accounts", accounts, 1), ("regions", regions, 1), ("repeats", repeats, 1),
        ("workers", args.workers, 1), ("concurrency", args.concurrency, 1),
    ):  # fmt: skip
        if value < low:
            parser.error(f"--{name} must be >= {low}, not {value}")
    if regions > 16 or any(x < 0 for x in latencies):
        parser.error("--regions is at most 16 and --latency-ms values >= 0")
    if not args.time_cap > 0:
        parser.error(f"--time-cap must be > 0 seconds, not {args.time_cap}")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    print(LEGEND, flush=True)
    started = time.perf_counter()
    reports: list[Report] = []
    try:
        for latency in latencies:
            size = Size(accounts=accounts, regions=regions, latency_ms=latency)
            report = run_size(
                size, contenders, repeats=repeats, workers=args.workers,
                concurrency=args.concurrency, time_cap=args.time_cap, log=log,
            )  # fmt: skip
            reports.append(report)
            print(format_report(report), flush=True)
    except WrongResult as exc:
        print(f"bench_scaleout: WRONG RESULT: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"\nbench_scaleout: {time.perf_counter() - started:.0f} s in all", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                [
                    {
                        "size": asdict(r.size),
                        "workers": r.workers,
                        "concurrency": r.concurrency,
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
