"""Source text and positions: where in a file each node of a document stands.

Every node of a loaded document is addressed by a JSON pointer (RFC 6901), the same address
jsonschema and SARIF use, so a problem found anywhere downstream can be turned back into
``file:line:column`` without the downstream code knowing about YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple, Protocol


class Position(NamedTuple):
    """A 1-based line and column in a source text (a tuple: a document has one per node)."""

    line: int
    column: int


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


class SourceMap(Protocol):
    """JSON pointer → position of the node it addresses in a document."""

    def value(self, pointer: str) -> Position:
        """Position of the value at ``pointer``, or of its nearest ancestor that exists."""
        ...

    def key(self, pointer: str) -> Position:
        """Position of the key of the entry at ``pointer`` (its value's when it has no key)."""
        ...

    def has(self, pointer: str) -> bool:
        """Whether ``pointer`` addresses a node of the document."""
        ...


def escape_token(token: str | int) -> str:
    """Escape one JSON pointer reference token."""
    text = str(token)
    if "~" in text or "/" in text:
        return text.replace("~", "~0").replace("/", "~1")
    return text


def unescape_token(token: str) -> str:
    """Undo :func:`escape_token`."""
    return token.replace("~1", "/").replace("~0", "~")


def join(pointer: str, *tokens: str | int) -> str:
    """Extend a JSON pointer by reference tokens."""
    for token in tokens:
        pointer = f"{pointer}/{escape_token(token)}"
    return pointer


def split(pointer: str) -> list[str]:
    """Split a JSON pointer into its unescaped reference tokens."""
    if not pointer:
        return []
    return [unescape_token(t) for t in pointer.split("/")[1:]]
