"""A borrower's rights, generated from the rule pack's own rules and limits."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from typer.testing import CliRunner

from arrears.cli.main import app
from arrears.core.borrower.rights import parse_rights, rights_for
from arrears.core.compliance.pack import Rule
from arrears.core.compliance.packs import PACKS
from arrears.services.rights import borrower_rights, default_rights_data, pack_rights
from arrears.store.profile_tables import borrower_profiles
from contact.test_cases_support import overdue_loans
from factories import refused, succeeded


@pytest.mark.parametrize("pack_id", sorted(PACKS))
@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_every_rule_of_the_pack_is_one_right(pack_id: str, language: str) -> None:
    rights = succeeded(pack_rights(pack_id, language))
    listed = [r.rule for s in rights.sections for r in s.rights]
    assert sorted(listed) == sorted(r.id for r in PACKS[pack_id].rules)
    sources = {r.id: r.source for r in PACKS[pack_id].rules}
    for section in rights.sections:
        for right in section.rights:
            assert right.source == sources[right.rule]
            assert "{" not in right.text and "}" not in right.text, right.text
            if language == "zh-CN":
                assert re.search(r"[\u4e00-\u9fff]", right.text), right.text


def test_the_numbers_are_the_packs_own() -> None:
    # REFERENCES.md: CN at most 3 connected conversations a day and no contact 22:00-08:00;
    # Reg F 1006.14(b)(2): 7 calls in 7 days; CONC (our pack): 08:00-21:00.
    def text(pack_id: str, rule_id: str, language: str = "en") -> str:
        rights = succeeded(pack_rights(pack_id, language))
        return next(r.text for s in rights.sections for r in s.rights if r.rule == rule_id)

    assert "at most 3 times a day" in text("cn", "cn.daily-conversations")
    assert "最多 3 次" in text("cn", "cn.daily-conversations", "zh-CN")
    assert "between 22:00 and 08:00" in text("cn", "cn.hours")
    assert "at most 7 times in any 7 days" in text("us-reg-f", "us.calls-7-in-7")
    assert "between 21:00 and 08:00" in text("uk-conc", "uk.hours")
    # A pack with another limit says the other number: the text is generated, not written.
    cn = PACKS["cn"]
    tighter = dataclasses.replace(cn, limits=dataclasses.replace(cn.limits, day_end=None))
    problem = refused(rights_for(tighter, default_rights_data(), "en", "L", "1"))
    assert (problem.record, problem.field) == ("rule cn.hours", "day_end")
    two = dataclasses.replace(
        cn, limits=dataclasses.replace(cn.limits, max_conversations_per_day=2)
    )
    rights = succeeded(rights_for(two, default_rights_data(), "en", "L", "1"))
    assert any("at most 2 times a day" in r.text for s in rights.sections for r in s.rights)


def test_a_rule_without_a_borrower_sentence_is_refused() -> None:
    cn = PACKS["cn"]
    new = Rule("cn.brand-new", "somewhere", "Something.", cn.rules[0].evaluate)
    problem = refused(
        rights_for(
            dataclasses.replace(cn, rules=(*cn.rules, new)), default_rights_data(), "en", "L", "1"
        )
    )
    assert (problem.record, problem.field) == ("rule cn.brand-new", "kind")


def test_where_to_complain_starts_with_the_lender() -> None:
    cn = succeeded(pack_rights("cn", "zh-CN"))
    assert "400-000-0000" in cn.complain[0] and "安心示范消费金融" in cn.complain[0]
    assert any("12378" in line for line in cn.complain)
    assert any("12363" in line for line in cn.complain)
    assert any("12348" in line for line in cn.help)
    us = succeeded(pack_rights("us-reg-f", "en"))
    assert any("consumerfinance.gov/complaint" in line for line in us.complain)
    uk = succeeded(pack_rights("uk-conc", "en"))
    assert any("Financial Ombudsman Service" in line for line in uk.complain)
    assert any("MoneyHelper" in line for line in uk.help)


def test_bad_requests_and_data_are_named() -> None:
    assert refused(pack_rights("xx", "en")).field == "pack"
    assert refused(pack_rights("cn", "fr")).field == "language"
    problems = parse_rights(
        {"groups": {"when": {"en": "When"}}, "kinds": {"hours": {"group": "nowhere", "en": "x"}}},
        {"cn": [{"kind": "gossip", "en": "x", "zh-CN": "y"}]},
        "rights.yaml",
    )[1]
    named = {(p.record, p.field) for p in problems}
    assert ("rights.yaml groups.when", "zh-CN") in named
    assert ("rights.yaml kinds.hours", "group") in named
    assert ("rights.yaml help.cn[0]", "kind") in named


def test_a_borrowers_own_pack_and_language(engine: Engine, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["L1"])
    with engine.begin() as conn:
        conn.execute(
            update(borrower_profiles)
            .where(borrower_profiles.c.borrower_id == "B-L1")
            .values(rule_pack="uk-conc", language="en")
        )
    with engine.connect() as conn:
        own = succeeded(borrower_rights(conn, "B-L1"))
        assert (own.pack, own.language) == ("uk-conc", "en")
        assert succeeded(borrower_rights(conn, "B-L1", "zh-CN")).language == "zh-CN"
        assert refused(borrower_rights(conn, "NOPE")).code == "not_found"


def test_cli(engine: Engine, db_url: str, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["L1"])
    db = db_url
    runner = CliRunner()
    out = runner.invoke(app, ["borrower", "rights", "B-L1", "--db", db, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["pack"] == "cn" and data["language"] == "zh-CN"
    assert data["sections"][0]["heading"] == "我们什么时候、多久可以联系您"
    text = runner.invoke(app, ["borrower", "rights", "--pack", "uk-conc", "--language", "en"])
    assert "Financial Ombudsman Service" in text.output
    both = runner.invoke(app, ["borrower", "rights", "B-L1", "--pack", "cn", "--db", db])
    assert both.exit_code == 2
