"""Message catalogs (English and Russian): every user-facing message is a key plus arguments.

Catalogs live in ``pipeline_rules/messages/<lang>.json`` as ``{key: template}``; templates use
``str.format`` fields. A key missing from a language falls back to English, so a new message never
shows up as a bare key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

LANGUAGES = ("en", "ru")
DEFAULT = "en"


@cache
def catalog(lang: str) -> Mapping[str, str]:
    """The message catalog of one language."""
    # A plain path, not importlib.resources: the package is always installed as files, and
    # importlib.resources costs ~8 ms at start-up.
    text = (Path(__file__).parent / "messages" / f"{lang}.json").read_text("utf-8")
    loaded: dict[str, str] = json.loads(text)
    return loaded


@dataclass(frozen=True)
class Term:
    """An argument that is itself translated: catalog keys, joined by the word for "or"."""

    keys: tuple[str, ...]

    def render(self, lang: str) -> str:
        """The terms in ``lang``."""
        return f" {_template('or', lang)} ".join(_template(k, lang) for k in self.keys)


@dataclass(frozen=True)
class Choices:
    """An argument that is itself messages (catalog keys with their arguments), joined by the
    word for "or"."""

    parts: tuple[tuple[str, Mapping[str, object]], ...]

    def render(self, lang: str) -> str:
        """The messages in ``lang``."""
        return f" {_template('or', lang)} ".join(render(k, a, lang) for k, a in self.parts)


_TEMPLATES: dict[tuple[str, str], str] = {}


def _template(key: str, lang: str) -> str:
    found = _TEMPLATES.get((key, lang))
    if found is None:
        template = catalog(lang).get(key) if lang in LANGUAGES else None
        found = template if template is not None else catalog(DEFAULT).get(key, key)
        if len(_TEMPLATES) < 4096:  # catalog keys × languages; never grows past that
            _TEMPLATES[key, lang] = found
    return found


def render(key: str, args: Mapping[str, object], lang: str = DEFAULT) -> str:
    """Render message ``key`` with ``args`` in ``lang``."""
    template = _template(key, lang)
    # Most messages have no translated terms: format them straight from ``args`` (the
    # evaluator renders one per finding, hundreds of thousands a run).
    values = args
    for value in args.values():
        if isinstance(value, (Term, Choices)):
            values = {k: v.render(lang) if isinstance(v, (Term, Choices)) else v
                      for k, v in args.items()}
            break
    try:
        return template.format_map(values)
    except (KeyError, IndexError, ValueError):
        # A catalog/arguments mismatch must not hide the problem being reported.
        return f"{template} {dict(args)}"


def plural(count: int, key: str, lang: str = DEFAULT) -> str:
    """``count`` and the noun ``key`` in the form the number takes (``plural.<key>`` holds the
    forms joined by ``|``: English one|other, Russian one|few|many)."""
    forms = _template(f"plural.{key}", lang).split("|")
    if lang == "ru" and len(forms) == 3:
        tens, units = count % 100, count % 10
        form = forms[0] if units == 1 and tens != 11 else \
            forms[1] if 2 <= units <= 4 and not 12 <= tens <= 14 else forms[2]
    else:
        form = forms[0] if count == 1 else forms[-1]
    return f"{count:,}".replace(",", "\u00a0" if lang == "ru" else ",") + " " + form


def detect(environ: Mapping[str, str] | None = None) -> str:
    """The language the user's locale asks for, if we have it; English otherwise."""
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = env.get(name, "")
        if value:
            lang = value.split(":")[0].split("_")[0].split(".")[0].lower()
            return lang if lang in LANGUAGES else DEFAULT
    return DEFAULT
