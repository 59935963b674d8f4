"""What an install gives: the extras list what needs them, a missing extra is one line."""

from __future__ import annotations

import ast
import importlib.metadata as md
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _name(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def closure(extras: set[str]) -> set[str]:
    """The distributions `pip install '.[extras]'` brings, from pyproject and installed
    metadata (the marker-free requirements on this Python)."""
    todo = [Requirement(r) for r in PROJECT["dependencies"]]
    for extra in extras:
        todo += [Requirement(r) for r in PROJECT["optional-dependencies"][extra]]
    seen: set[str] = set()
    seen_extras: dict[str, set[str]] = {}
    while todo:
        req = todo.pop()
        name = _name(req.name)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # another Python's or platform's
        if name == "aiokit":
            for extra in req.extras:
                todo += [Requirement(r) for r in PROJECT["optional-dependencies"][extra]]
            continue
        new_extras = set(req.extras) - seen_extras.get(name, set())
        if name in seen and not new_extras:
            continue
        seen.add(name)
        seen_extras.setdefault(name, set()).update(req.extras)
        for line in md.requires(req.name) or []:
            sub = Requirement(line)
            # needed unconditionally on this Python, or by one of the extras asked for
            if sub.marker is None or any(
                sub.marker.evaluate({"extra": e}) for e in ("", *req.extras)
            ):
                todo.append(sub.__class__(str(sub).split(";")[0]))
    return seen


def third_party_imports(paths: list[Path]) -> set[str]:
    # aiokit itself, and the suite's own modules (tests import helpers from each other)
    local = {"aiokit", "benchmarks", "tests", "inventory", "test_inventory", "conftest"}
    local |= {p.stem for p in paths}
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in local:
                    found.add(top)
    return found


def test_test_extra_installs_everything_the_suite_imports() -> None:
    # tests/ and the benchmark and example code the tests import and run
    paths = [
        *ROOT.glob("tests/**/*.py"),
        *ROOT.glob("benchmarks/**/*.py"),
        *ROOT.glob("docs/examples/*.py"),
    ]
    installed = closure({"test"})
    providers = md.packages_distributions()
    missing = {
        module: providers.get(module)
        for module in third_party_imports(paths)
        if not {_name(d) for d in providers.get(module, [])} & installed
    }
    assert not missing, f"imported by the suite, not brought by the test extra: {missing}"


def test_demo_extra_stays_small() -> None:
    cli = closure({"cli"})
    for heavy in ("pytest", "pandas", "matplotlib", "mkdocs", "jupyter-client", "ruff"):
        assert heavy not in cli, heavy
    assert {"click", "rich", "moto"} <= cli


def test_license_is_an_spdx_string() -> None:
    assert PROJECT["license"] == "Apache-2.0"
    assert not any(c.startswith("License ::") for c in PROJECT.get("classifiers", []))
    (floor,) = PYPROJECT["build-system"]["requires"]
    assert floor == "setuptools>=77"  # PEP 639 license expressions


def test_aiokit_command_without_the_cli_extra_says_which_extra_in_one_line() -> None:
    assert PROJECT["scripts"]["aiokit"] == "aiokit._extras:cli_main"
    script = textwrap.dedent(
        """
        import sys
        sys.modules["click"] = None  # a library-only install: no click
        sys.argv = ["aiokit", "demo"]
        from aiokit._extras import cli_main
        cli_main()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert "pip install 'aiokit[cli]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_to_pandas_without_pandas_says_which_extra() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["pandas"] = None
        import aiokit
        from aiokit._fleet.crawl import Report
        try:
            Report().to_pandas()
        except aiokit.AiokitError as exc:
            assert isinstance(exc, ImportError)
            print("ERROR", exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "ERROR Report.to_pandas() needs pandas" in done.stdout
    assert "pip install 'aiokit[pandas]'" in done.stdout
