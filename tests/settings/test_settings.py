"""The lender's settings file: the bundled default, where it is read from, and every bad path
named by its key (issue 15, "settings a lender edits")."""

from __future__ import annotations

import copy
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from arrears.cli.main import app
from arrears.core.lender.settings import parse_settings
from arrears.core.problem import Problem
from arrears.services.settings import ENV, load_settings, parse_text

BUNDLED_TEXT = (resources.files("arrears") / "data" / "lender.yaml").read_text(encoding="utf-8")


def document() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(BUNDLED_TEXT))


def problems_of(data: object) -> list[str]:
    settings, problems = parse_settings(data, "lender.yaml")
    assert settings is None and problems
    return [f"{p.field}: {p.reason}" for p in problems]


def test_the_bundled_default_is_valid_and_says_what_the_docs_say() -> None:
    settings, problems = load_settings(None)
    assert problems == [] and settings is not None
    lender = settings.lender
    assert lender.name.get("zh-CN") == "安心示范消费金融"
    assert lender.name.get("en") == "Anxin Demo Consumer Finance"
    assert lender.hotline == "400-000-0000"
    assert lender.official_channels.phones == ("400-000-0000",)
    assert settings.timezone == "Asia/Shanghai"
    assert settings.channels == ("sms", "call", "email", "visit", "letter")
    assert settings.capacity.calls_per_day == 20 * 120
    assert settings.costs.sms == Decimal("0.05") and settings.costs.visit == Decimal("150.00")
    assert settings.retention.personal_data_years == 5
    documented = Path(__file__).parents[2] / "docs" / "settings.md"
    keys = ("lender.name", "repayment_channel", "official_channels", "timezone")
    keys += ("calls_per_agent_per_day", "visits_per_region_per_day", "emergency_contact")
    keys += ("retention.personal_data_years",)
    for key in keys:
        assert key in documented.read_text(encoding="utf-8"), key


def test_a_file_given_beats_the_environment_which_beats_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = document()
    mine["lender"]["hotline"] = "95188"
    given = tmp_path / "given.yaml"
    given.write_text(yaml.safe_dump(mine, allow_unicode=True), encoding="utf-8")
    env = document()
    env["lender"]["hotline"] = "400-111-2222"
    from_env = tmp_path / "env.yaml"
    from_env.write_text(yaml.safe_dump(env, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv(ENV, str(from_env))
    settings, _ = load_settings(given)
    assert settings is not None and settings.lender.hotline == "95188"
    settings, _ = load_settings(None)
    assert settings is not None and settings.lender.hotline == "400-111-2222"
    monkeypatch.delenv(ENV)
    settings, _ = load_settings(None)
    assert settings is not None and settings.lender.hotline == "400-000-0000"


def test_a_missing_key_is_named_by_its_path() -> None:
    data = document()
    del data["lender"]["name"]["zh-CN"]
    del data["capacity"]["agents"]
    del data["timezone"]
    assert problems_of(data) == [
        "timezone: missing",
        "lender.name.zh-CN: missing",
        "capacity.agents: missing",
    ]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("capacity", "agents"), "ten", "capacity.agents: must be a whole number, got 'ten'"),
        (("capacity", "agents"), True, "capacity.agents: must be a whole number, got True"),
        (("capacity", "visits_per_region_per_day"), -1, "must not be negative, got -1"),
        (
            ("costs", "sms"),
            0.05,
            'costs.sms: must be a quoted decimal string in yuan (e.g. "0.05")',
        ),
        (("costs", "call"), "1.234", "costs.call: at most 2 decimal places (fen)"),
        (("costs", "visit"), "lots", "costs.visit: not a decimal amount: 'lots'"),
        (("costs", "email"), "-1", "costs.email: must be a non-negative amount"),
        (("lender", "name"), "安心", "lender.name: must be a mapping with keys zh-CN, en"),
        (("lender", "hotline"), 4000000000, "lender.hotline: must be text, got int"),
        (("lender", "hotline"), "call us", "lender.hotline: must be a phone number"),
        (("lender", "signature", "en"), "  ", "lender.signature.en: must not be empty"),
        (
            ("lender", "official_channels", "phones"),
            "400",
            "official_channels.phones: must be a list",
        ),
        (("timezone",), "Asia/Beijing", "timezone: not an IANA time zone: 'Asia/Beijing'"),
        (("channels",), ["sms", "pigeon"], "channels[1]: unknown channel 'pigeon'"),
        (("channels",), ["sms", "sms"], "channels[1]: sms is listed twice"),
        (("channels",), [], "channels: must be a non-empty list"),
        (("retention", "personal_data_years"), 0, "must be at least 1 year, got 0"),
        (("retention", "personal_data_years"), -2, "must not be negative, got -2"),
        (("retention", "personal_data_years"), "5", "must be a whole number, got '5'"),
        (("retention", "personal_data_years"), True, "must be a whole number, got True"),
        (("retention",), 5, "retention: must be a mapping with keys personal_data_years"),
    ],
)
def test_a_wrong_type_or_value_is_named_by_its_path(
    path: tuple[str, ...], value: object, expected: str
) -> None:
    data = document()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    found = problems_of(data)
    assert len(found) == 1 and expected in found[0], found


def test_the_retention_is_required_like_every_other_key() -> None:
    data = document()
    del data["retention"]
    assert problems_of(data) == ["retention: missing"]
    data = document()
    data["retention"]["personal_data_years"] = 7
    settings, problems = parse_settings(data)
    assert problems == [] and settings is not None
    assert settings.retention.personal_data_years == 7


def test_an_unknown_key_is_refused_at_every_level() -> None:
    data = document()
    data["lender"]["colour"] = "blue"
    data["costs"]["fax"] = "1.00"
    data["currency"] = "CNY"
    assert problems_of(data) == [
        "currency: unknown key; expected one of lender, timezone, channels, capacity, costs, "
        "retention",
        "lender.colour: unknown key; expected one of name, signature, hotline, "
        "repayment_channel, mailing_address, official_channels",
        "costs.fax: unknown key; expected one of sms, call, email, emergency_contact, visit",
    ]


def test_latin_letters_in_a_chinese_value_are_the_lenders_choice() -> None:
    data = document()
    data["lender"]["name"]["zh-CN"] = "ABC消费金融"
    data["lender"]["repayment_channel"]["zh-CN"] = "ABC App“我的 > 还款”"
    settings, problems = parse_settings(data)
    assert problems == [] and settings is not None
    assert settings.lender.name.get("zh-CN") == "ABC消费金融"


def test_bad_yaml_a_repeated_key_and_no_file(tmp_path: Path) -> None:
    settings, problems = parse_text("lender: [unclosed", "x.yaml")
    assert settings is None and problems[0].record == "x.yaml"
    assert "not valid YAML" in problems[0].reason
    twice = BUNDLED_TEXT.replace(
        "timezone: Asia/Shanghai", "timezone: Asia/Shanghai\ntimezone: UTC"
    )
    settings, problems = parse_text(twice, "x.yaml")
    assert settings is None and "key 'timezone' is given twice" in problems[0].reason
    settings, problems = load_settings(tmp_path / "none.yaml")
    assert settings is None
    assert problems == [
        Problem(str(tmp_path / "none.yaml"), "", "settings file not found", "not_found")
    ]
    assert problems_of(None) == [
        "(top): must be a mapping with keys lender, timezone, channels, capacity, costs, retention"
    ]


def test_a_bad_file_stops_the_close_with_exit_2_naming_the_key(tmp_path: Path) -> None:
    data = document()
    del data["lender"]["repayment_channel"]["en"]
    bad = tmp_path / "lender.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'a.db'}"
    runner = CliRunner()
    for command in (
        ["close-day", "--through", "2026-01-05"],
        ["outbox", "dispatch"],
        ["simulate", "--days", "1", "--start", "2026-01-05"],
    ):
        res = runner.invoke(app, [*command, "--db", db, "--settings", str(bad)])
        assert res.exit_code == 2, (command, res.output)
        assert res.stderr.strip() == f"error: {bad}: lender.repayment_channel.en: missing"
