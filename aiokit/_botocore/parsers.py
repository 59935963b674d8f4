"""botocore's response parsers, doing the same work with less CPU.

Timestamps: botocore parses every ISO 8601 timestamp with ``dateutil`` (~140 us each, about
40 % of the CPU of an EC2 DescribeInstances page); :func:`parse_timestamp` parses the
common shapes AWS sends directly (~5 us) into the same instant, anything else still goes
to botocore's parser.

XML bodies (query, ec2 and rest-xml protocols): botocore walks the element tree generically.
Every node goes through ``_parse_shape`` (a ``getattr`` dispatch on the shape's type), every
structure and list builds a dict of all its children (``_build_name_to_xml_node``) and then
looks up, for every member its model declares (about 70 for an EC2 ``Instance``), the
member's location, XML name and flags, and every scalar goes through the ``_text_content``
decorator.

JSON bodies (json and rest-json protocols): the same idea, simpler (see "Compiled JSON
walks" below): botocore's walk of the decoded value, not ``json.loads``, is the cost.

Here each shape is *compiled*, once per parser class, into a small function
``walk(parser, element) -> value`` specialised for that shape (see :class:`_Compiler`):

- a structure's walker maps each child's tag (namespace included, learnt once per distinct
  tag) to a member position with one dict lookup, then converts the members found in the
  model's order, calling each member's own walker directly;
- a list's walker is a comprehension over the children with the member's walker;
- a map's walker reads ``entry``/``key``/``value`` (or the modelled names) the way
  botocore's ``_handle_map`` does;
- scalars are converted right from ``element.text`` (strings inline in the structure walk).

Only what botocore would do with well-formed responses is done inline; anything unusual
(a member element repeated where the model expects one, tagged unions, two members sharing an
XML name, a map entry without its key, a parser class whose handler is not the botocore one
mirrored here) is handed to botocore's own code for that node, which makes the
result botocore's by construction. The walk is entered from ``_handle_structure``, so the
envelope (result wrappers, ``ResponseMetadata``, errors, rest-xml headers and status codes)
stays botocore's. ``tests/test_parsers.py`` compares the two parsers on every response of a
varied moto session, on the fake AWS endpoint, and on hand-written bodies for the edge cases;
``tests/test_upstream_pins.py`` pins the botocore methods mirrored here.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

from aiobotocore.parsers import (
    PROTOCOL_PARSERS,
    AioEC2QueryParser,
    AioJSONParser,
    AioQueryParser,
    AioResponseParserFactory,
    AioRestJSONParser,
    AioRestXMLParser,
)
from botocore.parsers import (
    BaseJSONParser,
    BaseRestParser,
    BaseXMLResponseParser,
    ResponseParser,
    RestXMLParser,
)
from botocore.utils import is_json_value_header
from botocore.utils import parse_timestamp as botocore_parse_timestamp
from dateutil.tz import UTC, tzoffset

__all__ = ["ParserFactory", "parse_timestamp"]

# YYYY-MM-DDTHH:MM:SS, up to 6 fraction digits, then Z, an offset, or nothing: what AWS's
# XML and query protocols send. Anything else (7+ fraction digits, RFC 822 dates in
# headers, epoch numbers) is left to botocore.
_ISO_8601 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(Z|[+-]\d\d:\d\d)?\Z"
)


def parse_timestamp(value: Any) -> Any:
    """botocore's ``parse_timestamp``, with a fast path for plain ISO 8601 strings.

    The result is the same instant botocore gives; its ``tzinfo`` is dateutil's ``tzutc``
    for UTC (dateutil itself returns ``tzlocal()`` for UTC when the machine's zone is UTC),
    ``tzoffset(None, seconds)`` for other offsets, and none when the string has no zone.
    Invalid dates (February 30th, hour 24) fall through to botocore, which raises its own
    ``ValueError``.
    """
    if type(value) is str:
        match = _ISO_8601.match(value)
        if match is not None:
            year, month, day, hour, minute, second, fraction, zone = match.groups()
            tz: datetime.tzinfo | None = None
            if zone == "Z":
                tz = UTC
            elif zone is not None:
                offset = (int(zone[1:3]) * 60 + int(zone[4:6])) * 60
                tz = UTC if offset == 0 else tzoffset(None, -offset if zone[0] == "-" else offset)
            try:
                return datetime.datetime(
                    int(year),
                    int(month),
                    int(day),
                    int(hour),
                    int(minute),
                    int(second),
                    int(fraction.ljust(6, "0")) if fraction else 0,
                    tz,
                )
            except ValueError:
                pass
    return botocore_parse_timestamp(value)


# ---------------------------------------------------------------------------------------
# Compiled XML walks
# ---------------------------------------------------------------------------------------

_Walk = Callable[[Any, Any], Any]
"""A compiled walker: ``walk(parser, node) -> parsed value``. ``node`` is an ElementTree
element, or for flattened lists and maps possibly a list of elements, as botocore's
``_build_name_to_xml_node`` hands them out. Walkers hold no parser: the parser instance is
passed in (for its timestamp and blob parsers, and for falling back to botocore)."""

# Key in ``shape.__dict__`` of a structure shape: {parser class: walker}.
_WALKS = "_aiokit_xml_walks"

# Element tag -> tag without its namespace. botocore strips each tag with a regex, on every
# element of every response; the distinct tags of a service are few.
_TAGS: dict[str, str] = {}
_TAGS_MAX = 8192
# Each structure walker learns its children's tags (namespace included) -> member position.
_INDEX_MAX = 256

# A structure member read from the element's XML attributes rather than from a child.
_ATTRIBUTE = object()
# A map entry's key or value not seen (yet).
_MISSING = object()


def _bare_tag(parser: Any, tag: str) -> str:
    """``tag`` without its ``{namespace}``, as botocore's ``_node_tag`` strips it."""
    bare = _TAGS.get(tag)
    if bare is None:
        bare = parser._namespace_re.sub("", tag)
        if len(_TAGS) < _TAGS_MAX:
            _TAGS[tag] = bare
    return bare


# Scalars: botocore's ``_handle_<type>`` after its ``_text_content`` decorator, which reads an
# element's text and turns a missing one (``<a/>``, ``<a></a>``) into ``''``: so an empty
# string stays ``''`` and an empty integer raises the ``ValueError`` of ``int('')``.


def _string(parser: Any, node: Any) -> Any:
    return node.text or ""


def _integer(parser: Any, node: Any) -> Any:
    return int(node.text or "")


def _float(parser: Any, node: Any) -> Any:
    return float(node.text or "")


def _boolean(parser: Any, node: Any) -> Any:
    return node.text == "true"


def _timestamp(parser: Any, node: Any) -> Any:
    return parser._timestamp_parser(node.text or "")


def _blob(parser: Any, node: Any) -> Any:
    return parser._blob_parser(node.text or "")


# type name -> (walker, botocore handlers it mirrors). A parser class whose handler for the
# type is another function gets botocore's generic dispatch for that type instead.
_SCALARS: dict[str, tuple[_Walk, tuple[Any, ...]]] = {
    "string": (_string, (BaseXMLResponseParser._handle_string, RestXMLParser._handle_string)),
    "character": (_string, (BaseXMLResponseParser._handle_string,)),
    "integer": (_integer, (BaseXMLResponseParser._handle_integer,)),
    "long": (_integer, (BaseXMLResponseParser._handle_integer,)),
    "float": (_float, (BaseXMLResponseParser._handle_float,)),
    "double": (_float, (BaseXMLResponseParser._handle_float,)),
    "boolean": (_boolean, (BaseXMLResponseParser._handle_boolean,)),
    "timestamp": (_timestamp, (BaseXMLResponseParser._handle_timestamp,)),
    "blob": (_blob, (BaseXMLResponseParser._handle_blob,)),
}
# BaseRestParser's adds a header-only case (comma-separated lists), compiled out below.
_LIST_HANDLERS = (BaseXMLResponseParser._handle_list, BaseRestParser._handle_list)
_MAP_HANDLERS = (BaseXMLResponseParser._handle_map,)


def _generic(shape: Any) -> _Walk:
    """botocore's own parse of ``shape`` (``_parse_shape`` dispatch)."""

    def walk(parser: Any, node: Any) -> Any:
        return parser._parse_shape(shape, node)

    return walk


def _botocore_structure(shape: Any) -> _Walk:
    """botocore's own ``_handle_structure`` for ``shape`` (its members still compiled)."""

    def walk(parser: Any, node: Any) -> Any:
        return BaseXMLResponseParser._handle_structure(parser, shape, node)

    return walk


def _structure_walker(
    shape: Any,
    names: list[str],
    shapes: list[Any],
    walkers: list[_Walk | None],
    by_name: dict[str, int],
    flat: frozenset[int],
    attributes: tuple[int, ...],
) -> _Walk:
    """The walker of a structure whose body members are ``names`` (model order, located
    members left out), their shapes and walkers (``None`` for a plain string: read inline).

    ``by_name`` maps each member's XML name to its position; ``flat`` holds the positions of
    flattened lists and maps (their elements repeat by design) and ``-1`` (tags the model
    does not know); ``attributes`` the positions of XML-attribute members. ``walkers`` may
    still be empty here and filled by the caller afterwards: a recursive shape's walker
    refers to itself.
    """
    exception = bool(shape.metadata.get("exception", False))
    index: dict[str, int] = {}  # tag, namespace included -> position (-1: not a member)
    index_get = index.get

    def learn(parser: Any, tag: str) -> int:
        position = by_name.get(_bare_tag(parser, tag), -1)
        if len(index) < _INDEX_MAX:
            index[tag] = position
        return position

    def walk(parser: Any, node: Any) -> dict[str, Any]:
        if exception:
            node = parser._get_error_root(node)
        # botocore's _build_name_to_xml_node, keyed by member position: one element per
        # member, or the list of them when its tag repeats.
        found: dict[int, Any] = {}
        regular = True  # no member repeated where the model expects one, no attributes
        for child in node:
            tag = child.tag
            i = index_get(tag)
            if i is None:
                i = learn(parser, tag)
            if i in found:
                seen = found[i]
                if seen.__class__ is list:
                    seen.append(child)
                else:
                    found[i] = [seen, child]
                if i not in flat:
                    regular = False
            else:
                found[i] = child
        if -1 in found:
            del found[-1]
        for i in attributes:
            if i not in found:
                found[i] = _ATTRIBUTE
                regular = False
        # Members in the model's order, as botocore's loop over ``shape.members`` visits them.
        if regular:
            parsed: dict[str, Any] = {}
            for i in sorted(found):
                member_walk = walkers[i]
                if member_walk is None:
                    parsed[names[i]] = found[i].text or ""
                else:
                    parsed[names[i]] = member_walk(parser, found[i])
            return parsed
        return _irregular(parser, node, found, names, shapes, walkers, flat)

    return walk


def _irregular(
    parser: Any,
    node: Any,
    found: dict[int, Any],
    names: list[str],
    shapes: list[Any],
    walkers: list[_Walk | None],
    flat: frozenset[int],
) -> dict[str, Any]:
    """The members of a structure with a repeated member or an XML attribute (the slow path
    of :func:`_structure_walker`'s walk), in the model's order."""
    parsed: dict[str, Any] = {}
    for i in sorted(found):
        value = found[i]
        if value is _ATTRIBUTE:
            # botocore's _handle_structure, verbatim: an XML-attribute member.
            attribs = {}
            location_name = shapes[i].serialization["name"]
            for key, attribute in node.attrib.items():
                new_key = parser._namespace_re.sub(location_name.split(":")[0] + ":", key)
                attribs[new_key] = attribute
            if location_name in attribs:
                parsed[names[i]] = attribs[location_name]
        elif isinstance(value, list) and i not in flat:
            # A repeated element where the model expects one: botocore's generic handler
            # receives the list (and does with it what it does).
            parsed[names[i]] = parser._parse_shape(shapes[i], value)
        else:
            member_walk = walkers[i]
            if member_walk is None:
                parsed[names[i]] = value.text or ""
            else:
                parsed[names[i]] = member_walk(parser, value)
    return parsed


def _list_walker(item: _Walk, flattened: bool) -> _Walk:
    """A list's walker: botocore's ``_handle_list``, every child parsed with ``item``.

    A non-flattened list's node is its wrapper element (children of any tag are items); a
    flattened list's is its one element or the list of its repeated elements.
    """
    if item is _string:
        if flattened:

            def walk_flat_strings(parser: Any, node: Any) -> list[Any]:
                return [child.text or "" for child in (node if isinstance(node, list) else [node])]

            return walk_flat_strings

        def walk_strings(parser: Any, node: Any) -> list[Any]:
            return [child.text or "" for child in node]

        return walk_strings
    if flattened:

        def walk_flat(parser: Any, node: Any) -> list[Any]:
            return [item(parser, child) for child in (node if isinstance(node, list) else [node])]

        return walk_flat

    def walk(parser: Any, node: Any) -> list[Any]:
        return [item(parser, child) for child in node]

    return walk


def _map_walker(shape: Any, key: _Walk, value: _Walk) -> _Walk:
    """A map's walker: botocore's ``_handle_map`` for well-formed entries.

    Each entry holds a key and a value element (``key``/``value`` unless the model names
    them); an entry missing either, or holding another tag, is handed with the whole map to
    botocore (which raises, or reuses the previous entry's key, as it does).
    """
    key_name = shape.key.serialization.get("name") or "key"
    value_name = shape.value.serialization.get("name") or "value"
    flattened = bool(shape.serialization.get("flattened"))

    def walk(parser: Any, node: Any) -> Any:
        entries = [node] if flattened and not isinstance(node, list) else node
        parsed: dict[Any, Any] = {}
        for entry in entries:
            entry_key = entry_value = _MISSING
            for pair in entry:
                tag = _bare_tag(parser, pair.tag)
                if tag == key_name:
                    entry_key = key(parser, pair)
                elif tag == value_name:
                    entry_value = value(parser, pair)
                else:
                    return parser._parse_shape(shape, node)
            if entry_key is _MISSING or entry_value is _MISSING:
                return parser._parse_shape(shape, node)
            parsed[entry_key] = entry_value
        return parsed

    return walk


class _Compiler:
    """Compiles the walkers of one parser class for one shape tree.

    Structures are memoised by shape name for the duration of a compilation: a shape
    referenced from several places gets one walker, and the recursion of recursive shapes
    ends (botocore builds a new member shape object at every level of those, so the shape
    objects themselves never repeat). Lists and maps are not memoised: their
    ``flattened``/name traits may come from the member reference.
    """

    def __init__(self, parser: Any) -> None:
        self.parser = parser
        self.parser_class = type(parser)
        self.structures: dict[str, _Walk] = {}
        self.compiled: list[tuple[Any, _Walk]] = []

    def handles(self, type_name: str, handlers: tuple[Any, ...]) -> bool:
        """Whether the parser class parses ``type_name`` with one of ``handlers``."""
        return getattr(self.parser_class, f"_handle_{type_name}", None) in handlers

    def walker(self, shape: Any) -> _Walk:
        """The walker for ``shape``, whatever its type."""
        type_name = shape.type_name
        if type_name == "structure" and self.handles(
            "structure", (_CompiledXMLWalk._handle_structure,)
        ):
            return self.structure(shape)
        if type_name == "list" and self.handles("list", _LIST_HANDLERS):
            if shape.serialization.get("location") == "header":
                return _generic(shape)
            flattened = bool(shape.serialization.get("flattened"))
            return _list_walker(self.walker(shape.member), flattened)
        if type_name == "map" and self.handles("map", _MAP_HANDLERS):
            return _map_walker(shape, self.walker(shape.key), self.walker(shape.value))
        scalar = _SCALARS.get(type_name)
        if scalar is not None and self.handles(type_name, scalar[1]):
            if is_json_value_header(shape):
                return _generic(shape)  # rest-xml decodes those as JSON
            return scalar[0]
        return _generic(shape)

    def structure(self, shape: Any) -> _Walk:
        """A structure's walker (see :func:`_structure_walker`), or botocore's own
        ``_handle_structure`` for tagged unions and members sharing an XML name."""
        walk = self.structures.get(shape.name)
        if walk is not None:
            return walk
        names: list[str] = []
        shapes: list[Any] = []
        xml_names: list[str] = []
        for member_name, member_shape in shape.members.items():
            serialization = member_shape.serialization
            if serialization.get("location") in self.parser_class.KNOWN_LOCATIONS or (
                serialization.get("eventheader")
            ):
                continue  # filled from headers or the status code, not from the body
            names.append(member_name)
            shapes.append(member_shape)
            xml_names.append(self.parser._member_key_name(member_shape, member_name))
        if shape.is_tagged_union or len(set(xml_names)) < len(xml_names):
            walk = _botocore_structure(shape)
            self.structures[shape.name] = walk
            return walk
        walkers: list[_Walk | None] = []
        flat = frozenset(
            [-1]
            + [
                i
                for i, member_shape in enumerate(shapes)
                if member_shape.type_name in ("list", "map")
                and member_shape.serialization.get("flattened")
            ]
        )
        attributes = tuple(
            i
            for i, member_shape in enumerate(shapes)
            if member_shape.serialization.get("xmlAttribute")
        )
        by_name = {xml_name: i for i, xml_name in enumerate(xml_names)}
        walk = _structure_walker(shape, names, shapes, walkers, by_name, flat, attributes)
        self.structures[shape.name] = walk  # before the members: recursive shapes find it
        for member_shape in shapes:
            member_walk = self.walker(member_shape)
            walkers.append(None if member_walk is _string else member_walk)
        self.compiled.append((shape, walk))
        return walk


class _CompiledXMLWalk:
    """Mixin for botocore's XML parsers: structures parsed by compiled walkers."""

    _namespace_re: Any

    def _node_tag(self, node: Any) -> str:
        return _bare_tag(self, node.tag)

    def _compile(self, shape: Any) -> _Walk:
        """Compile ``shape``'s walker (and its members'), cache it on the shape objects."""
        compiler = _Compiler(self)
        walk = compiler.structure(shape)
        for compiled_shape, compiled_walk in compiler.compiled:
            compiled_shape.__dict__.setdefault(_WALKS, {})[type(self)] = compiled_walk
        shape.__dict__.setdefault(_WALKS, {})[type(self)] = walk
        return walk

    def _handle_structure(self, shape: Any, node: Any) -> Any:
        if isinstance(node, list):
            # A repeated element where one structure was expected: botocore's own handling.
            return BaseXMLResponseParser._handle_structure(self, shape, node)
        walks: dict[type, _Walk] | None = shape.__dict__.get(_WALKS)
        walk = None if walks is None else walks.get(type(self))
        if walk is None:
            walk = self._compile(shape)
        return walk(self, node)


class _QueryParser(_CompiledXMLWalk, AioQueryParser):  # type: ignore[misc]
    pass


class _EC2QueryParser(_CompiledXMLWalk, AioEC2QueryParser):  # type: ignore[misc]
    pass


class _RestXMLParser(_CompiledXMLWalk, AioRestXMLParser):  # type: ignore[misc]
    pass


# ---------------------------------------------------------------------------------------
# Compiled JSON walks
# ---------------------------------------------------------------------------------------
#
# JSON bodies (json and rest-json protocols): ``json.loads`` is not the cost (measured on a
# DynamoDB Scan page of 100 items: under a tenth of the parse), botocore's walk of the
# decoded value is: ``_parse_shape`` (a ``getattr`` dispatch) on every value, and for every
# structure a loop over all its modelled members. Compiled here as for XML, once per
# parser class and shape: a structure's walker loops over its members with each member's
# JSON name and walker ready; a value botocore's handlers return unchanged (strings,
# numbers and booleans in the json protocol) is copied without a call; lists and maps of
# them are copied. Tagged unions, document types and any handler that is not the botocore
# one mirrored here go to botocore's code for that node.

# Key in ``shape.__dict__`` of a structure shape: {parser class: walker}.
_JSON_WALKS = "_aiokit_json_walks"


def _json_generic(shape: Any) -> _Walk:
    def walk(parser: Any, value: Any) -> Any:
        return parser._parse_shape(shape, value)

    return walk


def _json_timestamp(parser: Any, value: Any) -> Any:
    return parser._timestamp_parser(value)


def _json_blob(parser: Any, value: Any) -> Any:
    return parser._blob_parser(value)


def _json_structure_walker(shape: Any, members: list[tuple[str, str, _Walk | None]]) -> _Walk:
    """BaseJSONParser._handle_structure for a plain structure: members in model order,
    a ``None`` (JSON null) member left out, a null structure ``None``.

    A value with few keys for its model's members (a DynamoDB ``AttributeValue``: one of
    ten) is read by its own keys, each looked up once, then put in the model's order; any
    other by the model's members, as botocore does. Both give botocore's dict.
    """
    index: dict[str, int] = {}  # JSON name -> member position, once members are known

    def walk(parser: Any, value: Any) -> Any:
        if value is None:
            return None
        get = value.get  # (what botocore calls first: a non-dict raises as there)
        parsed: dict[str, Any] = {}
        size = len(value)
        if size == 1 and index:  # the usual small value: one key
            for key, raw in value.items():
                i = index.get(key)
                if i is not None and raw is not None:
                    name, _, member_walk = members[i]
                    parsed[name] = raw if member_walk is None else member_walk(parser, raw)
            return parsed
        if 2 * size < len(members) and index:
            found = sorted(index[k] for k, v in value.items() if v is not None and k in index)
            for i in found:
                name, json_name, member_walk = members[i]
                raw = value[json_name]
                parsed[name] = raw if member_walk is None else member_walk(parser, raw)
            return parsed
        for name, json_name, member_walk in members:
            raw = get(json_name)
            if raw is not None:
                parsed[name] = raw if member_walk is None else member_walk(parser, raw)
        return parsed

    def index_members() -> None:
        """Called once the members are compiled; JSON names shared by two members (which
        botocore then reads twice) keep the member loop."""
        names = [json_name for _, json_name, _ in members]
        if len(set(names)) == len(names):
            index.update({json_name: i for i, json_name in enumerate(names)})

    walk.index_members = index_members  # type: ignore[attr-defined]
    return walk


def _json_list_walker(item: _Walk | None) -> _Walk:
    if item is None:

        def walk_plain(parser: Any, value: Any) -> list[Any]:
            return [v for v in value]

        return walk_plain

    def walk(parser: Any, value: Any) -> list[Any]:
        return [item(parser, v) for v in value]

    return walk


def _json_map_walker(key: _Walk | None, item: _Walk | None) -> _Walk:
    def walk(parser: Any, value: Any) -> dict[Any, Any]:
        if key is None and item is None:
            return {k: v for k, v in value.items()}
        return {
            (k if key is None else key(parser, k)): (v if item is None else item(parser, v))
            for k, v in value.items()
        }

    return walk


class _JSONCompiler:
    """Compiles the JSON walkers of one parser class for one shape tree (structures
    memoised by name during the compilation, as :class:`_Compiler` does)."""

    def __init__(self, parser: Any) -> None:
        self.parser_class = type(parser)
        self.structures: dict[str, _Walk] = {}
        self.compiled: list[tuple[Any, _Walk]] = []

    def handler(self, type_name: str) -> Any:
        return getattr(self.parser_class, f"_handle_{type_name}", ResponseParser._default_handle)

    def walker(self, shape: Any) -> _Walk | None:
        """The walker for ``shape``; ``None``: the value is kept as it is."""
        type_name = shape.type_name
        handler = self.handler(type_name)
        if type_name == "structure" and handler is _CompiledJSONWalk._handle_structure:
            return self.structure(shape)
        if type_name == "list" and handler is ResponseParser._handle_list:
            return _json_list_walker(self.walker(shape.member))
        if type_name == "list" and handler is BaseRestParser._handle_list:
            if shape.serialization.get("location") == "header":
                return _json_generic(shape)
            return _json_list_walker(self.walker(shape.member))
        if type_name == "map" and handler is BaseJSONParser._handle_map:
            return _json_map_walker(self.walker(shape.key), self.walker(shape.value))
        if type_name == "timestamp" and handler is BaseJSONParser._handle_timestamp:
            return _json_timestamp
        if type_name == "blob" and handler is BaseJSONParser._handle_blob:
            return _json_blob
        if handler is ResponseParser._default_handle:
            return None
        if handler is BaseRestParser._handle_string and not is_json_value_header(shape):
            return None
        return _json_generic(shape)

    def structure(self, shape: Any) -> _Walk:
        walk = self.structures.get(shape.name)
        if walk is not None:
            return walk
        if shape.is_document_type or shape.is_tagged_union:
            walk = _json_botocore_structure(shape)
            self.structures[shape.name] = walk
            return walk
        members: list[tuple[str, str, _Walk | None]] = []
        walk = _json_structure_walker(shape, members)
        self.structures[shape.name] = walk  # before the members: recursive shapes find it
        for name, member_shape in shape.members.items():
            json_name = member_shape.serialization.get("name", name)
            members.append((name, json_name, self.walker(member_shape)))
        walk.index_members()  # type: ignore[attr-defined]
        self.compiled.append((shape, walk))
        return walk


def _json_botocore_structure(shape: Any) -> _Walk:
    def walk(parser: Any, value: Any) -> Any:
        return BaseJSONParser._handle_structure(parser, shape, value)

    return walk


class _CompiledJSONWalk:
    """Mixin for botocore's JSON parsers: structures parsed by compiled walkers."""

    def _compile_json(self, shape: Any) -> _Walk:
        compiler = _JSONCompiler(self)
        walk = compiler.structure(shape)
        for compiled_shape, compiled_walk in compiler.compiled:
            compiled_shape.__dict__.setdefault(_JSON_WALKS, {})[type(self)] = compiled_walk
        shape.__dict__.setdefault(_JSON_WALKS, {})[type(self)] = walk
        return walk

    def _handle_structure(self, shape: Any, value: Any) -> Any:
        walks: dict[type, _Walk] | None = shape.__dict__.get(_JSON_WALKS)
        walk = None if walks is None else walks.get(type(self))
        if walk is None:
            walk = self._compile_json(shape)
        return walk(self, value)


class _JSONParser(_CompiledJSONWalk, AioJSONParser):  # type: ignore[misc]
    pass


class _RestJSONParser(_CompiledJSONWalk, AioRestJSONParser):  # type: ignore[misc]
    pass


_PARSERS = {
    **PROTOCOL_PARSERS,
    "query": _QueryParser,
    "ec2": _EC2QueryParser,
    "rest-xml": _RestXMLParser,
    "json": _JSONParser,
    "rest-json": _RestJSONParser,
}


class ParserFactory(AioResponseParserFactory):  # type: ignore[misc]
    """aiobotocore's parser factory, handing out the compiled-walk XML parsers, all of
    them (JSON ones too) with :func:`parse_timestamp`."""

    def __init__(self) -> None:
        super().__init__()
        self.set_parser_defaults(timestamp_parser=parse_timestamp)

    def create_parser(self, protocol_name: str) -> Any:
        return _PARSERS[protocol_name](**self._defaults)
