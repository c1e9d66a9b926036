"""Every word a page shows is in every language's web catalog, and every page compiles in
every language: a msgid missing from a catalog is a compile error (``core.texts``), so this
catches an untranslated key before a browser would."""

from __future__ import annotations

import re

import pytest

from arrears.core.contact.templates import LANGUAGES
from arrears.web.render import page_names, web_environment, web_texts

MSGID = re.compile(r"""_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\)""")


def _used() -> set[str]:
    texts = web_texts()
    found: set[str] = set()
    for source in texts.sources[LANGUAGES[0]].values():
        for m in MSGID.finditer(source):
            found.add(m.group(1) if m.group(1) is not None else m.group(2))
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_word_on_a_page_is_translated(language: str) -> None:
    catalog = web_texts().strings[language]
    missing = sorted(_used() - set(catalog))
    assert not missing, f"{language}: not in the web catalogs: {missing}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_compiles(language: str) -> None:
    env = web_environment(language)
    names = page_names()
    assert {"my", "signin", "staff_signin", "error"} <= set(names)
    for name in names:
        env.get_template(name + ".j2")


def test_the_chinese_pages_say_nothing_in_english_the_english_ones_do() -> None:
    """A zh-CN translation that is the English msgid again is an untranslated key."""
    zh = web_texts().strings["zh-CN"]
    same = sorted(k for k, v in zh.items() if v == k and re.search("[a-z]{3}", k))
    assert not same, f"zh-CN translations still in English: {same}"
