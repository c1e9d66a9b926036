"""A service's reason for refusing something, in the reader's language.

The services say why in English (``Problem.reason``: "must be 1 to 24"), for logs, the CLI and
the API's problem details. A page in Chinese shows the reason from the catalog
``data/locale/<language>/LC_MESSAGES/problems.po``, whose msgids are the services' reasons as
the code writes them, with ``{0}``, ``{1}``... where the code puts a value (an id, a date, a
list of codes). A reason is matched against each msgid as a pattern, most specific first, and
the values it carries are put into the translation.

A reason no entry matches (one passed on from a library, say) is not shown in English on a
Chinese page: the page says plainly that it was not done and what to do next.
``tests/web/test_problem_texts.py`` finds every reason the code can give and checks that the
catalog has it, so a new reason without a translation fails the suite.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

from babel.messages.pofile import read_po

CATALOG = "problems.po"
PLACEHOLDER = re.compile(r"\{(\d+)\}")

# When no entry matches: what the page says instead of the English it cannot translate.
UNMATCHED = {
    "zh-CN": "系统未能办理这项操作，请核对填写的内容后重试；如仍不成功，请联系客服。",
}


def _pattern(msgid: str) -> re.Pattern[str]:
    """The msgid as a regular expression: its words literally, each placeholder any text."""
    parts = PLACEHOLDER.split(msgid)
    literal, numbers = parts[0::2], parts[1::2]
    body = re.escape(literal[0])
    for number, text in zip(numbers, literal[1:], strict=True):
        body += f"(?P<v{number}>.+?)" + re.escape(text)
    return re.compile(body, re.DOTALL)


def catalog(language: str) -> dict[str, str]:
    """The msgid → translation pairs of a language's problems catalog ({} when it has none:
    English reads the reasons as written)."""
    path = resources.files("arrears") / "data" / "locale" / language / "LC_MESSAGES" / CATALOG
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        read = read_po(fh, locale=language.replace("-", "_"), domain="problems")
    return {
        m.id: m.string
        for m in read
        if isinstance(m.id, str) and m.id and isinstance(m.string, str) and m.string
    }


@functools.cache
def _patterns(language: str) -> tuple[tuple[re.Pattern[str], str], ...]:
    # Most literal text first: "already ended on {0}" before "already {0}".
    found = sorted(catalog(language).items(), key=lambda kv: -len(PLACEHOLDER.sub("", kv[0])))
    return tuple((_pattern(msgid), text) for msgid, text in found)


def _filled(text: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda p: values[f"v{p.group(1)}"], text)


def problem_text(language: str, reason: str) -> str:
    """``reason`` as a reader of ``language`` should read it."""
    patterns = _patterns(language)
    if not patterns:
        return reason
    for pattern, text in patterns:
        m = pattern.fullmatch(reason)
        if m is not None:
            return _filled(text, m.groupdict())
    return UNMATCHED.get(language, reason)
