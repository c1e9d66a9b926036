"""The web pages' texts: one Jinja2 template per page, the same in every language, whose words
are gettext messages (``_("What you owe")``) looked up when the template compiles.

The pages are a text set like the borrower's messages (``arrears.core.texts``), with two
differences: a page's structure does not change with the language, so one template serves
both (``data/templates/web/*.j2``), and its words come from the web catalogs
(``data/locale/<language>/LC_MESSAGES/web*.po``: ``web.po`` for the frame, one file per group
of pages). A msgid missing from a language's catalog fails the page's compile, so no page
can show an untranslated key; ``tests/web/test_catalogs.py`` checks every page in every
language.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable

import jinja2
from babel.messages.pofile import read_po

from arrears.core.contact.templates import LANGUAGES
from arrears.core.texts import TEMPLATE_SUFFIX, TextSet, environment
from arrears.web.problem_texts import problem_text

DEFAULT_LANGUAGE = "zh-CN"


def _data() -> Traversable:
    return resources.files("arrears") / "data"


def _catalog(language: str) -> dict[str, str]:
    folder = _data() / "locale" / language / "LC_MESSAGES"
    found: dict[str, str] = {}
    for f in sorted(folder.iterdir(), key=lambda f: f.name):
        if not (f.name.startswith("web") and f.name.endswith(".po")):
            continue
        with f.open("rb") as fh:
            catalog = read_po(fh, locale=language.replace("-", "_"), domain=f.name[:-3])
        for m in catalog:
            if isinstance(m.id, str) and m.id and isinstance(m.string, str) and m.string:
                if m.id in found and found[m.id] != m.string:
                    raise ValueError(f"{f.name} ({language}): {m.id!r} translated twice, apart")
                found[m.id] = m.string
    return found


def _sources() -> dict[str, str]:
    folder = _data() / "templates" / "web"
    return {
        f.name: f.read_text(encoding="utf-8")
        for f in folder.iterdir()
        if f.is_file() and f.name.endswith(TEMPLATE_SUFFIX)
    }


@functools.cache
def web_texts() -> TextSet:
    sources = _sources()
    return TextSet(
        "web",
        {language: sources for language in LANGUAGES},
        {language: _catalog(language) for language in LANGUAGES},
        autoescape=True,
    )


def page_names() -> tuple[str, ...]:
    """Every page template (partials, ``_*.j2``, left out)."""
    return web_texts().template_ids(LANGUAGES[0])


@functools.cache
def web_environment(language: str) -> jinja2.Environment:
    """The pages' Jinja environment in ``language``, with the ``said`` filter: a service's
    reason in the page's language (``web.problem_texts``)."""
    env = environment(web_texts(), language)
    env.filters["said"] = functools.partial(problem_text, language)
    return env


def render_page(name: str, language: str, context: Mapping[str, object]) -> str:
    env = web_environment(language)
    return env.get_template(name + TEMPLATE_SUFFIX).render(**context)


def static_folder() -> Traversable:
    return _data() / "web"
