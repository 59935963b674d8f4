"""botocore.hooks: putting one handler in another's place in an event emitter."""

from __future__ import annotations

from typing import Any

__all__ = ["replace_handler"]


def replace_handler(events: Any, old: Any, new: Any) -> None:
    """Put ``new`` wherever ``old`` is registered in ``events`` (an ``EventAliaser``), in place.

    In place, so the handler keeps its position among the others of its event (botocore's
    ``HierarchicalEmitter`` keeps them in a prefix trie, ``_handlers._root``, and caches
    lookups in ``_lookup_cache``).
    """
    emitter = getattr(events, "_emitter", events)
    nodes = [emitter._handlers._root]
    while nodes:
        node = nodes.pop()
        values = node["values"]
        if values is not None:
            for section in (values.first, values.middle, values.last):
                for i, handler in enumerate(section):
                    if handler == old:
                        section[i] = new
        nodes.extend(node["children"].values())
    emitter._lookup_cache = {}
