"""The house stays standing: structural checks on aiokit's source (issue 15, "The house").

Read from the source with ``ast`` (nothing is imported), so each check sees every import:
top-level, inside functions, and under ``TYPE_CHECKING``.

- no import cycle among aiokit modules (a package's ``__init__`` is a module of its own);
- the fleet (``aiokit._fleet``) never imports the pool (it depends on ``_protocols.Requester``);
- outside the seam (``aiokit/_botocore/``) aiokit imports only the public surface of botocore,
  aiobotocore, boto3 and aioboto3, and reaches no upstream private attribute;
- no function over 80 lines, and ``SessionPool`` at most 400 lines.

Each failure lists every offender, so one run shows all that is left to do.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent / "aiokit"
SEAM = "aiokit._botocore"
FLEET = "aiokit._fleet"
UPSTREAM = ("botocore", "aiobotocore", "boto3", "aioboto3")

# Contract 7: what aiokit may import from upstream outside the seam. A module here may be
# imported whole or ``from``-imported by name.
PUBLIC_MODULES = frozenset(
    {
        "botocore.exceptions",
        "botocore.config",
        "aiobotocore.config",
        "aiobotocore.session",
        "aioboto3",
        "aioboto3.session",
        "boto3",
        "boto3.session",
        "boto3.dynamodb.types",  # TypeSerializer / TypeDeserializer: plain DynamoDB values
    }
)
# ``from <package> import <name>``: names of a package's top level that are public API
# (``UNSIGNED`` is botocore's documented "no signing" marker for ``Config``).
PUBLIC_NAMES = {
    "botocore": frozenset({"xform_name", "UNSIGNED", "exceptions", "config"}),
    "aiobotocore": frozenset({"config", "session"}),
    "boto3": frozenset({"session"}),
    "aioboto3": frozenset({"session"}),
}

# Private attributes of upstream objects that aiokit touches (or touched, before the seam).
# Built from the code on main at 8945fe7: ``grep -rnoE '\._[a-zA-Z_]+' aiokit`` minus the
# names aiokit defines itself. Outside the seam, each of these must go through a function in
# ``aiokit/_botocore/``.
UPSTREAM_PRIVATE = frozenset(
    {
        # clients (botocore.client.BaseClient and its meta)
        "_endpoint",
        "_request_signer",
        "_make_api_call",
        "_user_agent_creator",
        "_client_config",
        "_service_model",
        "_response_parser",
        "_serializer",
        "_cache",
        "_PY_TO_OP_NAME",
        "_ruleset_resolver",
        "_register_handlers",
        "_get_waiter_config",
        "_loader",
        # configs
        "_user_provided_options",
        # events (botocore.hooks)
        "_event_emitter",
        "_emitter",
        "_handlers",
        "_root",
        "_lookup_cache",
        "_unique_id_handlers",
        # sessions (aioboto3 / botocore.session)
        "_session",
        "_get_internal_component",
        "_components",
        # credentials
        "_credentials",
        "_advisory_refresh_timeout",
        "_mandatory_refresh_timeout",
        "_refresh_using",
        "_role_arn",
        "_popen",
        "_time_fetcher",
        "_expiry_time",
        "_frozen_credentials",
        # paginators
        "_method",
        "_input_token",
        "_get_next_token",
        "_parse_starting_token",
        # retries
        "_THROTTLED_ERROR_CODES",
        "_TRANSIENT_EXCEPTION_CLS",
        "_TRANSIENT_STATUS_CODES",
        "_TRANSIENT_ERROR_CODES",
        # http sessions, parsers, user agents
        "_cert_file",
        "_connector_args",
        "_max_pool_connections",
        "_timestamp_parser",
        "_client_features",
    }
)

MAX_FUNCTION_LINES = 80
MAX_SESSION_POOL_LINES = 400


@dataclass(frozen=True)
class Module:
    name: str  # dotted: aiokit._fleet.fanout; a package is its __init__: aiokit._fleet
    path: Path
    is_package: bool

    @functools.cached_property
    def tree(self) -> ast.Module:
        return ast.parse(self.path.read_text(encoding="utf-8"), filename=str(self.path))

    @property
    def label(self) -> str:
        return str(self.path.relative_to(PACKAGE_ROOT.parent))


@functools.cache
def modules() -> dict[str, Module]:
    found: dict[str, Module] = {}
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        name = ".".join(parts)
        found[name] = Module(name, path, is_package)
    return found


def imported_names(module: Module) -> Iterator[tuple[int, str, str | None]]:
    """Every import in the module as (line, absolute module, imported name or None)."""
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                yield node.lineno, target, alias.name


def import_graph(known: Mapping[str, Module] | None = None) -> dict[str, set[str]]:
    """aiokit module -> the aiokit modules it imports (a ``from pkg import sub`` of a
    submodule is an edge to the submodule; of a name, an edge to the package)."""
    known = modules() if known is None else known
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, module in known.items():
        for _, target, imported in imported_names(module):
            if imported is not None and f"{target}.{imported}" in known:
                graph[name].add(f"{target}.{imported}")
            elif target in known:
                graph[name].add(target)
    for edges in graph.values():
        edges.discard("")
    return graph


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one node (or a self-loop),
    as a path that starts and ends on the same node."""
    return [_cycle_in(graph, set(component)) for component in circles(graph)]


def circles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with a cycle in them, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return components


def _cycle_in(
    graph: Mapping[str, Iterable[str]], component: set[str], start: str | None = None
) -> list[str]:
    """A shortest cycle through ``start`` (default: the component's first node), found
    breadth-first inside the component."""
    start = min(component) if start is None else start
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for succ in sorted(graph.get(node, ())):
                if succ == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if succ in component and succ not in parents:
                    parents[succ] = node
                    following.append(succ)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover


def test_cycle_finder_finds_a_cycle_in_a_small_graph() -> None:
    graph = {
        "a": {"b"},
        "b": {"c", "d"},
        "c": {"a"},
        "d": set(),
        "e": {"e"},
        "f": {"d"},
    }
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["e", "e"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []
    assert circles(graph) == [["a", "b", "c"], ["e"]]


def test_import_graph_resolves_relative_and_lazy_imports() -> None:
    """The graph sees the imports the checks rely on (a guard against a silent parser)."""
    graph = import_graph()
    assert "aiokit._botocore.config" in graph["aiokit._botocore"]  # from .x import y
    assert "aiokit._pool" in graph["aiokit"]  # the package's __init__ is a module
    assert len(graph) > 30 and sum(map(len, graph.values())) > 60


def _describe_circle(graph: Mapping[str, Iterable[str]], members: list[str]) -> str:
    """The circle's members, then a shortest cycle through each (the edges to cut)."""
    cycles = sorted({" -> ".join(_cycle_in(graph, set(members), m)) for m in members})
    return f"{len(members)} modules: {', '.join(members)}\n" + "\n".join(
        f"    {cycle}" for cycle in cycles
    )


def test_no_import_cycle() -> None:
    graph = import_graph()
    found = circles(graph)
    assert not found, "import cycles among aiokit modules:\n" + "\n".join(
        _describe_circle(graph, members) for members in found
    )


def test_the_fleet_never_imports_the_pool() -> None:
    offenders = [
        f"{module.label}:{line}: imports {target}{'.' + name if name else ''}"
        for module in modules().values()
        if module.name == FLEET or module.name.startswith(FLEET + ".")
        for line, target, name in imported_names(module)
        if target == "aiokit._pool"
        or f"{target}.{name}" == "aiokit._pool"
        or (target == "aiokit" and name == "SessionPool")
    ]
    assert not offenders, "the fleet imports the pool:\n" + "\n".join(offenders)


def _outside_seam() -> list[Module]:
    return [
        module
        for module in modules().values()
        if module.name != SEAM and not module.name.startswith(SEAM + ".")
    ]


def _upstream_import_is_public(target: str, name: str | None) -> bool:
    if target in PUBLIC_MODULES:
        return True
    if name is not None and target in PUBLIC_NAMES:
        return name in PUBLIC_NAMES[target]
    return False


def test_only_the_seam_imports_upstream_internals() -> None:
    offenders = [
        f"{module.label}:{line}: "
        + (f"from {target} import {name}" if name else f"import {target}")
        for module in _outside_seam()
        for line, target, name in imported_names(module)
        if target.split(".")[0] in UPSTREAM and not _upstream_import_is_public(target, name)
    ]
    assert not offenders, (
        "outside aiokit/_botocore/, import only botocore/aiobotocore/boto3/aioboto3's public "
        "surface (contract 7); move these into the seam module named after the upstream "
        "module:\n" + "\n".join(offenders)
    )


def _own_attributes(tree: ast.Module) -> set[str]:
    """Names a module defines for itself: ``self.x = ...``, class-body names and methods."""
    own: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                own.add(node.attr)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    own.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    own.add(item.target.id)
                elif isinstance(item, ast.Assign):
                    own.update(t.id for t in item.targets if isinstance(t, ast.Name))
    return own


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the docstring constants (a docstring may name an upstream attribute)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def private_reaches(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, attribute) for each upstream private attribute the module touches: ``x._attr``
    (unless ``x`` is ``self``/``cls`` and the module defines ``_attr`` itself), and the name
    as a string anywhere but a docstring (``getattr(x, "_attr")``, ``vars(x)["_attr"]``,
    ``for name in ("_attr", ...)``)."""
    own = _own_attributes(tree)
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in UPSTREAM_PRIVATE:
            is_self = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            if not (is_self and node.attr in own):
                yield node.lineno, node.attr
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value in UPSTREAM_PRIVATE
            and id(node) not in docstrings
        ):
            yield node.lineno, node.value


def test_private_reach_finder_sees_the_shapes_aiokit_uses() -> None:
    tree = ast.parse(
        "class A(Upstream):\n"
        "    def __init__(self):\n"
        "        self._session = 1\n"
        "    def f(self, client):\n"
        "        self._session._session\n"  # the upstream session's session
        "        client._request_signer._credentials = 1\n"
        "        getattr(client, '_endpoint', None)\n"
        "        self._method\n"  # inherited from the upstream base
        "        super()._make_api_call()\n"
        "        state['_client_config'] = 1\n"  # in a __dict__
    )
    assert sorted(private_reaches(tree)) == [
        (5, "_session"),
        (6, "_credentials"),
        (6, "_request_signer"),
        (7, "_endpoint"),
        (8, "_method"),
        (9, "_make_api_call"),
        (10, "_client_config"),
    ]


def test_only_the_seam_reaches_upstream_private_attributes() -> None:
    offenders = [
        f"{module.label}:{line}: .{attr}"
        for module in _outside_seam()
        for line, attr in sorted(private_reaches(module.tree))
    ]
    assert not offenders, (
        "outside aiokit/_botocore/, reach upstream private attributes only through a seam "
        "function (contract 7):\n" + "\n".join(offenders)
    )


def _span(node: ast.AST) -> int:
    end = node.end_lineno
    assert end is not None
    return end - node.lineno + 1  # def line to last line


def test_no_function_over_80_lines() -> None:
    offenders = [
        f"{module.label}:{node.lineno}: {node.name} ({_span(node)} lines)"
        for module in modules().values()
        for node in ast.walk(module.tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and _span(node) > MAX_FUNCTION_LINES
    ]
    assert not offenders, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(offenders)


def test_session_pool_is_at_most_400_lines() -> None:
    (pool,) = [
        node
        for node in ast.walk(modules()["aiokit._pool"].tree)
        if isinstance(node, ast.ClassDef) and node.name == "SessionPool"
    ]
    assert _span(pool) <= MAX_SESSION_POOL_LINES, (
        f"aiokit/_pool.py:{pool.lineno}: SessionPool is {_span(pool)} lines "
        f"(at most {MAX_SESSION_POOL_LINES})"
    )
