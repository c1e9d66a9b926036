"""Texts as data: a named set of Jinja2 templates per language, and short strings per language.

A ``TextSet`` holds what the shell read from ``arrears/data/templates/<set>/<language>/*.j2``
and from the gettext catalogs ``arrears/data/locale/<language>/LC_MESSAGES/arrears.po``
(``arrears.services.texts`` reads them); this module only compiles and renders, so the core
never touches a file. The borrower's messages are one set (``messages``); the web pages will
be another, rendered the same way.

* A template is one file per template and language, ``<template_id>.j2``; files whose name
  starts with ``_`` are partials (macros) the others import, not templates of their own.
* A template's parts are top-level block assignments (``{% set subject %}...{% endset %}``,
  ``{% set body %}...{% endset %}``): one file holds every part of one text, in one language.
* Whitespace: a line holding only a tag leaves nothing behind (``trim_blocks``,
  ``lstrip_blocks``), so ``{% if %}`` and ``{% endif %}`` go on lines of their own; a line of
  text must not end with a tag, or its newline goes with the tag.
* Short strings (labels, units, channel names, page words) are gettext messages: ``_("Total")``
  in a template looks the msgid up in the language's catalog, once, when the template compiles.
  A msgid missing from the catalog is an error, not a silent fallback to English.
* Undefined variables are errors (``StrictUndefined``): a template that names a fact the
  caller did not give fails loudly instead of printing an empty string.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import jinja2
from jinja2 import meta
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream

TEMPLATE_SUFFIX = ".j2"
# Names a template may use that are not facts: the gettext lookup and Jinja's own.
GLOBALS: frozenset[str] = frozenset({"_", "range", "dict", "lipsum", "cycler", "joiner"})


class TextError(ValueError):
    """A template or string that does not exist, or one that does not compile or render."""


@dataclass(frozen=True)
class TextSet:
    """One named set of texts: template sources and short strings, by language.

    ``sources``: language -> file name (``sms_overdue.j2``, ``_common.j2``) -> Jinja2 source.
    ``strings``: language -> msgid -> translation. Plain dicts, so a set pickles to worker
    processes; compiled templates are cached per process, keyed by the set's digest.
    """

    name: str
    sources: Mapping[str, Mapping[str, str]]
    strings: Mapping[str, Mapping[str, str]]
    autoescape: bool = False  # plain text (SMS, email); a set of HTML pages turns it on
    digest: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        h = hashlib.sha256(self.name.encode())
        for part in (self.sources, self.strings):
            for language in sorted(part):
                for key, value in sorted(part[language].items()):
                    h.update(f"\0{language}\0{key}\0{value}".encode())
        object.__setattr__(self, "digest", h.hexdigest())

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self.sources))

    def template_ids(self, language: str) -> tuple[str, ...]:
        """The templates written in ``language`` (partials left out), sorted."""
        names = self.sources.get(language, {})
        return tuple(
            sorted(
                n.removesuffix(TEMPLATE_SUFFIX)
                for n in names
                if n.endswith(TEMPLATE_SUFFIX) and not n.startswith("_")
            )
        )


class _FoldGettext(Extension):
    """``_("msgid")`` becomes the translation when the template compiles: a short string is a
    constant of the language, so looking it up on every message (tens of thousands a day) is
    work done again for nothing. A msgid the catalog lacks fails the compile."""

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        lookup: Callable[[str], str] = self.environment.globals["_"]  # type: ignore[assignment]
        pending: list[Token] = []
        for token in stream:
            pending.append(token)
            kinds = [t.type for t in pending]
            if kinds == ["name", "lparen", "string", "rparen"][: len(kinds)] and (
                pending[0].value == "_"
            ):
                if len(pending) == 4:
                    try:
                        text = lookup(pending[2].value)
                    except TextError as exc:
                        raise jinja2.TemplateSyntaxError(
                            str(exc), pending[0].lineno, stream.name, stream.filename
                        ) from None
                    yield Token(pending[0].lineno, "string", text)
                    pending = []
                continue
            yield from pending
            pending = []
        yield from pending


_ENVIRONMENTS: dict[tuple[str, str], jinja2.Environment] = {}
_FIELDS: dict[tuple[str, str, str], frozenset[str]] = {}


def environment(texts: TextSet, language: str) -> jinja2.Environment:
    """The compiled templates of one language of ``texts`` (cached per process)."""
    key = (texts.digest, language)
    env = _ENVIRONMENTS.get(key)
    if env is not None:
        return env
    sources = texts.sources.get(language)
    if sources is None:
        raise TextError(
            f"text set {texts.name!r}: language {language!r} is not supported; "
            f"supported: {', '.join(texts.languages)}"
        )
    env = jinja2.Environment(
        loader=jinja2.DictLoader(dict(sources)),
        undefined=jinja2.StrictUndefined,
        autoescape=texts.autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
        extensions=[_FoldGettext],
    )
    env.globals["_"] = _gettext(texts, language)
    _ENVIRONMENTS[key] = env
    return env


def _gettext(texts: TextSet, language: str) -> Callable[[str], str]:
    catalog = texts.strings.get(language, {})

    def lookup(msgid: str) -> str:
        found = catalog.get(msgid)
        if not found:
            raise TextError(
                f"text set {texts.name!r}: no {language} translation of {msgid!r} in the catalog"
            )
        return found

    return lookup


def gettext(texts: TextSet, language: str, msgid: str) -> str:
    """A short string in ``language`` (channel names, labels): for code that is not a template."""
    return _gettext(texts, language)(msgid)


def template_fields(texts: TextSet, language: str, template_id: str) -> frozenset[str]:
    """The variables ``template_id`` reads from its context (the facts it needs), by the AST."""
    key = (texts.digest, language, template_id)
    found = _FIELDS.get(key)
    if found is None:
        env = environment(texts, language)
        source = _source(texts, language, template_id)
        try:
            tree = env.parse(source)
        except jinja2.TemplateError as exc:
            raise TextError(
                f"text set {texts.name!r}: template {template_id!r} ({language}): {exc}"
            ) from None
        found = frozenset(meta.find_undeclared_variables(tree)) - GLOBALS
        _FIELDS[key] = found
    return found


def _source(texts: TextSet, language: str, template_id: str) -> str:
    source = texts.sources.get(language, {}).get(template_id + TEMPLATE_SUFFIX)
    if source is None:
        raise TextError(
            f"text set {texts.name!r}: unknown template {template_id!r} in {language}; "
            f"known: {', '.join(texts.template_ids(language))}"
        )
    return source


def render_parts(
    texts: TextSet,
    language: str,
    template_id: str,
    context: Mapping[str, object],
    parts: tuple[str, ...],
) -> dict[str, str]:
    """The named parts of ``template_id`` rendered with ``context``.

    A part is a top-level block assignment (``{% set body %}...{% endset %}``); its leading
    and trailing newlines are dropped, so a template may put the tags on lines of their own.
    """
    env = environment(texts, language)
    _source(texts, language, template_id)  # the clear error for an unknown template
    try:
        module = env.get_template(template_id + TEMPLATE_SUFFIX).make_module(dict(context))
        values = {name: getattr(module, name, None) for name in parts}
    except jinja2.TemplateError as exc:
        raise TextError(
            f"text set {texts.name!r}: template {template_id!r} ({language}): {exc}"
        ) from None
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise TextError(
            f"text set {texts.name!r}: template {template_id!r} ({language}) does not set "
            f"{', '.join(missing)}"
        )
    return {name: str(value).strip("\n") for name, value in values.items()}


def render_page(
    texts: TextSet, language: str, template_id: str, context: Mapping[str, object]
) -> str:
    """The whole of ``template_id`` rendered with ``context`` (an HTML page or report)."""
    env = environment(texts, language)
    _source(texts, language, template_id)  # the clear error for an unknown template
    try:
        return env.get_template(template_id + TEMPLATE_SUFFIX).render(dict(context))
    except jinja2.TemplateError as exc:
        raise TextError(
            f"text set {texts.name!r}: template {template_id!r} ({language}): {exc}"
        ) from None
