"""botocore's XML response parsers, with each structure's member table worked out once.

botocore parses an XML structure by walking *every* member its model declares, and for each
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

from typing import Any, NamedTuple

from aiobotocore.parsers import (
    PROTOCOL_PARSERS,
    AioEC2QueryParser,
    AioQueryParser,
    AioResponseParserFactory,
    AioRestXMLParser,
)

__all__ = ["ParserFactory"]

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
    """aiobotocore's parser factory, handing out the planned XML parsers."""

    def create_parser(self, protocol_name: str) -> Any:
        return _PARSERS[protocol_name](**self._defaults)
