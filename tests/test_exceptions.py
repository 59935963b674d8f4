"""The exception tree: what aiokit raises on purpose is an AiokitError, and stays so."""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import pytest

import aiokit

PACKAGE = Path(aiokit.__file__).parent

BUILTIN_ERRORS = frozenset(
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
)

# (file relative to the package, builtin raised) -> why it is not an AiokitError.
ALLOWED = {
    ("sync.py", "AttributeError"): "__getattr__ must raise AttributeError (hasattr, getattr)",
    ("_fleet/streams.py", "StopAsyncIteration"): "the async iterator protocol",
    ("_sinks.py", "NotImplementedError"): "abstract methods of the sink base class",
    ("_retry.py", "AssertionError"): "an unreachable line, marked so for the type checker",
    ("_fleet/progress.py", "ImportError"): "an optional extra is not installed (names the extra)",
    ("testing/_moto.py", "RuntimeError"): "the pytest plugin's own setup, not the library",
    ("_clients.py", "AttributeError"): "__getattr__ must raise AttributeError (copy, pickle)",
    ("sync.py", "TypeError"): "__iter__ of a value that is not iterable: the protocol's error",
    ("_extras.py", "SystemExit"): "the aiokit command's entry point ends the process (exit 2)",
    ("_fleet/listings.py", "AttributeError"): "a frozen value's __setattr__, as dataclasses'",
    ("_fleet/runners.py", "SystemExit"): "a spawn worker re-importing an unguarded script exits",
    ("_fleet/runners.py", "AssertionError"): "an unreachable line: units are of the job's listings",
    ("_typed_gen.py", "SystemExit"): "the stub generator's command line (a developer tool) exits",
}
# The command line ends the process its own way (click, exit codes).
CLI_ALLOWED = frozenset({"SystemExit", "KeyboardInterrupt", "BrokenPipeError"})


def _raised_builtins(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if not isinstance(node, ast.Raise) or node.exc is None:
            continue
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if isinstance(exc, ast.Name) and exc.id in BUILTIN_ERRORS:
            found.append((node.lineno, exc.id))
    return found


def test_aiokit_raises_no_builtin_exception_on_purpose() -> None:
    """``raise ValueError(...)`` and kin are AiokitError subclasses in aiokit (a
    ConfigurationError is also a ValueError, a UsageError also a RuntimeError...)."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        for line, name in _raised_builtins(path):
            if (relative, name) in ALLOWED:
                continue
            if relative.startswith("cli/") and name in CLI_ALLOWED:
                continue
            offenders.append(f"aiokit/{relative}:{line}: raise {name}")
    assert offenders == [], "raise an aiokit error instead:\n" + "\n".join(offenders)


def test_the_scan_finds_a_builtin_raise(tmp_path: Path) -> None:
    """The scan itself works: it sees both ``raise X(...)`` and a bare ``raise X``."""
    source = tmp_path / "m.py"
    source.write_text(
        "def f():\n    raise ValueError('x')\n\ndef g():\n    raise TypeError\n"
        "def h(e):\n    raise e\n"
    )
    assert _raised_builtins(source) == [(2, "ValueError"), (5, "TypeError")]


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (aiokit.ConfigurationError, ValueError),
        (aiokit.InvalidParameterError, ValueError),
        (aiokit.UsageError, RuntimeError),
        (aiokit.PoolClosedError, RuntimeError),
        (aiokit.WaiterTimeout, TimeoutError),
        (aiokit.EndpointError, ConnectionError),
    ],
    ids=lambda c: c.__name__,
)
def test_errors_keep_their_builtin_meaning(
    error: type[Exception], builtin: type[Exception]
) -> None:
    assert issubclass(error, aiokit.AiokitError)
    assert issubclass(error, builtin)
