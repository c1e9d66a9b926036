"""Reading the texts: the Jinja2 template files of a text set and the gettext catalogs.

``text_set("messages")`` reads ``arrears/data/templates/messages/<language>/*.j2`` and each
language's ``arrears/data/locale/<language>/LC_MESSAGES/arrears.po`` (Babel's reader: the
catalogs are used as written, no compile step) into an ``arrears.core.texts.TextSet``, once per
process. The web pages will be another set under ``data/templates``, read the same way.
"""

from __future__ import annotations

import functools
from importlib import resources
from importlib.resources.abc import Traversable

from babel.messages.pofile import read_po

from arrears.core.contact.templates import LANGUAGES, TEXT_SET
from arrears.core.texts import TEMPLATE_SUFFIX, TextSet

DOMAIN = "arrears"


def _data() -> Traversable:
    return resources.files("arrears") / "data"


def read_catalog(language: str) -> dict[str, str]:
    """msgid -> translation in ``language`` (the header and untranslated entries left out)."""
    path = _data() / "locale" / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language.replace("-", "_"), domain=DOMAIN)
    return {
        m.id: m.string
        for m in catalog
        if isinstance(m.id, str) and m.id and isinstance(m.string, str) and m.string
    }


def read_catalog_ids(language: str) -> list[str]:
    """Every msgid of ``language``'s catalog, translated or not (for the completeness check)."""
    path = _data() / "locale" / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language.replace("-", "_"), domain=DOMAIN)
    return [m.id for m in catalog if m.id and isinstance(m.id, str)]


def read_sources(name: str, language: str) -> dict[str, str]:
    """File name -> source of every template (and partial) of set ``name`` in ``language``."""
    folder = _data() / "templates" / name / language
    return {
        f.name: f.read_text(encoding="utf-8")
        for f in folder.iterdir()
        if f.is_file() and f.name.endswith(TEMPLATE_SUFFIX)
    }


@functools.cache
def text_set(
    name: str, languages: tuple[str, ...] = LANGUAGES, autoescape: bool = False
) -> TextSet:
    """The text set ``name`` in ``languages``, read once per process (``autoescape`` for
    HTML)."""
    return TextSet(
        name,
        {language: read_sources(name, language) for language in languages},
        {language: read_catalog(language) for language in languages},
        autoescape=autoescape,
    )


def message_texts() -> TextSet:
    """The borrower's messages."""
    return text_set(TEXT_SET)


def report_texts() -> TextSet:
    """The HTML reports (``data/templates/reports``)."""
    return text_set("reports", autoescape=True)


def report_css() -> str:
    """The reports' one stylesheet (``data/templates/reports/report.css``), inlined in each
    page so that a report is one file."""
    return (_data() / "templates" / "reports" / "report.css").read_text(encoding="utf-8")
