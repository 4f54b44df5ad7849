"""Versions-folder rules: are the files of a folder versions of one ruleset, one in force?

Each runs over the compiled files of a versions folder together, judging each file among the
others; the checks themselves are the catalog's (:mod:`pipeline_rules.ruleset.versions`), which
refuses a folder any of the error rules finds something in.
"""

from __future__ import annotations

from collections.abc import Iterator

from pipeline_rules.ruleset import versions
from pipeline_rules.ruleset.checks.context import CheckContext
from pipeline_rules.ruleset.checks.registry import Phase, rule
from pipeline_rules.ruleset.problems import Problem, Severity


@rule("versions-unversioned-file", Severity.ERROR, Phase.FOLDER)
def unversioned_file(ctx: CheckContext) -> Iterator[Problem]:
    """A file in a versions folder that is not a version.

    ## What it finds
    A ruleset file in a versions folder (a directory whose files declare `revision`, or a
    sub-directory of the rulesets directory) without `revision` or without `effective`.

    ## Why it matters
    Every file of the folder is a version of one ruleset; one without an effective instant
    cannot be placed among them, so nothing could say which deals it judges. The folder is not
    used (evaluate, check and the server refuse it) until the file is fixed or moved out.

    ## Example
    ```yaml
    # rulesets/b2b_sales/draft.yaml
    version: 1
    id: b2b-sales
    title: "B2B sales, next year's draft"
    ```

    ## Use instead
    ```yaml
    version: 1
    revision: "3"
    effective: 2027-01-01
    id: b2b-sales
    ```

    ## Known limits
    A draft not meant to take effect yet still needs a date; keep drafts out of the folder.
    """
    yield from versions.unversioned(ctx.folder, ctx.index)


@rule("versions-mixed-id", Severity.ERROR, Phase.FOLDER)
def mixed_id(ctx: CheckContext) -> Iterator[Problem]:
    """A version that changes the ruleset id.

    ## What it finds
    A file of a versions folder whose `id` differs from the folder's first file's.

    ## Why it matters
    Deals name the ruleset that judges them by its id, and keep being judged across versions
    by that id; a version with another id would silently stop judging them. The folder is not
    used until the ids agree.

    ## Example
    ```yaml
    # rulesets/b2b_sales/v2.yaml (v1.yaml has id: b2b-sales)
    version: 1
    revision: "2"
    effective: 2026-12-01
    id: b2b
    ```

    ## Use instead
    ```yaml
    id: b2b-sales   # the folder's id; a new id is a new ruleset in its own folder or file
    ```

    ## Known limits
    The first file in file-name order gives the folder's id, so a typo there is reported on
    every other file.
    """
    yield from versions.mixed_id(ctx.folder, ctx.index)


@rule("versions-same-instant", Severity.ERROR, Phase.FOLDER)
def same_instant(ctx: CheckContext) -> Iterator[Problem]:
    """Two versions that take effect at the same instant.

    ## What it finds
    A version whose `effective` is the same instant as an earlier file's (written alike or
    not: `2026-12-01` and `2026-12-01T00:00:00+03:00` in a ruleset zone of +03:00 clash).

    ## Why it matters
    At that instant two versions would be in force, and which one judges a deal would depend on
    the file names. The folder is not used until one of them moves.

    ## Example
    ```yaml
    # v1.yaml
    effective: 2026-12-01T00:00:00+03:00
    # v2.yaml
    effective: 2026-12-01
    ```

    ## Use instead
    ```yaml
    # v2.yaml
    effective: 2027-01-01
    ```

    ## Known limits
    Instants are compared in the version's own zone and offset; versions that change the
    `timezone` compare as the instants they name.
    """
    yield from versions.same_instant(ctx.folder, ctx.index)


@rule("versions-same-revision", Severity.ERROR, Phase.FOLDER)
def same_revision(ctx: CheckContext) -> Iterator[Problem]:
    """Two versions with the same revision label.

    ## What it finds
    A version whose `revision` an earlier file of the folder already has.

    ## Why it matters
    Findings name the version that produced them by its revision, and `backtest FOLDER@REV`
    picks a version by it; two with one label make both ambiguous. The folder is not used until
    the labels differ.

    ## Example
    ```yaml
    # v1.yaml and v2.yaml both
    revision: "1"
    ```

    ## Use instead
    ```yaml
    # v2.yaml
    revision: "2"
    ```

    ## Known limits
    Labels are compared as written: `"2"` and `"02"` are different revisions.
    """
    yield from versions.same_revision(ctx.folder, ctx.index)


@rule("versions-none-in-force", Severity.WARNING, Phase.FOLDER)
def none_in_force(ctx: CheckContext) -> Iterator[Problem]:
    """No version of the folder is in force yet.

    ## What it finds
    A usable versions folder whose earliest version takes effect after the time lint runs;
    reported on that version's `effective`.

    ## Why it matters
    Until a version takes effect, deals are judged by the earliest one anyway (with a
    `before-versions` warning on deals older than it): a folder meant to replace a ruleset that
    is still in use judges by rules not in force yet.

    ## Example
    ```yaml
    # the only version of rulesets/b2b_sales/
    revision: "1"
    effective: 2999-01-01
    ```

    ## Use instead
    ```yaml
    revision: "1"
    effective: 2026-01-01   # the regulation in force today, with the new one beside it
    ```

    ## Known limits
    It depends on the time of the run: the same folder passes once its first version takes
    effect.
    """
    if ctx.now is not None:
        yield from versions.none_in_force(ctx.folder, ctx.index, ctx.now)
