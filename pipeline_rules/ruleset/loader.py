"""YAML text → plain data with a position for every node, loaded safely.

PyYAML's own loaders lose positions and keep the last of two duplicate keys without a word, so
this module composes the node graph (safe, C-accelerated when libyaml is present) and converts it
itself. Conversion is where the guards live:

* only plain data tags (str, int, float, bool, null; maps and lists); any other tag is refused,
  so nothing in a ruleset can name Python code;
* booleans are only ``true``/``false`` (YAML 1.2): ``country: NO`` stays the string "NO";
* dates and times stay text, exactly as written (the schema and the value parsers read them);
* duplicate keys are reported (the first one is kept);
* aliases may expand to at most :data:`MAX_ALIAS_NODES` nodes in all, so an alias bomb is refused
  after a bounded amount of work; recursive aliases and nesting deeper than :data:`MAX_DEPTH` are
  refused too;
* a document over :data:`MAX_BYTES` is refused before it is parsed;
* numbers are bounded: a number written with more than :data:`MAX_NUMBER_CHARS` characters is
  refused before it is converted (Python would refuse a decimal integer over 4,300 digits with an
  exception, and turns long binary, hexadecimal or sexagesimal forms into huge integers at a cost
  that grows faster than their length), a whole number beyond ±:data:`MAX_INTEGER` or a number
  that is not finite (``1e999``, ``.inf``, ``.nan``) is refused, and a value tagged ``!!int`` or
  ``!!float`` that is not one is a syntax error, each at its position.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import yaml

from pipeline_rules.i18n import Message
from pipeline_rules.ruleset.problems import DocumentError, Problem
from pipeline_rules.ruleset.source import Position, Source, SourceMap, split

MAX_BYTES = 5 * 1024 * 1024
MAX_ALIAS_NODES = 20_000
MAX_DEPTH = 64
#: The longest text a number may be written with (sign, digits, underscores, colons, exponent).
MAX_NUMBER_CHARS = 100
#: The largest whole number (in absolute value) a document may hold: a signed 64-bit integer.
MAX_INTEGER = 2**63 - 1
#: How much of a refused number a message quotes.
_QUOTED_CHARS = 24

_YAML = "tag:yaml.org,2002:"
_MERGE = _YAML + "merge"
_TIMESTAMP = _YAML + "timestamp"
_STR = _YAML + "str"
_SEQ = _YAML + "seq"
_MAP = _YAML + "map"
_INT = _YAML + "int"
_FLOAT = _YAML + "float"
_SCALAR_TAGS = {_YAML + t for t in ("str", "int", "float", "bool", "null")} | {_TIMESTAMP}
_TRUE_FALSE = {"true": True, "True": True, "TRUE": True, "false": False, "False": False,
               "FALSE": False}

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_constructor = yaml.constructor.SafeConstructor()


class ReadError(Exception):
    """A path that cannot be read at all (missing, a directory, no permission)."""

    def said(self, lang: str) -> str:
        """Why, in ``lang`` (as it was written when not a catalog message)."""
        first = self.args[0] if self.args else None
        return first.render(lang) if isinstance(first, Message) else str(self)


@dataclass(frozen=True)
class Document:
    """A parsed YAML document: its data, the position of every node and non-fatal problems."""

    source: Source
    data: object
    positions: SourceMap
    problems: tuple[tuple[str, Problem], ...] = ()


def read_source(path: str | Path, stdin: BinaryIO | None = None) -> Source:
    """Read a file (or ``-`` for stdin) as UTF-8 text, refusing files over the size cap."""
    name = str(path)
    return decode(read_bytes(path, stdin), "<stdin>" if name == "-" else name)


def read_bytes(path: str | Path, stdin: BinaryIO | None = None) -> bytes:
    """The bytes of a file (or ``-`` for stdin), refusing a file over the size cap unread."""
    name = str(path)
    if name == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        return stream.read(MAX_BYTES + 1)
    file = Path(path)
    try:
        size = file.stat().st_size
        if file.is_dir():
            raise ReadError(Message("read.directory", {"name": name}))
        if size > MAX_BYTES:
            raise DocumentError("document-limit", Problem(
                "document-limit.size", {"size": size, "limit": MAX_BYTES}))
        return file.read_bytes()
    except OSError as err:
        raise unreadable(name, err) from None


def unreadable(name: str, err: OSError) -> ReadError:
    """The error for a file that cannot be opened or read, in the words every reader uses."""
    if isinstance(err, FileNotFoundError):
        return ReadError(Message("read.no-such-file", {"name": name}))
    if isinstance(err, PermissionError):
        return ReadError(Message("read.permission", {"name": name}))
    if isinstance(err, IsADirectoryError):
        return ReadError(Message("read.directory", {"name": name}))
    return ReadError(f"{name}: {err.strerror or err}")


def decode(data: bytes, name: str) -> Source:
    """Decode UTF-8 bytes (a BOM is allowed), reporting the position of the first bad byte."""
    if len(data) > MAX_BYTES:
        raise DocumentError("document-limit", Problem(
            "document-limit.size", {"size": len(data), "limit": MAX_BYTES}))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        before = data[: err.start]
        line = before.count(b"\n") + 1
        line_start = before.rfind(b"\n") + 1
        column = len(before[line_start:].decode("utf-8", errors="replace")) + 1
        raise DocumentError("encoding", Problem(
            "encoding.utf8", {"byte": f"0x{data[err.start]:02x}"},
            position=Position(line, column))) from None
    return Source(name, text)


def load_document(source: Source) -> Document:
    """Parse one YAML document into plain data and a source map."""
    try:
        root = yaml.compose(source.text, Loader=_Loader)
    except yaml.MarkedYAMLError as err:
        raise DocumentError("yaml-syntax", _syntax_problem(err, source)) from None
    except yaml.YAMLError as err:
        raise DocumentError("yaml-syntax", Problem("yaml-syntax.parse", {"problem": str(err)})) \
            from None
    if root is None:
        return Document(source, None, NodeMap(None))
    converter = _Converter()
    data = converter.convert(root, depth=0)
    return Document(source, data, NodeMap(root), tuple(converter.problems))


def _syntax_problem(err: yaml.MarkedYAMLError, source: Source) -> Problem:
    mark = err.problem_mark or err.context_mark
    position = Position(mark.line + 1, mark.column + 1) if mark else None
    problem = err.problem or "invalid YAML"
    if position is not None and source.line(position.line)[position.column - 1:][:1] == "\t":
        return Problem("yaml-syntax.tab", {}, position=position)
    context = err.context or ""
    if context and context not in problem:
        start = err.context_mark
        if (context.startswith("while") and start is not None and mark is not None
                and (start.line, start.column) != (mark.line, mark.column)):
            context += f" (opened at line {start.line + 1}, column {start.column + 1})"
        problem = f"{context}: {problem}"
    return Problem("yaml-syntax.parse", {"problem": problem}, position=position)


def _tag_as_written(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML) if tag.startswith(_YAML) else tag


def _position(node: yaml.Node) -> Position:
    mark = node.start_mark
    return Position(mark.line + 1, mark.column + 1)


class NodeMap:
    """Positions looked up in the composed node tree when asked, not recorded for every node.

    A document has tens of thousands of nodes and a lint run reports a handful of problems, so
    walking the tree for each pointer asked is far cheaper than a table of every position.
    """

    def __init__(self, root: yaml.Node | None) -> None:
        self._root = root
        # Keys of the large mappings walked so far, so a report with a finding in each of
        # thousands of entries of one mapping does not scan it once per finding.
        self._keys: dict[int, _Keys] = {}

    def value(self, pointer: str) -> Position:
        """Position of the value at ``pointer``, or of its nearest ancestor that exists."""
        return self._walk(pointer)[0]

    def key(self, pointer: str) -> Position:
        """Position of the key of the entry at ``pointer`` (its value's when it has no key)."""
        value, key, _ = self._walk(pointer)
        return key or value

    def has(self, pointer: str) -> bool:
        """Whether ``pointer`` addresses a node of the document."""
        return self._walk(pointer)[2]

    def _walk(self, pointer: str) -> tuple[Position, Position | None, bool]:
        node = self._root
        if node is None:
            return Position(1, 1), None, not pointer
        key: yaml.Node | None = None
        for token in split(pointer):
            found = self._child(node, token)
            if found is None:
                return _position(node), _position(key) if key else None, False
            key, node = found
        return _position(node), _position(key) if key else None, True

    def _child(self, node: yaml.Node, token: str) -> tuple[yaml.Node | None, yaml.Node] | None:
        """The (key node, value node) that ``token`` names below ``node``."""
        if isinstance(node, yaml.SequenceNode):
            if token.isdigit() and int(token) < len(node.value):
                return None, node.value[int(token)]
            return None
        if not isinstance(node, yaml.MappingNode):
            return None
        if len(node.value) <= _SCAN_KEYS:
            return _scan(node, token, self._child)
        keys = self._keys.get(id(node))
        if keys is None:
            keys = self._keys[id(node)] = _index(node)
        found = keys.explicit.get(token)
        if found is not None:
            return found
        for source in keys.merged:
            from_merge = self._child(source, token)
            if from_merge is not None:
                return from_merge
        return None


#: Mappings with at most this many entries are scanned rather than indexed.
_SCAN_KEYS = 16


@dataclass(frozen=True)
class _Keys:
    """A mapping node's entries by key (the first of duplicates) and its merged sources."""

    explicit: dict[str, tuple[yaml.Node | None, yaml.Node]]
    merged: tuple[yaml.Node, ...]


def _merge_sources(value_node: yaml.Node) -> list[yaml.Node]:
    return list(value_node.value) if isinstance(value_node, yaml.SequenceNode) else [value_node]


def _index(node: yaml.MappingNode) -> _Keys:
    explicit: dict[str, tuple[yaml.Node | None, yaml.Node]] = {}
    merged: list[yaml.Node] = []
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE:
            merged.extend(_merge_sources(value_node))
        elif isinstance(key_node, yaml.ScalarNode):
            explicit.setdefault(str(key_node.value), (key_node, value_node))
    return _Keys(explicit, tuple(merged))


def _scan(node: yaml.MappingNode, token: str,
          child: Callable[[yaml.Node, str], tuple[yaml.Node | None, yaml.Node] | None],
          ) -> tuple[yaml.Node | None, yaml.Node] | None:
    merged: list[yaml.Node] = []
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE:
            merged.extend(_merge_sources(value_node))
        elif isinstance(key_node, yaml.ScalarNode) and key_node.value == token:
            return key_node, value_node
    for source in merged:
        found = child(source, token)
        if found is not None:
            return found
    return None


class _Converter:
    """Turns a composed node graph into plain data, guarding the limits as it goes."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, Problem]] = []
        self._converted: set[int] = set()
        self._active: set[int] = set()
        self._alias_nodes = 0
        self._expanding = 0
        # The innermost container written out in the text (not reached through an alias):
        # where an alias that expands too far is, since composed nodes keep no alias positions.
        self._written: yaml.Node | None = None

    def convert(self, node: yaml.Node, depth: int) -> object:
        if isinstance(node, yaml.ScalarNode):
            if self._expanding:
                self._count(node)
            return self._scalar(node)
        if depth >= MAX_DEPTH:
            raise DocumentError("document-limit", Problem(
                "document-limit.depth", {"limit": MAX_DEPTH}, position=_position(node)))
        ident = id(node)
        if ident in self._active:
            raise DocumentError("yaml-syntax", Problem(
                "yaml-syntax.recursive-alias", {}, position=_position(node)))
        again = ident in self._converted
        self._converted.add(ident)
        self._active.add(ident)
        self._expanding += again
        written = self._written
        if not self._expanding:
            self._written = node
        try:
            if self._expanding:
                self._count(node)
            if isinstance(node, yaml.SequenceNode):
                self._check_tag(node, _SEQ)
                return [self.convert(item, depth + 1) for item in node.value]
            assert isinstance(node, yaml.MappingNode)
            self._check_tag(node, _MAP)
            return self._mapping(node, depth)
        finally:
            self._expanding -= again
            self._active.discard(ident)
            self._written = written

    def _count(self, node: yaml.Node) -> None:
        self._alias_nodes += 1
        if self._alias_nodes > MAX_ALIAS_NODES:
            where = self._written if self._written is not None else node
            raise DocumentError("document-limit", Problem(
                "document-limit.aliases", {"limit": MAX_ALIAS_NODES}, position=_position(where)))

    def _mapping(self, node: yaml.MappingNode, depth: int) -> dict[str, object]:
        result: dict[str, object] = {}
        merged: dict[str, object] = {}
        first_seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.update(self._merge(value_node, depth))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise DocumentError("yaml-syntax", Problem(
                    "yaml-syntax.complex-key", {}, position=_position(key_node)))
            name = str(key_node.value)
            if name in first_seen:
                self.problems.append(("duplicate-key", Problem(
                    "duplicate-key", {"key": name, "line": _position(first_seen[name]).line},
                    position=_position(key_node))))
                continue
            first_seen[name] = key_node
            result[name] = self.convert(value_node, depth + 1)
        if merged:
            # Explicit keys win over merged ones, as YAML's merge-key spec says.
            return {**merged, **result}
        return result

    def _merge(self, node: yaml.Node, depth: int) -> dict[str, object]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        merged: dict[str, object] = {}
        for source in reversed(sources):
            if not isinstance(source, yaml.MappingNode):
                raise DocumentError("yaml-syntax", Problem(
                    "yaml-syntax.bad-merge", {}, position=_position(source)))
            value = self.convert(source, depth)
            assert isinstance(value, dict)
            merged.update(value)
        return merged

    def _check_tag(self, node: yaml.Node, expected: str) -> None:
        if node.tag != expected:
            raise DocumentError("yaml-syntax", Problem(
                "yaml-syntax.tag", {"tag": _tag_as_written(node.tag)},
                position=_position(node)))

    def _scalar(self, node: yaml.ScalarNode) -> object:
        tag = node.tag
        if tag in (_STR, _TIMESTAMP):
            return node.value
        if tag not in _SCALAR_TAGS:
            raise DocumentError("yaml-syntax", Problem(
                "yaml-syntax.tag", {"tag": _tag_as_written(tag)}, position=_position(node)))
        if tag == _YAML + "bool":
            return _TRUE_FALSE.get(node.value, node.value)
        if tag in (_INT, _FLOAT):
            return _number(node, tag == _INT)
        if tag == _YAML + "null":
            return None
        return node.value


def _number(node: yaml.ScalarNode, integer: bool) -> int | float:
    """An int or float scalar converted within the bounds, or a positioned
    :class:`DocumentError`."""
    text = str(node.value)
    quoted = text if len(text) <= _QUOTED_CHARS else text[:_QUOTED_CHARS] + "…"
    if len(text) > MAX_NUMBER_CHARS:
        raise DocumentError("document-limit", Problem(
            "document-limit.number-length",
            {"text": quoted, "length": len(text), "limit": MAX_NUMBER_CHARS},
            position=_position(node)))
    try:
        value: int | float = (_constructor.construct_yaml_int(node) if integer
                              else _constructor.construct_yaml_float(node))
    except (ValueError, IndexError):  # an explicit !!int or !!float on text that is not one
        raise DocumentError("yaml-syntax", Problem(
            "yaml-syntax.bad-int" if integer else "yaml-syntax.bad-float", {"text": quoted},
            position=_position(node))) from None
    if isinstance(value, int) and abs(value) > MAX_INTEGER:
        raise DocumentError("document-limit", Problem(
            "document-limit.integer", {"text": quoted, "limit": MAX_INTEGER},
            position=_position(node)))
    if isinstance(value, float) and not math.isfinite(value):
        raise DocumentError("document-limit", Problem(
            "document-limit.float", {"text": quoted}, position=_position(node)))
    return value
