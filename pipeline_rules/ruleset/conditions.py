"""Conditions on deal fields (``when`` / ``unless``), compiled to predicates that explain failure.

A condition names a deal attribute (``id``, ``stage``, ``source``, ``owner``, ``manager``) or a
key of the deal's ``fields`` mapping, and tests it with one operator:

* ``eq`` / ``ne`` — equal / not equal (a number equals the same number written as text: ``5``
  and ``"5"`` are equal, because CRMs export numbers either way);
* ``in`` / ``not_in`` — one of / none of a list;
* ``gt``, ``gte``, ``lt``, ``lte`` — numbers compare as numbers, other values as text (so ISO
  dates compare in date order); a missing field or a number compared with a word fails;
* ``exists`` — ``true``: the field is present and not empty (not null, ``""``, ``[]`` or
  ``{}``); ``false``: it is missing or empty.

A missing field fails every test except ``ne``, ``not_in`` and ``exists: false``. Plugins add
operators (:mod:`pipeline_rules.ruleset.plugins`); one that raises counts as not met. A map of
several conditions matches when all of them hold: ``when`` allows a move if its map matches,
``unless`` forbids it if its map matches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from pipeline_rules.i18n import Term
from pipeline_rules.ruleset.model import Condition


class HasFields(Protocol):
    """What a condition reads: a deal's attributes and its ``fields`` mapping."""

    @property
    def fields(self) -> Mapping[str, object]:
        """Custom fields of the deal."""
        ...


ATTRIBUTES = ("id", "stage", "source", "owner", "manager")
_SYMBOLS = {"eq": "=", "ne": "≠", "in": "in", "not_in": "not in", "gt": ">", "gte": "≥",
            "lt": "<", "lte": "≤"}
_MISSING = object()
_ABSENT = Term(("value.missing",))


def field_value(deal: HasFields, name: str) -> object:
    """The value a condition on ``name`` reads from ``deal``, or a sentinel when missing."""
    if name in ATTRIBUTES:
        value = getattr(deal, name, None)
        return _MISSING if value is None else value
    return deal.fields.get(name, _MISSING)


def is_missing(value: object) -> bool:
    """Whether a field read by :func:`field_value` is absent or empty."""
    return value is _MISSING or value is None or value in ("", [], {})


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _compare(actual: object, expected: object, op: str) -> bool:
    a, e = _number(actual), _number(expected)
    if a is not None and e is not None:
        left: float | str = a
        right: float | str = e
    elif isinstance(actual, str) and isinstance(expected, str):
        left, right = actual, expected
    else:
        return False
    return {"gt": left > right, "gte": left >= right,  # type: ignore[operator]
            "lt": left < right, "lte": left <= right}[op]  # type: ignore[operator]


def _as_list(value: object) -> Sequence[object]:
    return value if isinstance(value, list | tuple) else [value]


@dataclass(frozen=True, slots=True)
class _OneOf:
    """``eq``/``in`` (``among``) or ``ne``/``not_in`` (not ``among``), by set lookups: conditions
    run per deal.

    Equal means the same value, or the same number however written (``5``, ``5.0``, ``"5"``);
    ``true``/``false`` equal only themselves, never ``1``/``0``.
    """

    bools: frozenset[bool]
    exact: frozenset[object]
    numbers: frozenset[float]
    among: bool

    @classmethod
    def of(cls, options: Sequence[object], among: bool) -> _OneOf:
        """The test for membership (``among``) or its absence in ``options``."""
        return cls(frozenset(o for o in options if isinstance(o, bool)),
                   frozenset(o for o in options if not isinstance(o, bool | list | dict)),
                   frozenset(n for n in map(_number, options) if n is not None), among)

    def __call__(self, value: object) -> bool:
        if value is _MISSING:
            return not self.among
        if isinstance(value, bool):
            return (value in self.bools) == self.among
        try:
            found = value in self.exact
        except TypeError:  # an unhashable field value (a list) equals no scalar option
            return not self.among
        if not found and self.numbers:
            number = _number(value)
            found = number is not None and number in self.numbers
        return found == self.among


@dataclass(frozen=True, slots=True)
class _Compares:
    """``gt``/``gte``/``lt``/``lte`` against ``expected``; a missing field fails."""

    op: str
    expected: object

    def __call__(self, value: object) -> bool:
        return value is not _MISSING and _compare(value, self.expected, self.op)


@dataclass(frozen=True, slots=True)
class _Exists:
    """``exists``: whether the field is set (``want``) or empty (not ``want``)."""

    want: bool

    def __call__(self, value: object) -> bool:
        return is_missing(value) != self.want


@dataclass(frozen=True, slots=True)
class _PluginTest:
    """A plugin operator with its argument; a missing field reaches it as None."""

    operator: Callable[[object, object], bool]
    expected: object

    def __call__(self, value: object) -> bool:
        try:
            return bool(self.operator(None if value is _MISSING else value, self.expected))
        except Exception:  # a failing plugin operator means the condition is not met
            return False


BUILTIN_OPERATORS = frozenset({"eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "exists"})


def _test(op: str, expected: object,
          operators: Mapping[str, Callable[[object, object], bool]] | None = None,
          ) -> Callable[[object], bool]:
    """The test ``op expected`` on a field value (possibly the missing sentinel).

    Tests are small frozen objects rather than closures so that a compiled ruleset pickles
    (plugin operators pickle by reference, as module-level functions do).
    """
    if op not in BUILTIN_OPERATORS and operators and op in operators:
        return _PluginTest(operators[op], expected)
    if op in ("eq", "in"):
        return _OneOf.of(_as_list(expected), among=True)
    if op in ("ne", "not_in"):
        return _OneOf.of(_as_list(expected), among=False)
    if op in ("gt", "gte", "lt", "lte"):
        return _Compares(op, expected)
    if op == "exists":
        return _Exists(bool(expected))
    raise ValueError(f"unknown condition operator {op!r}")


@dataclass(frozen=True)
class CompiledCondition:
    """One condition ready to run on a deal."""

    condition: Condition
    test: Callable[[object], bool]

    @property
    def field(self) -> str:
        """The deal field the condition reads."""
        return self.condition.field

    def holds(self, deal: HasFields) -> bool:
        """Whether the deal passes the condition."""
        return self.test(field_value(deal, self.condition.field))

    def describe(self) -> str:
        """The condition in short, e.g. ``source in [web_form, email]`` or ``amount ≥ 5000``."""
        c = self.condition
        if c.op == "exists":
            return f"{c.field} is set" if c.value else f"{c.field} is empty"
        value = (f"[{', '.join(str(v) for v in c.value)}]" if isinstance(c.value, list | tuple)
                 else str(c.value))
        return f"{c.field} {_SYMBOLS.get(c.op, c.op)} {value}"


def compile_conditions(conditions: Sequence[Condition],
                       operators: Mapping[str, Callable[[object, object], bool]] | None = None,
                       ) -> tuple[CompiledCondition, ...]:
    """Compile a condition map (all of them must hold for the map to match); ``operators``
    are condition plugins by operator name."""
    return tuple(CompiledCondition(c, _test(c.op, c.value, operators)) for c in conditions)


def matches(conditions: Sequence[CompiledCondition], deal: HasFields) -> bool:
    """Whether every condition holds (an empty map matches every deal)."""
    return all(c.holds(deal) for c in conditions)


def shown(value: object) -> str | Term:
    """A field value for a message: ``(missing)`` (in the message's language) for an absent
    field."""
    return _ABSENT if value is _MISSING else repr(value) if isinstance(value, str) \
        else str(value)
