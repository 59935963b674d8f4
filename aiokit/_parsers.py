"""botocore's response parsers, doing the same work with less CPU.

Timestamps: botocore parses every ISO 8601 timestamp with ``dateutil`` (~140 us each, about
40 % of the CPU of an EC2 DescribeInstances page); :func:`parse_timestamp` parses the
common shapes AWS sends directly (~5 us) into the same instant, anything else still goes
to botocore's parser.

XML structures: botocore parses one by walking *every* member its model declares, and for each
one looks up its location, its XML name and its serialization flags, on every node of every
response. An EC2 ``Instance`` declares about 70 members, and a page of instances has
thousands of such nodes: this walk is most of the CPU of an EC2 or S3 listing after the
timestamps.

Here the per-member facts are computed once per shape (and kept on the shape object, which
botocore caches with the service model), and only the members present in the node, plus
the XML-attribute members, are visited, in the model's order; and an element's tag is
stripped of its namespace once per distinct tag rather than by a regex on every element.
The parsed result is the one botocore builds, key order included;
``tests/test_parsers.py`` checks that on every response of a varied moto session and of
the fake AWS endpoint.
"""

from __future__ import annotations

import datetime
import re
from typing import Any, NamedTuple

from aiobotocore.parsers import (
    PROTOCOL_PARSERS,
    AioEC2QueryParser,
    AioQueryParser,
    AioResponseParserFactory,
    AioRestXMLParser,
)
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


_PLAN = "_aiokit_xml_plan"

# Element tag -> tag without its namespace. botocore strips each tag with a regex, on every
# element of every response; the distinct tags of a service are few.
_TAGS: dict[str, str] = {}
_TAGS_MAX = 8192


class _Member(NamedTuple):
    name: str
    shape: Any
    xml_name: str


class _Plan(NamedTuple):
    members: tuple[_Member, ...]  # in the model's order, located members left out
    positions: dict[str, tuple[int, ...]]  # XML name -> positions in ``members``
    attributes: tuple[int, ...]  # positions of XML-attribute members
    exception: bool
    tagged_union: bool


class _PlannedStructures:
    """Mixin for botocore's XML parsers: ``_handle_structure`` from a per-shape plan."""

    KNOWN_LOCATIONS: tuple[str, ...]
    _namespace_re: Any

    def _node_tag(self, node: Any) -> str:
        tag: str = node.tag
        bare = _TAGS.get(tag)
        if bare is None:
            bare = self._namespace_re.sub("", tag)
            if len(_TAGS) < _TAGS_MAX:
                _TAGS[tag] = bare
        return bare

    def _plan(self, shape: Any) -> _Plan:
        members: list[_Member] = []
        attributes: list[int] = []
        for member_name, member_shape in shape.members.items():
            serialization = member_shape.serialization
            if serialization.get("location") in self.KNOWN_LOCATIONS or serialization.get(
                "eventheader"
            ):
                continue  # filled from headers or the status code, not from the body
            if serialization.get("xmlAttribute"):
                attributes.append(len(members))
            xml_name = self._member_key_name(member_shape, member_name)  # type: ignore[attr-defined]
            members.append(_Member(member_name, member_shape, xml_name))
        positions: dict[str, tuple[int, ...]] = {}
        for i, member in enumerate(members):
            positions[member.xml_name] = (*positions.get(member.xml_name, ()), i)
        plan = _Plan(
            tuple(members),
            positions,
            tuple(attributes),
            bool(shape.metadata.get("exception", False)),
            bool(shape.is_tagged_union),
        )
        shape.__dict__[_PLAN] = plan
        return plan

    def _handle_structure(self, shape: Any, node: Any) -> dict[str, Any]:
        plan: _Plan | None = shape.__dict__.get(_PLAN)
        if plan is None:
            plan = self._plan(shape)
        if plan.exception:
            node = self._get_error_root(node)  # type: ignore[attr-defined]
        xml_dict: dict[str, Any] = self._build_name_to_xml_node(node)  # type: ignore[attr-defined]
        if plan.tagged_union and self._has_unknown_tagged_union_member(shape, xml_dict):  # type: ignore[attr-defined]
            tag = self._get_first_key(xml_dict)  # type: ignore[attr-defined]
            result: dict[str, Any] = self._handle_unknown_tagged_union_member(tag)  # type: ignore[attr-defined]
            return result
        known = plan.positions
        present = {i for key in xml_dict for i in known.get(key, ())}
        present.update(plan.attributes)
        parsed: dict[str, Any] = {}
        members = plan.members
        for i in sorted(present):
            member = members[i]
            member_node = xml_dict.get(member.xml_name)
            if member_node is not None:
                parsed[member.name] = self._parse_shape(member.shape, member_node)  # type: ignore[attr-defined]
            elif i in plan.attributes:
                # botocore's own handling of a member carried as an XML attribute.
                attribs = {}
                location_name = member.shape.serialization["name"]
                for key, value in node.attrib.items():
                    new_key = self._namespace_re.sub(location_name.split(":")[0] + ":", key)
                    attribs[new_key] = value
                if location_name in attribs:
                    parsed[member.name] = attribs[location_name]
        return parsed


class _QueryParser(_PlannedStructures, AioQueryParser):  # type: ignore[misc]
    pass


class _EC2QueryParser(_PlannedStructures, AioEC2QueryParser):  # type: ignore[misc]
    pass


class _RestXMLParser(_PlannedStructures, AioRestXMLParser):  # type: ignore[misc]
    pass


_PARSERS = {
    **PROTOCOL_PARSERS,
    "query": _QueryParser,
    "ec2": _EC2QueryParser,
    "rest-xml": _RestXMLParser,
}


class ParserFactory(AioResponseParserFactory):  # type: ignore[misc]
    """aiobotocore's parser factory, handing out the planned XML parsers, all of them
    (JSON ones too) with :func:`parse_timestamp`."""

    def __init__(self) -> None:
        super().__init__()
        self.set_parser_defaults(timestamp_parser=parse_timestamp)

    def create_parser(self, protocol_name: str) -> Any:
        return _PARSERS[protocol_name](**self._defaults)
