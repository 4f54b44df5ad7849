"""What the commands share: exit codes, errors on stderr, loading a ruleset for use, the
``--now`` option, the deal-input options and report output."""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, NoReturn

import click

from pipeline_rules import i18n

if TYPE_CHECKING:
    from pipeline_rules.ruleset.catalog import Catalog
    from pipeline_rules.ruleset.compiled import CompiledRuleset
    from pipeline_rules.ruleset.versions import Versions


EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
#: The status of a command whose reader went away (``| head``): a shell's for SIGPIPE.
EXIT_CLOSED_PIPE = 128 + 13

#: errno values that mean the output cannot take what is written: full disk, quota, file size
#: limit, a device error.
_WRITE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})

LANG = click.Choice(list(i18n.LANGUAGES))


def language_of(args: list[str]) -> str:
    """The language a command line asks for: its ``--lang``, else the locale's."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        value = args[i + 1] if arg == "--lang" and i + 1 < len(args) else \
            arg.partition("=")[2] if arg.startswith("--lang=") else None
        if value in i18n.LANGUAGES:
            return value
    return i18n.detect()


class _UsageShown(click.UsageError):
    """A usage error said from the message catalog: usage line, help hint and error, each in
    the language of the command line."""

    def __init__(self, message: str, ctx: click.Context | None, lang: str) -> None:
        super().__init__(message, ctx)
        self.lang = lang

    def show(self, file: Any = None) -> None:
        """The usage, the hint and the error on stderr, as click shows them."""
        if self.ctx is not None:
            words = {"[OPTIONS]": i18n.render("usage.options", {}, self.lang),
                     "COMMAND [ARGS]...": i18n.render("usage.command", {}, self.lang)}
            pieces = [words.get(p, p) for p in self.ctx.command.collect_usage_pieces(self.ctx)]
            usage = " ".join([i18n.render("usage.usage", {}, self.lang), self.ctx.command_path,
                              *pieces])
            hint = i18n.render("usage.help", {"command": self.ctx.command_path}, self.lang)
            click.echo(f"{usage}\n{hint}\n", err=True, color=self.ctx.color)
        click.echo(i18n.render("usage.error", {"message": self.message}, self.lang), err=True)


def translated_usage(err: click.UsageError, lang: str) -> click.UsageError:
    """Click's usage error said in ``lang`` from its parts (which parameter, which value,
    what was meant), or the error as it is in English. Click's own messages come through
    gettext, which would need compiled catalogs and the language before ``--lang`` is
    parsed; the parts are on the exception, and the words then live in the one catalog."""
    if lang == i18n.DEFAULT or isinstance(err, _UsageShown):
        return err
    return _UsageShown(_usage_message(err, lang), err.ctx, lang)


def _usage_message(err: click.UsageError, lang: str) -> str:
    import re

    def said(key: str, **args: object) -> str:
        return i18n.render(f"usage.{key}", args, lang)

    def meant(possibilities: list[str] | None) -> str:
        if not possibilities:
            return ""
        return " " + said("did-you-mean", names=", ".join(f"'{p}'" for p in possibilities))

    if isinstance(err, click.MissingParameter):
        kind = err.param_type or (err.param.param_type_name if err.param else "parameter")
        name = err.param.get_error_hint(err.ctx) if err.param is not None else ""
        return said("missing-argument" if kind == "argument" else "missing-option", name=name)
    if isinstance(err, click.NoSuchOption):
        return said("no-such-option", name=f"'{err.option_name}'") + meant(err.possibilities)
    if isinstance(err, click.NoSuchCommand):
        return said("no-such-command", name=f"'{err.command_name}'") + meant(err.possibilities)
    if isinstance(err, click.BadParameter):
        param = err.param
        hint = err.param_hint if err.param_hint is not None else \
            param.get_error_hint(err.ctx) if param is not None else ""
        name = hint if isinstance(hint, str) else " / ".join(f"'{h}'" for h in hint)
        if not name.startswith(("'", '"')):
            name = f"'{name}'"
        value = err.message.partition(" is not ")[0]
        expects = param.type if param is not None else None
        if isinstance(expects, click.Choice) and " is not " in err.message:
            return said("choice", name=name, value=value,
                        choices=", ".join(f"'{c}'" for c in expects.choices))
        if isinstance(expects, click.IntRange) and " is not " in err.message:
            return said("range", name=name, value=value, low=expects.min, high=expects.max)
        return said("invalid", name=name, message=err.message)
    needs = re.fullmatch(r"Option '(.+)' requires an argument\.", err.message)
    if needs:
        return said("needs-value", name=f"'{needs[1]}'")
    extra = re.fullmatch(r"Got unexpected extra arguments? \((.*)\)", err.message)
    if extra:
        return said("extra", values=extra[1])
    message: str = err.message
    return message.render(lang) if isinstance(message, i18n.Message) else message


def current_language() -> str:
    """The language of the command line being run (its ``--lang``, else the locale's)."""
    ctx = click.get_current_context(silent=True)
    found = ctx.meta.get("pipeline_rules.lang") if ctx is not None else None
    return str(found) if found else i18n.detect()


def fail(message: str) -> NoReturn:
    """Say what is wrong on stderr and exit 2."""
    click.echo(i18n.render("cli.error", {"message": message}, current_language()), err=True)
    sys.exit(EXIT_USAGE)


def output_failed(err: OSError) -> bool:
    """Whether ``err`` says the output can take no more: a reader gone away or a full disk."""
    return isinstance(err, BrokenPipeError) or err.errno in _WRITE_ERRORS


def stop_writing(err: OSError) -> NoReturn:
    """End a command whose output failed: quietly with :data:`EXIT_CLOSED_PIPE` when the reader
    went away (as Unix tools do), else with one line on stderr and exit 2. Stdout is pointed
    at the null device first, so nothing left in its buffer fails again at exit."""
    with_devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        with contextlib.suppress(OSError, ValueError):  # not a file: a test runner's capture
            os.dup2(with_devnull, sys.stdout.fileno())
    finally:
        os.close(with_devnull)
    if isinstance(err, BrokenPipeError):
        sys.exit(EXIT_CLOSED_PIPE)
    with contextlib.suppress(OSError):  # if stderr cannot take it either, the status says it
        click.echo(f"pipeline-rules: error: cannot write the output: "
                   f"{err.strerror or err}", err=True)
    sys.exit(EXIT_USAGE)


def load_compiled(path: str, lang: str) -> CompiledRuleset:
    """Load and compile a ruleset file for use, or explain on stderr why not and exit 2."""
    from pipeline_rules.ruleset.catalog import load_file

    return usable(path, lambda: load_file(path, lang)).only()


def load_versioned(path: str, lang: str, base: str | None = None
                   ) -> tuple[CompiledRuleset, Versions | None]:
    """A ruleset file, a versions folder (its latest version and all its versions), or one
    version of a folder as ``FOLDER@REVISION`` (``@REVISION``: of the folder ``base``); explain
    on stderr why not and exit 2."""
    from pathlib import Path

    if "@" in path and not Path(path).exists():
        folder, revision = path.rsplit("@", 1)
        folder = folder or base or ""
        if not folder:
            fail(f"{path}: name the versions folder before '@'")
        versions = _versions(folder, lang)
        named = versions.named(revision)
        if named is None:
            known = ", ".join(str(c.revision) for c in versions.entries)
            fail(f"{path}: {folder} has no revision '{revision}' (it has {known})")
        return named, None
    if Path(path).is_dir():
        versions = _versions(path, lang)
        return versions.latest, versions
    return load_compiled(path, lang), None


def _versions(folder: str, lang: str) -> Versions:
    from pipeline_rules.ruleset.catalog import CatalogError, RulesetError, load_versions

    try:
        return load_versions(folder, lang)
    except CatalogError as err:
        fail(str(err))
    except RulesetError as err:
        from pipeline_rules.outputs.lint import LintReport, text

        click.echo(text(LintReport(err.diagnostics, [folder])), err=True, nl=False)
        fail(f"{folder}: its versions cannot be used; see above, or run "
             f"'pipeline-rules lint {folder}'")


def load_rulesets(path: str, lang: str) -> Catalog:
    """The rulesets of a run: a usable ruleset file, or a directory of rulesets (whose unusable
    files are the run's to report); explain on stderr why not and exit 2."""
    from pipeline_rules.ruleset.catalog import load_catalog

    return usable(path, lambda: load_catalog(path, lang))


def usable(path: str, load: Callable[[], Catalog]) -> Catalog:
    """The catalog ``load`` reads; exit 2 if it cannot be read, or if it is one ruleset file
    that cannot be used (its errors on stderr, as lint shows them)."""
    from pipeline_rules.ruleset.catalog import CatalogError, RulesetError
    from pipeline_rules.ruleset.loader import ReadError

    try:
        catalog = load()
        if catalog.single:
            catalog.only()
    except ReadError as err:
        fail(err.said(current_language()))
    except CatalogError as err:
        fail(str(err))
    except RulesetError as err:
        from pipeline_rules.outputs.lint import LintReport, text

        click.echo(text(LintReport(err.diagnostics, [path])), err=True, nl=False)
        fail(f"{path}: the ruleset has errors; see above, or run 'pipeline-rules lint {path}'")
    return catalog


def parse_now_option(value: str | None, compiled: CompiledRuleset,
                     option: str = "--now") -> datetime:
    """The time an option gives (default: now), read in the ruleset's zone; a usage error if
    it does not parse."""
    return now_option(value, compiled.zone, option)


def now_option(value: str | None, zone: tzinfo, option: str = "--now") -> datetime:
    """The time an option gives (default: now), without an offset read in ``zone``; a usage
    error if it is not a time :func:`~pipeline_rules.time.now.parse_now` accepts."""
    from pipeline_rules.time.now import NowError, parse_now

    try:
        return parse_now(value, zone, option)
    except NowError as err:
        raise click.BadParameter(err.message, param_hint=option) from None


def need_extra(module: str, extra: str) -> None:
    """Exit 2 naming the extra to install when an optional dependency is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        fail(f"this needs the '{extra}' extra ({module} is missing): "
              f"pip install 'pipeline-rules[{extra}]'")


def input_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options every command that reads deals takes."""
    for option in reversed([
        click.option("--input-format", type=click.Choice(["auto", "jsonl", "json", "csv"]),
                     default="auto", show_default=True,
                     help="Format of DEALS (auto: by extension)."),
        click.option("--mapping", type=click.Path(dir_okay=False),
                     help="Mapping file for CSV input (change log or wide table; "
                          "docs/input.md)."),
    ]):
        command = option(command)
    return command


def records(deals: str, input_format: str, mapping: str | None,
             compiled: CompiledRuleset) -> Iterator[Any]:
    from pipeline_rules.deals.readers import InputError, read_records
    from pipeline_rules.ruleset.loader import ReadError

    notes: list[str] = []
    try:
        yield from read_records(deals, input_format, mapping, compiled.zone, raw=True,
                                notes=notes)
    except (InputError, ReadError) as err:
        fail(err.said(current_language()))
    show_notes(notes)


def show_notes(notes: list[str]) -> None:
    """What the reader said about the whole input, one line each on stderr."""
    lang = current_language()
    for note in notes:
        said = note.said(lang) if hasattr(note, "said") else note
        click.echo(i18n.render("cli.note", {"message": said}, lang), err=True)


def show_report(fmt: str, as_dict: Callable[[], dict[str, Any]], as_text: Callable[[], str],
          html_file: str | None, page: Callable[[Callable[..., str]], str]) -> None:
    """An analysis or backtest out: JSON or text on stdout, and the HTML page if asked."""
    import json

    if fmt == "json":
        click.echo(json.dumps(as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(as_text(), nl=False)
    if html_file:
        from pipeline_rules.outputs.html import render_html

        write_html(html_file, page(render_html))


def write_html(path: str, page: str) -> None:
    """The page into ``path``, complete or not at all (a temporary renamed when written)."""
    from pipeline_rules.outputs.files import atomic_output

    try:
        with atomic_output(path) as temporary, open(temporary, "w", encoding="utf-8") as out:
            out.write(page)
    except OSError as err:
        fail(f"{path}: {err.strerror or err}")
    click.echo(i18n.render("cli.wrote", {"path": path}, current_language()), err=True)

