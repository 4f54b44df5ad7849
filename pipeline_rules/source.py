"""Source text and positions: where in a file each node of a document stands.

Every node of a loaded document is addressed by a JSON pointer (RFC 6901), the same address
jsonschema and SARIF use, so a problem found anywhere downstream can be turned back into
``file:line:column`` without the downstream code knowing about YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property


@dataclass(frozen=True, order=True)
class Position:
    """A 1-based line and column in a source text."""

    line: int
    column: int


START = Position(1, 1)


@dataclass(frozen=True)
class Source:
    """A named text as read from a file or stdin."""

    name: str
    text: str

    @cached_property
    def lines(self) -> list[str]:
        """The text split into lines, without line ends."""
        return self.text.splitlines()

    def line(self, number: int) -> str:
        """Return line ``number`` (1-based) without its newline, or '' when out of range."""
        if 1 <= number <= len(self.lines):
            return self.lines[number - 1]
        return ""


@dataclass(frozen=True)
class NodePosition:
    """Where a node's value starts and, for a mapping entry, where its key starts."""

    value: Position
    key: Position | None = None


@dataclass(frozen=True)
class SourceMap:
    """JSON pointer → position of every node in a document."""

    nodes: dict[str, NodePosition] = field(default_factory=dict)

    def value(self, pointer: str) -> Position:
        """Position of the value at ``pointer``, or of its nearest ancestor that has one."""
        return self._nearest(pointer).value

    def key(self, pointer: str) -> Position:
        """Position of the key of the entry at ``pointer`` (its value's when it has no key)."""
        found = self._nearest(pointer)
        return found.key or found.value

    def _nearest(self, pointer: str) -> NodePosition:
        while True:
            found = self.nodes.get(pointer)
            if found is not None:
                return found
            if not pointer:
                return NodePosition(START)
            pointer = pointer.rsplit("/", 1)[0]


def escape_token(token: str | int) -> str:
    """Escape one JSON pointer reference token."""
    return str(token).replace("~", "~0").replace("/", "~1")


def unescape_token(token: str) -> str:
    """Undo :func:`escape_token`."""
    return token.replace("~1", "/").replace("~0", "~")


def join(pointer: str, *tokens: str | int) -> str:
    """Extend a JSON pointer by reference tokens."""
    return pointer + "".join("/" + escape_token(t) for t in tokens)


def split(pointer: str) -> list[str]:
    """Split a JSON pointer into its unescaped reference tokens."""
    if not pointer:
        return []
    return [unescape_token(t) for t in pointer.split("/")[1:]]
