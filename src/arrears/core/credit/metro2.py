"""Metro 2 base segments (CDIA Credit Reporting Resource Guide, 426-character format).

Only the account-status and payment-history part of the base segment is ours to fill; the
consumer's identity (name, SSN, date of birth, address) comes from the US lender's customer file,
which this system does not hold, so those fields are left blank. docs/credit.md lists every field
with its positions and what we write. Alphanumeric fields are left-justified and blank-filled,
numeric fields right-justified and zero-filled, dates ``MMDDYYYY`` (zeros when none). Amounts are
whole currency units with the minor units dropped (truncated toward zero, as the format has no
cents); every record is exactly 426 ASCII characters followed by ``\n``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from arrears.core.credit.codes import metro2_rating, metro2_status
from arrears.core.credit.history import MonthStatus

LENGTH = 426


@dataclass(frozen=True, slots=True)
class Metro2Account:
    furnisher_id: str
    loan_id: str
    opened_on: date
    original_amount: int  # minor units
    terms_months: int
    scheduled_payment: int  # minor units
    month: MonthStatus  # the month being reported (Date of Account Information)
    previous: Sequence[MonthStatus]  # earlier months, oldest first
    disputed: bool
    dispute_resolved: bool  # a dispute on this account was answered (XH)
    original_charge_off: int  # minor units; 0 unless written off
    minor_per_major: int = 100


def _a(value: str, width: int) -> str:
    text = value.encode("ascii", "replace").decode("ascii")[:width]
    return text.ljust(width)


def _n(value: int, width: int) -> str:
    if value < 0:
        raise ValueError(f"negative amount {value} in a Metro 2 numeric field")
    text = str(value)
    if len(text) > width:
        raise ValueError(f"{value} does not fit a {width}-digit Metro 2 field")
    return text.rjust(width, "0")


def _d(value: date | None) -> str:
    # MMDDYYYY; an f-string is several times cheaper than strftime and the same for our years.
    return "00000000" if value is None else f"{value.month:02d}{value.day:02d}{value.year:04d}"


def history_profile(month: MonthStatus, previous: Sequence[MonthStatus]) -> str:
    """Field 18: 24 characters, the month before the Date of Account Information first.

    ``B`` where the account did not exist yet (no history), ``D`` for a month we cannot read.
    """
    chars = [metro2_rating(m.status, m.dpd) for m in reversed(previous[-24:])]
    return "".join(chars).ljust(24, "B")


# Positions 214-426, the same in every record (built once: most of the segment).
_TAIL = "".join(
    [
        " ",  # 214 Interest Type Indicator
        _a("", 16),  # 215-230 Reserved
        " ",  # 231 Consumer Transaction Type
        _a("", 25),  # 232-256 Surname
        _a("", 20),  # 257-276 First Name
        _a("", 20),  # 277-296 Middle Name
        " ",  # 297 Generation Code
        _n(0, 9),  # 298-306 Social Security Number
        _n(0, 8),  # 307-314 Date of Birth
        _n(0, 10),  # 315-324 Telephone Number
        "1",  # 325 ECOA Code: individual
        _a("", 2),  # 326-327 Consumer Information Indicator
        _a("", 2),  # 328-329 Country Code
        _a("", 32),  # 330-361 First Line of Address
        _a("", 32),  # 362-393 Second Line of Address
        _a("", 20),  # 394-413 City
        _a("", 2),  # 414-415 State
        _a("", 9),  # 416-424 Postal/Zip Code
        " ",  # 425 Address Indicator
        " ",  # 426 Residence Code
    ]
)


def base_segment(acct: Metro2Account) -> str:
    m = acct.month
    whole = acct.minor_per_major
    status = metro2_status(m.status, m.dpd)
    # 17B is required with status 13: the worst status seen in the closing month itself.
    rating = metro2_rating(m.status, m.dpd) if status == "13" else " "
    if acct.disputed:
        compliance = "XB"  # account information disputed by the consumer (FCRA)
    elif acct.dispute_resolved:
        compliance = "XH"  # previously in dispute, investigation completed
    else:
        compliance = "  "
    closed = m.closed_on if m.status in ("C", "D", "Z", "G") else None
    fields = [
        _n(LENGTH, 4),  # 1-4 Record Descriptor Word
        "1",  # 5 Processing Indicator
        _d(m.reporting_date) + "000000",  # 6-19 Time Stamp
        "0",  # 20 Correction Indicator
        _a(acct.furnisher_id, 20),  # 21-40 Identification Number
        _a("", 2),  # 41-42 Cycle Identifier (monthly reporting: blank)
        _a(acct.loan_id, 30),  # 43-72 Consumer Account Number
        "I",  # 73 Portfolio Type: installment
        "01",  # 74-75 Account Type: unsecured
        _d(acct.opened_on),  # 76-83 Date Opened
        _n(0, 9),  # 84-92 Credit Limit (installment: zero)
        _n(acct.original_amount // whole, 9),  # 93-101 Highest Credit / Original Loan Amount
        _a(str(acct.terms_months).rjust(3, "0"), 3),  # 102-104 Terms Duration
        "M",  # 105 Terms Frequency: monthly
        _n(acct.scheduled_payment // whole, 9),  # 106-114 Scheduled Monthly Payment Amount
        _n(0, 9),  # 115-123 Actual Payment Amount (not derived: zero-filled)
        status,  # 124-125 Account Status
        rating,  # 126 Payment Rating
        history_profile(m, acct.previous),  # 127-150 Payment History Profile
        _a("", 2),  # 151-152 Special Comment
        compliance,  # 153-154 Compliance Condition Code
        _n(m.balance // whole, 9),  # 155-163 Current Balance
        _n(m.overdue_amount // whole, 9),  # 164-172 Amount Past Due
        _n(acct.original_charge_off // whole, 9),  # 173-181 Original Charge-off Amount
        _d(m.reporting_date),  # 182-189 Date of Account Information
        _d(m.first_delinquency if status not in ("11", "13") else None),  # 190-197 FCRA DOFD
        _d(closed),  # 198-205 Date Closed
        _d(m.last_payment_on),  # 206-213 Date of Last Payment
        _TAIL,  # 214-426: fields we leave blank or zero, the same in every record
    ]
    record = "".join(fields)
    assert len(record) == LENGTH, len(record)
    return record
