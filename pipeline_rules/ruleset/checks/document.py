"""Document rules: is this a readable, well-formed YAML document of the ruleset's shape?"""

from __future__ import annotations

from collections.abc import Iterator

from pipeline_rules.ruleset.checks.config import suppressions
from pipeline_rules.ruleset.checks.context import CheckContext
from pipeline_rules.ruleset.checks.registry import Phase, rule, rule_names
from pipeline_rules.ruleset.problems import Problem, Severity
from pipeline_rules.ruleset.schema import validate
from pipeline_rules.ruleset.source import Position, join
from pipeline_rules.suggest import Suggestions


def _fatal(ctx: CheckContext, name: str) -> Iterator[Problem]:
    if ctx.fatal is not None and ctx.fatal.rule == name:
        yield ctx.fatal.problem


@rule("yaml-syntax", Severity.ERROR, Phase.DOCUMENT, blocks_use=True)
def yaml_syntax(ctx: CheckContext) -> Iterator[Problem]:
    """YAML that does not parse, at the parser's position.

    ## What it finds
    Text the YAML parser rejects: bad indentation, a tab used for indentation, an unclosed
    quote or bracket, several documents in one file, a recursive alias, a mapping key that is
    not a plain name, a tag such as `!!python/object` (rulesets are data: no tag may name code),
    or a value tagged `!!int` or `!!float` that is not a number.

    ## Why it matters
    Nothing else can be checked until the file parses; the position points at the first character
    the parser could not accept.

    ## Example
    ```yaml
    stages:
    <TAB>- id: meeting        # a tab character before the dash
    ```

    ## Use instead
    ```yaml
    stages:
      - id: meeting
    ```
    """
    return _fatal(ctx, "yaml-syntax")


@rule("encoding", Severity.ERROR, Phase.DOCUMENT, blocks_use=True)
def encoding(ctx: CheckContext) -> Iterator[Problem]:
    """A file that is not UTF-8 text.

    ## What it finds
    Bytes that are not valid UTF-8 (a file saved as Windows-1251 or Latin-1, or a binary file),
    at the line and column of the first bad byte.

    ## Why it matters
    Stage titles are often Russian; a file in a legacy encoding would turn them into garbage.

    ## Example
    A ruleset saved from an old editor in Windows-1251: `title: "\xc2\xf1\xf2\xf0\xe5\xf7\xe0"`.

    ## Use instead
    Save the file as UTF-8 (a byte-order mark is accepted).
    """
    return _fatal(ctx, "encoding")


@rule("document-limit", Severity.ERROR, Phase.DOCUMENT, blocks_use=True)
def document_limit(ctx: CheckContext) -> Iterator[Problem]:
    """A document over the size, alias-expansion, nesting or number limits.

    ## What it finds
    A file over 5 MB; aliases that expand to more than 20,000 nodes (a "billion laughs" alias
    bomb); nesting deeper than 64 levels; a number written with more than 100 characters (a
    4,301-digit integer, a long `0b…` binary or `1:59:59:…` base-60 form), a whole number beyond
    ±9223372036854775807 (a signed 64-bit integer), or a number that is not finite (`1.0e+999`,
    `.inf`, `.nan`); in a ruleset directory, a link that leads outside it (refused unread: the
    directory is the boundary of what a run or the server reads).

    ## Why it matters
    A regulation is a few hundred lines. These limits keep a hostile or broken file from eating
    the memory and time of a CI runner or of the HTTP service; a number no amount or count can
    reach would only break the programs the findings go to.

    ## Example
    ```yaml
    a: &a [x, x, x, x, x, x, x, x, x, x]
    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
    # ... and so on: each level multiplies the size by ten
    ```

    ## Use instead
    Write the regulation out; use anchors only to share small blocks such as a condition map.
    """
    return _fatal(ctx, "document-limit")


@rule("duplicate-key", Severity.ERROR, Phase.DOCUMENT, blocks_use=True)
def duplicate_key(ctx: CheckContext) -> Iterator[Problem]:
    """The same key twice in one mapping.

    ## What it finds
    A mapping that gives one key two values. YAML parsers silently keep the last one.

    ## Why it matters
    The value an editor sees first is not the one that counts: a duplicated `limit:` or `when:`
    changes the regulation without anyone noticing. pipeline-rules keeps the first value and
    reports every later one.

    ## Example
    ```yaml
    - id: meeting-stall
      stage: meeting
      limit: 7d
      limit: 14d
    ```

    ## Use instead
    ```yaml
    - id: meeting-stall
      stage: meeting
      limit: 7d
    ```
    """
    if ctx.document is not None:
        yield from (p for name, p in ctx.document.problems if name == "duplicate-key")


@rule("schema", Severity.ERROR, Phase.DOCUMENT, blocks_use=True)
def schema(ctx: CheckContext) -> Iterator[Problem]:
    """A document that breaks `schemas/ruleset.schema.json`.

    ## What it finds
    An empty file, a top level that is not a mapping, an unknown key (with the nearest known key
    suggested), a missing required key, a value of the wrong type, a word outside a fixed list
    (`terminal: maybe`), an SLA with both `stage` and `from`/`to` or neither.

    ## Why it matters
    The schema is the format's contract: a key the engine does not know would otherwise be
    ignored, and a misspelt `transitons:` would leave the pipeline with no moves at all.
    Editors that read the `# yaml-language-server: $schema=` line show the same checks as you type.

    ## Example
    ```yaml
    transitons:
      - {from: meeting, to: proposal}
    ```

    ## Use instead
    ```yaml
    transitions:
      - {from: meeting, to: proposal}
    ```
    """
    if ctx.document is None:
        return
    yield from validate(ctx.document.data)
    yield from _unknown_rule_names(ctx.document.data)


def _unknown_rule_names(data: object) -> Iterator[Problem]:
    lint = data.get("lint") if isinstance(data, dict) else None
    rules = lint.get("rules") if isinstance(lint, dict) else None
    if not isinstance(rules, dict):
        return
    known = rule_names()
    suggest = Suggestions(known)
    for name in rules:
        if name not in known:
            suggestion = suggest(name)
            yield Problem("schema.unknown-rule-suggest" if suggestion else "schema.unknown-rule",
                          {"name": name, "suggestion": suggestion},
                          path=join("/lint/rules", name), at_key=True)


@rule("invalid-suppression", Severity.WARNING, Phase.DOCUMENT, blocks_use=True)
def invalid_suppression(ctx: CheckContext) -> Iterator[Problem]:
    """A suppression comment that names a rule that does not exist.

    ## What it finds
    `# pipeline-rules: disable=...`, `disable-next-line=...` and `disable-file=...` comments
    naming an unknown rule, with the nearest rule name suggested.

    ## Why it matters
    A misspelt name silences nothing, so the finding the comment meant to accept stays — or,
    worse, the author believes a rule is silenced that later fires in CI.

    ## Example
    ```yaml
      - id: on_hold            # pipeline-rules: disable=gap-stages
    ```

    ## Use instead
    ```yaml
      - id: on_hold            # pipeline-rules: disable=gap-stage
    ```
    """
    known = rule_names()
    suggest = Suggestions(known)
    for directive in suppressions(ctx.source).directives:
        for name, column in directive.names:
            if name not in known:
                suggestion = suggest(name)
                yield Problem("invalid-suppression.suggest" if suggestion
                              else "invalid-suppression",
                              {"name": name, "suggestion": suggestion},
                              position=Position(directive.line, column))
