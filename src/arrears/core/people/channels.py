"""Is this phone number or repayment account one of the lender's own? Pure.

The scams aimed at borrowers in arrears ask them to pay a personal account, to call back a
number, or to pay a fee to "negotiate" or "repair credit". The lender publishes its official
numbers and accounts (a lender setting); a number or account is official only if, written the
way we compare them, it is on that list.

Phone numbers are compared in China's domestic form: separators (spaces, dashes, dots,
brackets) are dropped; the country code (+86, 0086, or 86 before an 11-digit mobile number) is
removed; a landline given internationally (+86 10 ...) gets back its trunk 0 (010 ...). Other
countries' numbers keep their + and digits. Accounts (bank card numbers, payee ids) are compared
without spaces and dashes and without regard to case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from arrears.core.problem import Problem, Result, fail, ok

_SEPARATORS = re.compile(r"[\s\-.()（）]")
_DIGITS = re.compile(r"\+?[0-9]{3,20}")
_MOBILE = re.compile(r"1[0-9]{10}")
# Numbers dialled in China without a trunk 0: service lines (95xxx, 96xxx, 400/800) and mobiles.
_NO_TRUNK = re.compile(r"(1[0-9]{10}|9[56][0-9]{3,6}|[48]00[0-9]{7})")
_ACCOUNT_SEPARATORS = re.compile(r"[\s\-]")
_ACCOUNT = re.compile(r"[0-9A-Za-z@_+.]{4,64}")


def normalise_phone(text: str, record: str = "phone") -> Result[str]:
    number = _SEPARATORS.sub("", text)
    if not _DIGITS.fullmatch(number):
        return fail(Problem(record, "phone", f"{text!r} is not a phone number (3-20 digits)"))
    for prefix in ("+86", "0086"):
        if number.startswith(prefix):
            rest = number[len(prefix) :]
            return ok(rest if _NO_TRUNK.fullmatch(rest) else "0" + rest.lstrip("0"))
    if number.startswith("86") and len(number) == 13 and _MOBILE.fullmatch(number[2:]):
        return ok(number[2:])
    if number.startswith("00"):
        return ok("+" + number[2:])
    return ok(number)


def normalise_account(text: str, record: str = "account") -> Result[str]:
    account = _ACCOUNT_SEPARATORS.sub("", text)
    if not _ACCOUNT.fullmatch(account):
        return fail(Problem(record, "account", f"{text!r} is not an account number or payee id"))
    return ok(account.casefold())


@dataclass(frozen=True, slots=True)
class OfficialChannels:
    """The lender's official numbers and accounts, each in the form we compare."""

    phones: frozenset[str]
    accounts: frozenset[str]


def official_channels(phones: Iterable[str], accounts: Iterable[str]) -> Result[OfficialChannels]:
    """Build the list from a setting's values, each checked and normalised."""
    problems: list[Problem] = []
    norm_phones: set[str] = set()
    norm_accounts: set[str] = set()
    for i, phone in enumerate(phones):
        value, found = normalise_phone(phone, f"lender.official_channels.phones[{i}]")
        problems.extend(found)
        if value is not None:
            norm_phones.add(value)
    for i, account in enumerate(accounts):
        value, found = normalise_account(account, f"lender.official_channels.accounts[{i}]")
        problems.extend(found)
        if value is not None:
            norm_accounts.add(value)
    if problems:
        return fail(*problems)
    return ok(OfficialChannels(frozenset(norm_phones), frozenset(norm_accounts)))


def is_official_phone(channels: OfficialChannels, normalised: str) -> bool:
    return normalised in channels.phones


def is_official_account(channels: OfficialChannels, normalised: str) -> bool:
    return normalised in channels.accounts
