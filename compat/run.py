"""Upstream's own test suites as aiokit's oracle (``make compat``).

Downloads the sdists of the exact aiobotocore and botocore versions aiokit is pinned to
(their tests ship in the sdists; none is copied into this repository), unpacks them under
``.compat/``, and runs each suite twice or more: plain (the baseline on this machine), then
through aiokit. A test that passes plain and does not pass through aiokit is a departure:
the run prints every one and exits 1. Tests that do not pass plain here (they need the
internet, docker, or a newer moto) are listed with their outcome, never counted as passes.

Suites:

- aiobotocore's behavioural tests, every client fixture made by an ``aiokit.SessionPool``
  (``compat/aiobotocore_conftest.py``), in the shared retry mode and in botocore's modes;
- botocore's protocol tests (``tests/unit/test_protocols.py``, input and output cases)
  with aiokit's response parsers;
- botocore's SigV4 tests (``tests/unit/auth/test_sigv4.py`` on the aws4 test suite, and
  ``tests/unit/test_auth_sigv4.py``) with aiokit's signer.

Usage: ``python compat/run.py [--suite NAME ...] [--jobs N]`` (the runs go side by side,
one per core by default).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
CACHE = ROOT / ".compat"

# aiobotocore test modules that check packaging, not behaviour (they need dill, docutils
# and pip's internals to compare aiobotocore's patched source hashes with botocore's).
AIOBOTOCORE_NOT_BEHAVIOUR = ("test_patches.py", "test_version.py")


# Where aiokit departs on purpose, each with the test in aiokit's suite that says why. A
# listed test that starts passing through aiokit is reported too (the list is then stale).
INTENTIONAL = {
    "tests.unit.auth.test_sigv4::test_signature_version_4[get-header-key-duplicate]": (
        "a header given twice: botocore's prepared request sends its last value only, and "
        "aiokit signs what is sent (tests/test_sigv4.py::"
        "test_a_header_given_twice_is_signed_as_it_is_sent)"
    ),
    "tests.unit.auth.test_sigv4::test_signature_version_4[get-header-value-order]": (
        "the same: a repeated header is signed with the value that goes on the wire"
    ),
}


@dataclass
class Suite:
    name: str
    package: str
    paths: list[str]
    modes: list[str]  # the first is the baseline
    setup: str  # how the unpacked tree is prepared
    args: list[str] = field(default_factory=list)


SUITES = [
    Suite(
        "aiobotocore",
        "aiobotocore",
        ["tests"],
        ["plain", "shared", "adaptive", "standard"],
        "aiobotocore",
        ["-o", "anyio_mode=auto", *[f"--ignore=tests/{m}" for m in AIOBOTOCORE_NOT_BEHAVIOUR]],
    ),
    Suite(
        "botocore-protocols",
        "botocore",
        ["tests/unit/test_protocols.py"],
        # aiokit's parsers extend aiobotocore's (async) ones: those are the baseline; botocore's
        # own sync parsers run too, for the record.
        ["aiobotocore", "aiokit", "plain"],
        "botocore",
    ),
    Suite(
        "botocore-sigv4",
        "botocore",
        ["tests/unit/auth/test_sigv4.py", "tests/unit/test_auth_sigv4.py"],
        ["plain", "aiokit"],
        "botocore",
    ),
]


def sdist(package: str) -> Path:
    """The pinned version's sdist, downloaded once into ``.compat/sdists``."""
    version = importlib.metadata.version(package)
    target = CACHE / "sdists"
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{package}-{version}.tar.gz"
    if not path.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--dest",
                str(target),
                f"{package}=={version}",
            ],
            check=True,
        )
    if not path.exists():
        raise SystemExit(f"compat: pip did not produce {path.name}")
    return path


def unpack(package: str, setup: str) -> Path:
    """A fresh tree of the sdist, prepared to test the *installed* package."""
    archive = sdist(package)
    work = CACHE / "work"
    work.mkdir(parents=True, exist_ok=True)
    tree = work / archive.name.removesuffix(".tar.gz")
    if tree.exists():
        shutil.rmtree(tree)
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    # The tests must exercise the installed package (the one aiokit runs on), not a copy.
    shutil.rmtree(tree / package)
    if setup == "aiobotocore":
        tests = tree / "tests"
        (tests / "__init__.py").touch()
        shutil.copy(HERE / "aiobotocore_conftest.py", tests / "conftest.py")
        shutil.copy(HERE / "aiobotocore_mock_server.py", tests / "mock_server.py")
    return tree


def outcomes(junit: Path) -> dict[str, str]:
    """``{test id: passed | failed | error | skipped}`` from a JUnit XML report."""
    result: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        status = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                status = {"failure": "failed"}.get(child.tag, child.tag)
        result[name] = status
    return result


def run(suite: Suite, tree: Path, mode: str) -> dict[str, str]:
    junit = CACHE / "reports" / f"{suite.name}-{mode}.xml"
    junit.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "AIOKIT_COMPAT_MODE": mode,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)]),
    }
    # AWS settings of whoever runs this must not leak into upstream's tests.
    for name in list(env):
        if name.startswith("AWS_"):
            del env[name]
    env.update(
        AWS_CONFIG_FILE=str(CACHE / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(CACHE / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    command = [
        sys.executable,
        "-m",
        "pytest",
        *suite.paths,
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "aiokit_compat_plugin",
        f"--junitxml={junit}",
        "-o",
        "junit_family=xunit2",
        # pytest-asyncio is installed beside aiokit; upstream's suites do not configure it
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        *suite.args,
    ]
    start = time.monotonic()
    proc = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    tail = proc.stdout.strip().splitlines()[-1:] or ["(no output)"]
    print(f"  {suite.name} [{mode}]: {tail[0]} ({time.monotonic() - start:.0f} s)", flush=True)
    if not junit.exists():
        print(proc.stdout[-4000:], proc.stderr[-4000:], sep="\n")
        raise SystemExit(f"compat: {suite.name} [{mode}] produced no report")
    return outcomes(junit)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", action="append", choices=[s.name for s in SUITES])
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="runs at once (default: cores)"
    )
    args = parser.parse_args(argv)
    chosen = [s for s in SUITES if not args.suite or s.name in args.suite]
    departures: list[str] = []
    summary: list[str] = []
    trees: dict[str, Path] = {}
    for suite in chosen:
        if suite.package not in trees:
            trees[suite.package] = unpack(suite.package, suite.setup)
    # Every (suite, mode) run is its own pytest process on its own tree's reports (and the
    # mock servers listen on free ports): they run side by side, one per core.
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as runs:
        reports = {
            (suite.name, mode): runs.submit(run, suite, trees[suite.package], mode)
            for suite in chosen
            for mode in suite.modes
        }
        for suite in chosen:
            print(f"{suite.name} ({suite.package} {importlib.metadata.version(suite.package)}):")
            baseline_mode, *modes = suite.modes
            baseline = reports[suite.name, baseline_mode].result()
            passing = {t for t, s in baseline.items() if s == "passed"}
            not_here = sorted((t, s) for t, s in baseline.items() if s != "passed")
            for mode in modes:
                through = reports[suite.name, mode].result()
                lost = sorted(t for t in passing if through.get(t) != "passed")
                meant = [t for t in lost if t in INTENTIONAL]
                lost = [t for t in lost if t not in INTENTIONAL]
                stale = [t for t in INTENTIONAL if t in passing and through.get(t) == "passed"]
                departures += [
                    f"{suite.name} [{mode}] {t}: {through.get(t, 'missing')}" for t in lost
                ]
                departures += [
                    f"{suite.name} [{mode}] {t}: passes now; drop it from INTENTIONAL"
                    for t in stale
                ]
                for t in meant:
                    print(f"    intentional departure: {t}: {INTENTIONAL[t]}")
                kept = len(passing) - len(lost) - len(meant)
                summary.append(
                    f"{suite.name:20} {baseline_mode:11} {len(passing):4d} passed | {mode:8} "
                    f"{kept:4d} of them passed, {len(meant)} intentional, {len(lost)} departed"
                )
            for test, status in not_here:
                print(f"    not passing plain here ({status}): {test}")
    print("\nsummary:")
    for line in summary:
        print("  " + line)
    for m in AIOBOTOCORE_NOT_BEHAVIOUR:
        print(f"  not run: aiobotocore tests/{m} (packaging checks, not behaviour)")
    if departures:
        print("\ndepartures (pass plain, not through aiokit):")
        for line in departures:
            print("  " + line)
        return 1
    print("\nno departures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
