"""Typed clients (issue 19): what mypy says of a user's program, with and without the stubs.

mypy runs in-process (``mypy.api.run``) on small programs written to ``tmp_path``, strict,
with its cache there too. aiokit is this checkout's (``mypy_path``); the stubs are the
``types`` extra's (``types-aioboto3``, ``types-aiobotocore-{dynamodb,s3,sqs}``), which the
``test`` extra installs. Third-party code that is not a stub is not followed
(``follow_imports = skip``: numpy, IPython... cost seconds and say nothing of aiokit's face);
stubs are followed whatever that setting says, so the program sees them as a user's would.
"""

from __future__ import annotations

import ast
import gc
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mypy import api

from aiokit import _typed_gen

ROOT = Path(__file__).resolve().parent.parent
STUB = ROOT / "aiokit" / "_typed.pyi"

WITH_STUBS = """\
import aiokit

async def main() -> None:
    async with aiokit.SessionPool(region="eu-west-1") as pool:
        s3 = await pool.client("s3")
        reveal_type(s3)  # L6
        sqs = await pool.client("sqs", "eu-west-2", account="111122223333", role="Audit")
        bad: int = await sqs.list_queues()  # L8
        s3.no_such_method()  # L9
        other = await pool.client("lambda")  # no types-aiobotocore-lambda installed
        reveal_type(other)  # L11
        other.anything_goes()
        ddb = await pool.resource("dynamodb")
        reveal_type(ddb)  # L14
        async for page in pool.paginate("s3", "list_objects_v2", Bucket="logs"):
            reveal_type(page)  # L16
            count: int = page.get("KeyCount", 0)
        async for page2 in pool.paginate("dynamodb", "Scan", TableName="t"):
            reveal_type(page2)  # L19
        async for page3 in pool.paginate("ec2", "describe_instances"):
            reveal_type(page3)  # L21
        name: str = await pool.client(service="s3")  # L22
        async for plain in pool.paginate("dynamodb", "query", TableName="t", plain=True):
            reveal_type(plain)  # L24: plain Python values, not the stubs' AttributeValues
        pager = pool.paginate("s3", "list_objects_v2", Bucket="logs")
        async for obj in pager.items():
            reveal_type(obj)  # L27
            size: int = obj.get("Size", 0)
            obj["NoSuchKey"]  # L29
        async for prefix in pager.items("CommonPrefixes"):
            reveal_type(prefix)  # L31: another result key: Any
        async for url in pool.paginate("sqs", "list_queues").items():
            reveal_type(url)  # L33
        async for row in pool.paginate("dynamodb", "scan", TableName="t", plain=True).items():
            reveal_type(row)  # L35
"""

WITHOUT_STUBS = """\
import aiokit

async def main() -> None:
    async with aiokit.SessionPool(region="eu-west-1") as pool:
        s3 = await pool.client("s3")
        reveal_type(s3)  # L6
        bad: int = await s3.list_buckets()
        s3.no_such_method()
        ddb = await pool.resource("dynamodb")
        reveal_type(ddb)  # L10
        async for page in pool.paginate("s3", "list_objects_v2", Bucket="logs"):
            reveal_type(page)  # L12
        pager: aiokit.Paginator = pool.paginate("sqs", "list_queues")
        async for item in pager.items():
            reveal_type(item)  # L15
"""


def _stubs_on_path(package: str) -> bool:
    return any((Path(entry or ".") / package / "__init__.pyi").is_file() for entry in sys.path)


def _mypy(tmp_path: Path, program: str, config: str) -> tuple[dict[int, list[str]], str]:
    """mypy's messages on ``program``, by line; and its whole output (for failures)."""
    (tmp_path / "prog.py").write_text(program)
    (tmp_path / "mypy.ini").write_text(config)
    # mypy's build raises the process's garbage-collector threshold to 200,000 and leaves
    # it there: restored, or a later test in this process (the collector-threshold tests
    # of crawls) sees mypy's instead of its own.
    threshold = gc.get_threshold()
    try:
        out, err, _ = api.run(
            [
                "--config-file",
                str(tmp_path / "mypy.ini"),
                "--cache-dir",
                str(tmp_path / ".mypy_cache"),
                "--no-error-summary",
                "--hide-error-context",
                str(tmp_path / "prog.py"),
            ]
        )
    finally:
        gc.set_threshold(*threshold)
    by_line: dict[int, list[str]] = {}
    for line in out.splitlines():
        found = re.match(r".*prog\.py:(\d+): (.*)$", line)
        if found:
            by_line.setdefault(int(found[1]), []).append(found[2])
    return by_line, out + err


STRICT = f"""\
[mypy]
strict = True
mypy_path = {ROOT}
follow_imports = skip
[mypy-aiokit.*]
follow_imports = silent
"""


def test_with_the_stubs_clients_resources_and_pages_are_typed(tmp_path: Path) -> None:
    missing = [
        name
        for name in ("types_aiobotocore_s3", "types_aiobotocore_sqs", "types_aiobotocore_dynamodb")
        if not _stubs_on_path(name)
    ]
    assert not missing, f"install the types extra (pip install 'aiokit[types]'): {missing}"
    lines, out = _mypy(tmp_path, WITH_STUBS, STRICT)
    assert lines[6] == ['note: Revealed type is "types_aiobotocore_s3.client.S3Client"'], out
    assert any("ListQueuesResultTypeDef" in m and '"int"' in m for m in lines[8]), out
    assert lines[9] == ['error: "S3Client" has no attribute "no_such_method"  [attr-defined]'], out
    # A service whose stubs are not installed: the untyped client, as before.
    assert lines[11] == ['note: Revealed type is "Any"'], out
    assert 12 not in lines, out
    assert lines[14] == [
        'note: Revealed type is "types_aiobotocore_dynamodb.service_resource.'
        'DynamoDBServiceResource"'
    ], out
    assert "types_aiobotocore_s3.type_defs.ListObjectsV2OutputTypeDef" in lines[16][0], out
    assert 17 not in lines, out  # page.get("KeyCount", 0) is an int
    assert "types_aiobotocore_dynamodb.type_defs.ScanOutputTypeDef" in lines[19][0], out
    # ec2's paginators are not in the typed face (its stubs are not in the types extra).
    assert lines[21] == ['note: Revealed type is "dict[str, Any]"'], out
    assert any('"S3Client"' in m and '"str"' in m for m in lines[22]), out
    assert lines[24] == ['note: Revealed type is "dict[str, Any]"'], out
    assert "types_aiobotocore_s3.type_defs.ObjectTypeDef" in lines[27][0], out
    assert any('"NoSuchKey"' in m for m in lines[29]), out
    assert lines[31] == ['note: Revealed type is "Any"'], out
    assert lines[33] == ['note: Revealed type is "str"'], out
    assert lines[35] == ['note: Revealed type is "dict[str, Any]"'], out
    assert sorted(lines) == [6, 8, 9, 11, 14, 16, 19, 21, 22, 24, 27, 29, 31, 33, 35], out


def test_without_any_stubs_the_program_checks_as_before(tmp_path: Path) -> None:
    """No site-packages at all: aiokit from this checkout, and no types-aiobotocore."""
    config = STRICT.replace(
        "follow_imports = skip", "no_site_packages = True\nignore_missing_imports = True"
    )
    lines, out = _mypy(tmp_path, WITHOUT_STUBS, config)
    assert lines == {
        6: ['note: Revealed type is "Any"'],
        10: ['note: Revealed type is "Any"'],
        12: ['note: Revealed type is "Any"'],
        15: ['note: Revealed type is "Any"'],
    }, out


def test_the_typed_face_is_what_the_generator_writes_from_the_installed_stubs() -> None:
    assert STUB.read_text(encoding="utf-8") == _typed_gen.generate(), (
        "aiokit/_typed.pyi is stale: run python -m aiokit._typed_gen"
    )


def test_the_typed_face_covers_every_service_botocore_knows() -> None:
    from botocore.session import get_session

    stub = STUB.read_text(encoding="utf-8")
    services = set(re.findall(r'async def client\(self, service: Literal\["([\w-]+)"\]', stub))
    known = set(get_session().get_available_services())
    # sms-voice: a deprecated model botocore still ships, types-aiobotocore no longer does
    # (its client stays Any through the str overload).
    assert known - services == {"sms-voice"}
    assert len(services) > 400


def test_importing_aiokit_never_imports_the_typed_face() -> None:
    code = (
        "import sys, aiokit; "
        "print(sorted(m for m in sys.modules if m.startswith(('aiokit._typed', "
        "'aiokit._typed_gen', 'types_aiobotocore'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out.strip() == "[]"


def test_the_typed_face_ships_in_the_wheel() -> None:
    """setuptools packs only ``.py`` files unless told: without ``*.pyi`` in the package
    data, an installed aiokit would be typed as before, stubs or not."""
    import fnmatch
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = data["tool"]["setuptools"]["package-data"]["aiokit"]
    assert any(fnmatch.fnmatch(STUB.name, p) for p in patterns), patterns
    assert any(fnmatch.fnmatch("py.typed", p) for p in patterns), patterns


def _stub_overloads(name: str) -> list[ast.AsyncFunctionDef | ast.FunctionDef]:
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    (face,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "SessionPool"]
    return [
        n
        for n in face.body
        if isinstance(n, ast.AsyncFunctionDef | ast.FunctionDef) and n.name == name
    ]


def _shape(args: ast.arguments) -> list[tuple[str, str, str | None]]:
    """(name, kind, default) of each parameter, as ``inspect`` would name them."""
    positional = [*args.posonlyargs, *args.args]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    shape = [
        (a.arg, "POSITIONAL_OR_KEYWORD", _literal(d))
        for a, d in zip(positional, defaults, strict=True)
    ]
    shape += [
        (a.arg, "KEYWORD_ONLY", _literal(d))
        for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    ]
    if args.kwarg is not None:
        shape.append((args.kwarg.arg, "VAR_KEYWORD", None))
    return shape


def _literal(node: ast.expr | None) -> str | None:
    return None if node is None else repr(ast.literal_eval(node))


@pytest.mark.parametrize("method", ["client", "resource", "paginate"])
def test_the_typed_face_takes_exactly_the_pools_parameters(method: str) -> None:
    """Every overload has the real method's parameters, kinds and defaults: a parameter
    added to ``SessionPool.client`` and not to the generator fails here."""
    from aiokit._pool import SessionPool

    real = [
        (
            p.name,
            p.kind.name,
            None if p.default is inspect.Parameter.empty else repr(p.default),
        )
        for p in inspect.signature(getattr(SessionPool, method)).parameters.values()
    ]
    overloads = _stub_overloads(method)
    assert len(overloads) > 2
    for overload in overloads:
        shape = _shape(overload.args)
        if method == "paginate" and shape[-2][0] == "plain":
            # the typed overloads pin plain to a Literal; plain=True's has no default
            shape[-2] = ("plain", "KEYWORD_ONLY", "False")
        assert shape == real, ast.unparse(overload.args)
