"""Official numbers and accounts: the forms people write a number in all compare equal; what
is not on the lender's list is not official."""

from __future__ import annotations

import pytest

from arrears.core.people.channels import (
    is_official_account,
    is_official_phone,
    normalise_account,
    normalise_phone,
    official_channels,
)


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("+86-13800138000", "13800138000"),
        ("0086 13800138000", "13800138000"),
        ("8613800138000", "13800138000"),
        # A Beijing landline: domestically 010-..., internationally +86 10 ...
        ("010-6552 8888", "01065528888"),
        ("+86 10 6552 8888", "01065528888"),
        ("(010) 65528888", "01065528888"),
        # Service lines and 400 numbers are dialled without a trunk 0.
        ("95188", "95188"),
        ("+86 95188", "95188"),
        ("400-820-8888", "4008208888"),
        ("+86 400 820 8888", "4008208888"),
        # Another country's number keeps its country code.
        ("+44 20 7946 0000", "+442079460000"),
        ("0044 20 7946 0000", "+442079460000"),
    ],
)
def test_phone_forms(typed: str, normal: str) -> None:
    assert normalise_phone(typed) == (normal, ())


@pytest.mark.parametrize("typed", ["", "12", "call me", "138 0013 800x", "+" + "1" * 21])
def test_not_a_phone_number(typed: str) -> None:
    value, problems = normalise_phone(typed)
    assert value is None and [p.field for p in problems] == ["phone"]


def test_accounts_ignore_spaces_dashes_and_case() -> None:
    assert normalise_account("6222 0212 3456 7890") == ("6222021234567890", ())
    assert normalise_account("Pay@Lender.example") == ("pay@lender.example", ())
    assert normalise_account("ab")[0] is None  # too short to be an account
    assert normalise_account("6222 <script>")[0] is None


def test_official_lists() -> None:
    channels, problems = official_channels(["95188", "+86 400 820 8888"], ["6222-0212-3456-7890"])
    assert problems == () and channels is not None
    assert is_official_phone(channels, normalise_phone("400 820 8888")[0] or "")
    assert is_official_phone(channels, normalise_phone("95188")[0] or "")
    assert not is_official_phone(channels, normalise_phone("+86 138 0013 8000")[0] or "")
    assert is_official_account(channels, normalise_account("6222021234567890")[0] or "")
    assert not is_official_account(channels, normalise_account("6222021234567891")[0] or "")


def test_a_bad_entry_in_the_setting_is_named() -> None:
    channels, problems = official_channels(["95188", "nope"], ["x"])
    assert channels is None
    assert [(p.record, p.field) for p in problems] == [
        ("lender.official_channels.phones[1]", "phone"),
        ("lender.official_channels.accounts[0]", "account"),
    ]
