"""Message catalogs: Russian covers English, with the same placeholders."""

from __future__ import annotations

import string

from pipeline_rules import i18n


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_catalogs_have_the_same_keys_and_placeholders() -> None:
    en, ru = i18n.catalog("en"), i18n.catalog("ru")
    assert set(en) == set(ru)
    for key, template in en.items():
        assert fields(template) == fields(ru[key]), key


def test_render_and_fallbacks() -> None:
    assert i18n.render("unknown-stage", {"name": "x"}, "ru") == "этап 'x' не объявлен"
    assert i18n.render("unknown-stage", {"name": "x"}, "de") == "no stage 'x' is declared"
    assert i18n.render("no.such.key", {}, "en") == "no.such.key"
    assert i18n.render("schema.type", {"expected": i18n.Term(("type.array", "type.string")),
                                       "found": i18n.Term(("type.object",))}, "ru") == (
        "ожидается список или текст, а здесь словарь (ключ: значение)")


def test_language_detection() -> None:
    assert i18n.detect({"LANG": "ru_RU.UTF-8"}) == "ru"
    assert i18n.detect({"LC_ALL": "en_US.UTF-8", "LANG": "ru_RU.UTF-8"}) == "en"
    assert i18n.detect({"LANG": "de_DE.UTF-8"}) == "en"
    assert i18n.detect({}) == "en"
