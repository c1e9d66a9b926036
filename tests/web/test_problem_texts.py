"""A service's reasons, shown on a Chinese page, are Chinese: every reason the code can give
(found here by reading the source, not by asking the catalog) has a translation that carries
the same values, and a reason nothing matches is never shown in English."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import arrears
from arrears.web.problem_texts import PLACEHOLDER, UNMATCHED, catalog, problem_text

SOURCE = Path(arrears.__file__).parent
# Where reasons are made: the services, the domain, and the two faces that add their own.
MADE_IN = ("services", "core", "store", "api", "web")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _template(node: ast.expr) -> str | None:
    """A reason as the catalog writes it: an f-string's values as {0}, {1}, ... in order; None
    for a reason that is a variable (passed on from elsewhere)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        out, n = [], 0
        for part in node.values:
            if isinstance(part, ast.Constant):
                out.append(str(part.value))
            else:
                out.append("{" + str(n) + "}")
                n += 1
        return "".join(out)
    return None


def _reasons() -> dict[str, str]:
    """Every reason given to ``Problem(record, field, reason)`` or ``not_found(record,
    reason)``, with where it is made."""
    found: dict[str, str] = {}
    for folder in MADE_IN:
        for path in sorted((SOURCE / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", getattr(node.func, "attr", None))
                reason: ast.expr | None = None
                if name == "Problem":
                    given = [k.value for k in node.keywords if k.arg == "reason"]
                    reason = node.args[2] if len(node.args) > 2 else (given or [None])[0]
                elif name == "not_found" and len(node.args) > 1 and folder != "api":
                    # core.problem.not_found(record, reason); the API's own is (record, field)
                    reason = node.args[1]
                text = _template(reason) if reason is not None else None
                if text is not None:
                    found.setdefault(text, f"{path.relative_to(SOURCE)}:{node.lineno}")
    return found


def test_the_source_gives_reasons_to_find() -> None:
    """The finder works: reasons known to be in the code are among those it finds."""
    reasons = _reasons()
    assert len(reasons) > 150
    assert "already used for a different request" in reasons  # api/idempotency.py
    assert "already ended on {0}" in reasons  # an f-string, services/moratoria.py


def test_every_reason_the_code_gives_is_in_chinese() -> None:
    zh = catalog("zh-CN")
    missing = sorted(
        f"{where}: {reason!r}" for reason, where in _reasons().items() if not zh.get(reason)
    )
    assert not missing, "no zh-CN translation in problems.po:\n" + "\n".join(missing)


def test_the_catalog_holds_no_reason_the_code_no_longer_gives() -> None:
    stale = sorted(set(catalog("zh-CN")) - set(_reasons()))
    assert not stale, f"problems.po entries no code gives: {stale}"


def test_each_translation_is_chinese_and_carries_the_same_values() -> None:
    for msgid, text in catalog("zh-CN").items():
        assert CJK.search(text), f"{msgid!r}: {text!r} is not Chinese"
        assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(msgid)), msgid


def test_a_reason_is_translated_with_its_values() -> None:
    said = problem_text("zh-CN", "already used for a payment of 30000 fen to loan L7 on 2026-03-01")
    assert CJK.search(said)
    assert "30000" in said and "L7" in said and "2026-03-01" in said
    assert "already" not in said


def test_the_most_specific_entry_wins() -> None:
    """'already ended on {0}' and 'already {0}' both match; the first says more."""
    zh = catalog("zh-CN")
    said = problem_text("zh-CN", "already ended on 2026-05-31")
    assert said == zh["already ended on {0}"].replace("{0}", "2026-05-31")
    assert said != zh["already {0}"].replace("{0}", "ended on 2026-05-31")


def test_a_reason_nothing_matches_is_not_shown_in_english() -> None:
    said = problem_text("zh-CN", "Connection reset by peer (errno 104)")
    assert said == UNMATCHED["zh-CN"]
    assert not re.search("[A-Za-z]", said)


@pytest.mark.parametrize("reason", ["already ended on 2026-05-31", "anything at all"])
def test_english_reads_the_reason_as_written(reason: str) -> None:
    assert problem_text("en", reason) == reason
