"""Checking a ruleset source: running rules over its document and its model.

Compiling runs the rules that block use (this package's families: ``document``, ``structure``
and ``values``); ``pipeline-rules lint`` runs them with the advisory ones. Both go through
:func:`check_source`, so a ruleset is refused for use with exactly the diagnostics lint shows for
its errors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

from pipeline_rules import i18n
from pipeline_rules.ruleset.checks.config import ConfigError, LintConfig, config_from_mapping
from pipeline_rules.ruleset.checks.context import CheckContext
from pipeline_rules.ruleset.checks.diagnostics import Diagnostic, diagnose, in_file_order
from pipeline_rules.ruleset.checks.registry import Phase, Rule, blocking_rules
from pipeline_rules.ruleset.loader import Document, load_document
from pipeline_rules.ruleset.model import Ruleset, build_ruleset
from pipeline_rules.ruleset.problems import DocumentError, Problem
from pipeline_rules.ruleset.schema import validate
from pipeline_rules.ruleset.source import Source

if TYPE_CHECKING:
    from pipeline_rules.ruleset.compiled import CompiledRuleset


@dataclass(frozen=True)
class Checked:
    """A source after its checks: what the rules saw, the configuration in force (the caller's,
    overridden by the ruleset's own ``lint:`` block) and every problem found, by rule."""

    context: CheckContext
    config: LintConfig
    problems: tuple[tuple[Rule, Problem], ...]

    @property
    def model(self) -> Ruleset | None:
        """The ruleset model, when the document fit the schema."""
        return self.context.model

    def diagnostics(self, lang: str = i18n.DEFAULT) -> list[Diagnostic]:
        """The problems as diagnostics in file order (configuration and suppressions applied)."""
        return in_file_order(diagnose(self.problems, self.context, self.config, lang))


def check_source(source: Source, rules: Iterable[Rule], config: LintConfig | None = None,
                 document: Document | None = None,
                 vocabulary: tuple[str, ...] = ()) -> Checked:
    """Run ``rules`` over ``source`` (parsed here unless ``document`` is given): document rules
    first, then, when the document fits the schema, ruleset rules over its model. ``vocabulary``
    is the built-in list of limbo words the configuration extends."""
    config = config or LintConfig()
    rules = tuple(rules)
    fatal: DocumentError | None = None
    if document is None:
        try:
            document = load_document(source)
        except DocumentError as err:
            fatal = err
    ctx = CheckContext(source, document, fatal)
    found: list[tuple[Rule, Problem]] = []
    for rule in rules:
        if rule.phase is Phase.DOCUMENT:
            found.extend((rule, p) for p in rule.check(ctx))
    schema_problems = [p for r, p in found if r.name == "schema"]
    judged = document
    renames: dict[str, str] = {}
    if document is not None and fatal is None and isinstance(document.data, dict):
        # A misspelt top-level key the schema can name ('transitons': did you mean
        # 'transitions'?) is read as meant, so the rest of the ruleset is still judged.
        renames = _renames(schema_problems, document.data)
        if renames:
            judged = replace(document, data={renames.get(k, k): v
                                             for k, v in document.data.items()})
            schema_problems = validate(judged.data, "ruleset")
            # What the schema finds inside a key read as meant, it reports as written.
            schema = next(r for r in rules if r.name == "schema")
            back = {meant: typo for typo, meant in renames.items()}
            found.extend((schema, _as_written(p, back)) for p in schema_problems
                         if p.path[1:].partition("/")[0] in back)
    # A broken part inside a top-level key (a list item, a nested key) leaves the rest
    # judgeable; so does a broken top-level key (missing, or of the wrong type): the model is
    # built without it and the rules that read it are skipped (see _without).
    top = _broken_keys(schema_problems)
    broken = [p.path or "/" + str(p.args.get("key", "")) for p in schema_problems]
    data = judged.data if judged is not None and fatal is None else None
    model = None
    if judged is not None and isinstance(data, dict) and top is not None:
        model = _model(replace(judged, data={k: v for k, v in data.items() if k not in top}),
                       broken)
    if judged is not None and isinstance(data, dict) and model is not None:
        # A malformed lint block has already been reported by the schema rule.
        with contextlib.suppress(ConfigError):
            config = config.merged(config_from_mapping(data.get("lint"), "lint"))
        judging = _without(model, top) if top else model
        ctx = CheckContext(source, judged, None, judging, vocabulary + config.gap_vocabulary)
        back = {meant: typo for typo, meant in renames.items()}
        for rule in rules:
            if rule.phase is Phase.RULESET:
                found.extend((rule, _as_written(p, back)) for p in _run(rule, ctx, broken))
        if top:  # the model lacks parts: nobody may use it, the rules have had their look
            ctx = CheckContext(source, judged, None, None, ctx.gap_vocabulary)
    return Checked(ctx, config, tuple(found))


#: The model attributes each top-level key of a ruleset becomes.
_MODEL_FIELDS = {"start": ("starts",), "end": ("won", "lost", "on_won", "on_lost"),
                 "sla": ("slas",)}
#: The schema's words for a key that is only extra: it breaks nothing else.
_EXTRA = frozenset({"schema.unknown-key", "schema.unknown-key-suggest"})


def _broken_keys(problems: list[Problem]) -> frozenset[str] | None:
    """The top-level keys the schema finds missing or of the wrong type (an unknown key breaks
    nothing else); None when the document as a whole is broken (not a mapping)."""
    keys = set()
    for problem in problems:
        if problem.path == "":
            if problem.message != "schema.required":
                return None
            keys.add(str(problem.args["key"]))
        elif problem.path.count("/") == 1 and problem.message not in _EXTRA:
            keys.add(problem.path[1:])
    return frozenset(keys)


class _Absent:
    """What a model attribute holds when its top-level key is broken: any use of it raises,
    so a rule that reads it is skipped (:func:`_run`) rather than judging a part that is not
    there, while the rules that never read it still run."""

    def __init__(self, key: str) -> None:
        object.__setattr__(self, "_key", key)

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise LookupError(f"top-level key '{object.__getattribute__(self, '_key')}' is broken")

    def __getattr__(self, name: str) -> NoReturn:
        self._refuse()

    __iter__ = __len__ = __bool__ = __str__ = __format__ = __getitem__ = _refuse
    __contains__ = __eq__ = __lt__ = __hash__ = __int__ = _refuse


def _without(model: Ruleset, keys: frozenset[str]) -> Ruleset:
    """``model`` with the attributes of broken top-level ``keys`` made unreadable."""
    names = {f.name for f in fields(model)}
    absent: dict[str, Any] = {}
    for key in keys:
        for name in _MODEL_FIELDS.get(key, (key,)):
            if name in names:
                absent[name] = _Absent(key)
    return replace(model, **absent)


def _renames(problems: list[Problem], data: dict[str, object]) -> dict[str, str]:
    """Top-level keys the schema found misspelt, and the key each surely means (one not
    given too)."""
    found: dict[str, str] = {}
    for problem in problems:
        if problem.message == "schema.unknown-key-suggest" and problem.path.count("/") == 1:
            typo, meant = str(problem.args["key"]), str(problem.args["suggestion"])
            if meant not in data and meant not in found.values():
                found[typo] = meant
    return found


def _as_written(problem: Problem, back: dict[str, str]) -> Problem:
    """A problem found under a key read as meant, pointed at the key as written."""
    if not back:
        return problem
    head, _, rest = problem.path[1:].partition("/")
    if head not in back:
        return problem
    return replace(problem, path="/" + back[head] + ("/" + rest if rest else ""))


def _model(document: Document, broken: list[str]) -> Ruleset | None:
    """The model of a document; of a draft that breaks the schema (``broken``), None when what
    is broken leaves nothing the model can be built from (the schema's problems say why)."""
    if not broken:
        return build_ruleset(document)
    try:
        return build_ruleset(document)
    except Exception:  # any malformed part of any draft: the schema error says why
        return None


def _run(rule: Rule, ctx: CheckContext, broken: list[str]) -> list[Problem]:
    """A model rule's problems. On a draft that breaks the schema (``broken``: the paths of its
    schema problems) the model is built from what reads, so that every independent problem is
    found in one pass: the rule's problems inside a broken part are left to the schema's, and a
    rule that cannot read the draft at all is skipped."""
    if not broken:
        return list(rule.check(ctx))
    try:
        problems = list(rule.check(ctx))
    except Exception:  # any rule on any malformed draft: the schema error says why
        return []
    parts = {_part(path) for path in broken}
    return [p for p in problems if _part(p.path) not in parts and not any(
        p.path == part or p.path.startswith(part + "/") for part in parts)]


def _part(path: str) -> str:
    """The part of a document a path is in: its list item (``/transitions/3``), else its
    top-level key (``/schedule``); the whole document for the root."""
    segments = path.split("/")[1:]
    for i in range(len(segments) - 1, -1, -1):
        if segments[i].isdigit():
            return "/" + "/".join(segments[:i + 1])
    return "/" + segments[0] if segments else ""


def check_folder(entries: Sequence[CompiledRuleset], rules: Iterable[Rule], now: datetime,
                 config: LintConfig | None = None, lang: str = i18n.DEFAULT) -> list[Diagnostic]:
    """Run the folder rules among ``rules`` over the compiled files of a versions folder, each
    file judged among the others; diagnostics file by file, in file order (configuration and
    each file's suppression comments applied)."""
    folder_rules = [r for r in rules if r.phase is Phase.FOLDER]
    config = config or LintConfig()
    found: list[Diagnostic] = []
    for index, compiled in enumerate(entries):
        rs = compiled.ruleset
        ctx = CheckContext(rs.source, None, None, rs, folder=tuple(entries), index=index,
                           now=now)
        problems = [(rule, p) for rule in folder_rules for p in rule.check(ctx)]
        found.extend(in_file_order(diagnose(problems, ctx, config, lang)))
    return found


def unreadable(name: str, err: DocumentError, config: LintConfig | None = None,
               lang: str = i18n.DEFAULT) -> list[Diagnostic]:
    """The diagnostic of a text that cannot be read at all (not UTF-8, too big), as if it were
    an empty source called ``name``."""
    rule = blocking_rules()[err.rule]
    ctx = CheckContext(Source(name, ""), None, err)
    return list(diagnose([(rule, err.problem)], ctx, config or LintConfig(), lang))


__all__ = ["Checked", "Diagnostic", "check_folder", "check_source", "unreadable"]
