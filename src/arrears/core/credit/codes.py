"""Bureau status codes: the PBOC monthly repayment status and the Metro 2 equivalents.

PBOC (REFERENCES.md, 个人信用报告 monthly repayment status): ``N`` paid as due; ``1``-``7`` for
1-30, 31-60, ..., 151-180 and over 180 days overdue; ``*`` nothing due and nothing owed; ``C``
settled; ``G`` closed abnormally (here: written off); ``D`` paid by a guarantor; ``Z`` settled
with assets; ``#`` unknown. Metro 2 codes follow the CDIA Credit Reporting Resource Guide (see
docs/credit.md for the field-by-field reading).
"""

from __future__ import annotations

from typing import Final, Literal

Code = Literal["N", "1", "2", "3", "4", "5", "6", "7", "*", "C", "G", "D", "Z", "#"]
CODES: Final = ("N", "1", "2", "3", "4", "5", "6", "7", "*", "C", "G", "D", "Z", "#")
OVERDUE: Final = frozenset("1234567")
CLOSING: Final = frozenset("CGDZ")
# Negative information (不良信息): arrears, an abnormal close, a debt others had to settle.
NEGATIVE: Final = OVERDUE | {"G", "D", "Z"}
# A month reading one of these ends a run of negative conduct (the arrears were cleared).
CONDUCT_ENDS: Final = frozenset({"N", "*", "C", "D", "Z"})

SettlementKind = Literal["guarantor", "assets"]
SETTLEMENT_CODES: Final[dict[str, Code]] = {"guarantor": "D", "assets": "Z"}


def overdue_code(dpd: int) -> Code:
    """``1`` for 0-30 days (0: unpaid at the end of the due date itself), ``2`` for 31-60, ...
    ``7`` for more than 180."""
    level = max(1, min(7, (dpd + 29) // 30))
    return "1234567"[level - 1]  # type: ignore[return-value]


def metro2_status(code: str, dpd: int) -> str:
    """Metro 2 Account Status (field 17A) for a month.

    US reporting counts delinquency in whole 30-day cycles from the due date: 0-29 days is
    current (11), 30-59 is 71, 60-89 is 78, 90-119 is 80, 120-149 is 82, 150-179 is 83 and 180 or
    more is 84. Written off is 97 (unpaid balance reported as a loss); settled, by the borrower,
    a guarantor or assets, is 13 (paid or closed, zero balance).
    """
    if code == "G":
        return "97"
    if code in ("C", "D", "Z"):
        return "13"
    if code not in OVERDUE or dpd < 30:
        return "11"
    return ("71", "78", "80", "82", "83", "84")[min(5, dpd // 30 - 1)]


def metro2_rating(code: str, dpd: int) -> str:
    """One payment-history character (field 18) or payment rating (17B) for a month."""
    if code == "G":
        return "L"
    if code == "#":
        return "D"
    if code in OVERDUE and dpd >= 30:
        return "123456"[min(5, dpd // 30 - 1)]
    return "0"
