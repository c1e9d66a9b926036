"""The Regulation F validation notice (12 CFR 1006.34): its dates, its itemisation, and the
close that sends and records it.

§1006.34(b)(5): the validation period ends 30 days after receipt, and receipt may be assumed
five days (excluding legal public holidays, Saturdays and Sundays) after sending.
§1006.34(a)(1): the notice goes within five days after the initial communication.
§1006.34(c)(2): the itemisation date, the amount then, interest, fees, payments and credits
since, and the amount now. The expected figures below are worked by hand from those texts.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from arrears.adapters import MailboxAdapter
from arrears.core.compliance.validation import (
    Itemization,
    assumed_receipt,
    itemize,
    send_by,
    validation_end,
)
from arrears.services import debt_disputes, validation_notices
from arrears.services.collection.dispatch import dispatch
from arrears.store.evidence_tables import evidence_records
from arrears.store.hold_tables import validation_notices as notices_table
from arrears.store.outbox_tables import outbox

from .test_moratoria_close import FIRST, START, book, close


def send_the_day(engine: Engine, day: date) -> None:
    """Dispatch the day's messages to the local mailbox in the US afternoon: only a message
    sent is a communication (Reg F §1006.34(a): the first communication starts the clock)."""
    box = MailboxAdapter(engine)
    dispatch(
        engine, {c: box for c in ("sms", "email", "letter")}, datetime.combine(day, time(18), UTC)
    )


@pytest.mark.parametrize(
    ("sent", "receipt", "end"),
    [
        (date(2026, 3, 2), date(2026, 3, 9), date(2026, 4, 8)),  # a Monday: the next Monday
        (date(2026, 3, 6), date(2026, 3, 13), date(2026, 4, 12)),  # a Friday: the next Friday
        (date(2026, 3, 7), date(2026, 3, 13), date(2026, 4, 12)),  # a Saturday
    ],
)
def test_receipt_is_five_business_days_after_sending(sent: date, receipt: date, end: date) -> None:
    assert assumed_receipt(sent) == receipt
    assert validation_end(sent) == end


def test_a_public_holiday_is_not_a_business_day() -> None:
    memorial_day = date(2026, 5, 25)
    sent = date(2026, 5, 22)  # the Friday before
    assert assumed_receipt(sent) == date(2026, 5, 29)
    assert assumed_receipt(sent, frozenset({memorial_day})) == date(2026, 6, 1)
    assert send_by(date(2026, 3, 2)) == date(2026, 3, 7)


def test_itemization_from_the_last_payment_date() -> None:
    moves = [
        ("disbursement", date(2026, 1, 10), 600_000),
        ("interest_due", date(2026, 2, 10), 2_345),
        ("payment", date(2026, 2, 15), -100_000),
        ("penalty", date(2026, 2, 28), 185),
        ("interest_due", date(2026, 3, 10), 2_300),
        ("waiver", date(2026, 3, 11), -500),
    ]
    got = itemize(moves, date(2026, 1, 10), accrued_unposted=40)
    assert got == Itemization(
        itemization_date=date(2026, 2, 15),
        amount_on_itemization=502_345,  # 600,000 + 2,345 - 100,000
        interest_since=2_300,
        fees_since=225,  # 185 posted + 40 accrued
        payments_since=0,
        credits_since=500,
        current_amount=504_370,  # 502,345 + 2,300 + 225 - 500
    )


def test_itemization_without_a_payment_starts_at_the_transaction_date() -> None:
    moves = [
        ("disbursement", date(2026, 1, 10), 600_000),
        ("interest_due", date(2026, 2, 10), 2_345),
        ("penalty", date(2026, 2, 28), 185),
    ]
    got = itemize(moves, date(2026, 1, 10))
    assert (got.itemization_date, got.amount_on_itemization) == (date(2026, 1, 10), 600_000)
    assert (got.interest_since, got.fees_since, got.current_amount) == (2_345, 185, 602_530)


def test_an_itemization_that_does_not_add_up_is_a_bug() -> None:
    with pytest.raises(ValueError, match="does not add up"):
        Itemization(date(2026, 1, 1), 100, 1, 1, 0, 0, 101)


def _notice_evidence(engine: Engine, borrower_id: str) -> list[dict[str, object]]:
    e = evidence_records
    with engine.connect() as conn:
        q = select(e.c.payload).where(
            e.c.borrower_id == borrower_id, e.c.kind == validation_notices.EVIDENCE_KIND
        )
        return [json.loads(p) for p in conn.execute(q).scalars()]


def test_the_close_sends_and_records_one_notice_after_the_first_communication(
    engine: Engine, tmp_path: Path
) -> None:
    book(engine, tmp_path, "us-reg-f")
    close(engine, FIRST)
    with engine.connect() as conn:  # planned, not yet made: no communication yet
        assert conn.execute(select(notices_table)).all() == []
    send_the_day(engine, FIRST)  # the first communications
    with engine.connect() as conn:
        assert conn.execute(select(notices_table)).all() == []
    for k in range(3):
        close(engine, START + timedelta(days=k))
    with engine.connect() as conn:
        rows = {r.loan_id: r for r in conn.execute(select(notices_table)).all()}
        sent = conn.execute(
            select(outbox.c.loan_id, outbox.c.body).where(
                outbox.c.template == validation_notices.TEMPLATE
            )
        ).all()
    assert set(rows) == {"L1", "L2"} and len(sent) == 2  # one per loan, not one per day
    r = rows["L1"]
    assert (r.first_communication, r.enqueued_on) == (FIRST, START)
    assert r.validation_end == validation_end(START)
    assert r.current_amount == (
        r.amount_on_itemization + r.interest_since + r.fees_since
        - r.payments_since - r.credits_since
    )  # fmt: skip
    body = dict(sent)["L1"]
    assert "original creditor" in body and "Reply STOP" in body  # §1006.38; §1006.6(e)
    assert validation_end(START).strftime("%B") in body  # the period's end is stated
    [payload] = _notice_evidence(engine, "B1")
    assert payload["validation_end"] == validation_end(START).isoformat()
    assert payload["late"] is False  # a day after the first communication


def test_a_dispute_after_the_validation_period_does_not_pause_collection(
    engine: Engine, tmp_path: Path
) -> None:
    book(engine, tmp_path, "us-reg-f")
    close(engine, FIRST)
    send_the_day(engine, FIRST)
    close(engine, START)
    end = validation_end(START)
    now = datetime.combine(end + timedelta(days=5), time(12), UTC)
    with engine.begin() as conn:
        late, _ = debt_disputes.open_debt_dispute(
            conn, ref="LATE", loan_id="L1", kind="dispute", received_on=end + timedelta(days=1),
            now=now,
        )  # fmt: skip
        timely, _ = debt_disputes.open_debt_dispute(
            conn, ref="ON-TIME", loan_id="L2", kind="original-creditor", received_on=end, now=now
        )
    assert late is not None and timely is not None
    with engine.connect() as conn:
        assert debt_disputes.verification_pending(conn, ["B1", "B2"]) == {"B2": frozenset({"L2"})}
