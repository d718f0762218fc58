"""Front matter of Markdown files (YAML between ``---`` lines, or JSON), read within bounds.

python-frontmatter finds and splits the front matter; its YAML handler loads it with PyYAML's
``SafeLoader``, which builds no arbitrary objects but follows every alias. Aliases share one
object, so loading a 278-byte "alias bomb" is cheap, yet anything that walks the result (a
title made of it) expands it exponentially: 7.2 MB of title, 2.6 GB of memory. The loader here
composes the YAML with ``SafeLoader`` (which shares aliased nodes, so this is cheap), counts
the values the document would hold with every alias expanded, and only builds it when that is
within a small bound; the front matter's size is capped, and JSON front matter has a bounded
depth. ``meta_str`` only ever reads scalars
and flat lists, as a second line of defence.
"""

from __future__ import annotations

from typing import Any

import frontmatter
import yaml
from frontmatter.default_handlers import JSONHandler, YAMLHandler

from .jsonsafe import json_depth_exceeds, loads_bounded
from .limits import DEFAULT_LIMITS, LoadLimits


class FrontMatterError(ValueError):
    """Front matter that cannot or may not be read; the message says which."""


def _load_yaml(fm: str, max_nodes: int) -> Any:
    loader = yaml.SafeLoader(fm)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, max_nodes) > max_nodes:
            raise FrontMatterError(
                f"YAML front matter expands to more than {max_nodes:,} values through its aliases (*name)"
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """How many nodes ``root`` holds with every alias expanded, counting up to just past ``limit``.

    Aliases make the node graph a DAG (or a cycle), so each node's expanded size is computed
    once (memoised, linear in the graph); a cycle counts as too large.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            total = 1 + sum(sizes[id(child)] for child in _children(node))
            if total > limit:  # the root holds at least as many
                return limit + 1
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in on_path:  # a recursive alias: an infinite expansion
            return limit + 1
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


class _BoundedYAML(YAMLHandler):
    def __init__(self, limits: LoadLimits) -> None:
        super().__init__()
        self.limits = limits

    def load(self, fm: str, **kwargs: object) -> Any:
        _check_size(fm, self.limits)
        # PyYAML's scanner takes time quadratic in the nesting of [ ] and { } (1,100 levels:
        # 1.6 s; 64 KB of "[" would take minutes), so deep flow nesting is refused first.
        if json_depth_exceeds(fm, self.limits.max_json_depth):
            raise FrontMatterError(f"front matter is nested deeper than {self.limits.max_json_depth} levels")
        return _load_yaml(fm, self.limits.max_yaml_nodes)


class _BoundedJSON(JSONHandler):
    def __init__(self, limits: LoadLimits) -> None:
        super().__init__()
        self.limits = limits

    def load(self, fm: str, **kwargs: object) -> Any:
        _check_size(fm, self.limits)
        return loads_bounded(fm, self.limits.max_json_depth)


def _check_size(fm: str, limits: LoadLimits) -> None:
    if len(fm.encode("utf-8", "replace")) > limits.max_front_matter_bytes:
        raise FrontMatterError(
            f"front matter is over {limits.max_front_matter_bytes:,} bytes"
        )


def split_front_matter(text: str, limits: LoadLimits = DEFAULT_LIMITS) -> tuple[dict[str, Any], str]:
    """``(metadata, body)``; ``({}, text)`` without front matter.

    Raises ``FrontMatterError`` when the front matter is too large or expands too far, and
    the parser's own error (``yaml.YAMLError``, ``ValueError``) when it does not parse.
    """
    handlers = [_BoundedYAML(limits), _BoundedJSON(limits)]
    handler = frontmatter.detect_format(text, handlers)
    if handler is None:
        return {}, text
    try:
        metadata, body = frontmatter.parse(text, handler=handler)
    except RecursionError as exc:  # PyYAML composes nested collections recursively
        raise FrontMatterError("front matter is nested too deeply") from exc
    return dict(metadata), body
