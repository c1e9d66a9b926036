"""Recording delivered credit notices: once each, and a notice the credit record cannot take
stops the close's cases phase with nothing written."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from arrears.core.credit.notices import TEMPLATE
from arrears.services.close.day import _record_delivered_notices
from arrears.store.credit_tables import credit_notices
from arrears.store.outbox_tables import outbox
from factories import import_rows, loan_row

SENT = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)


def sent_notice(key: str, loan_id: str = "L1", channel: str = "sms", **over: Any) -> dict[str, Any]:
    row = {
        "message_key": key,
        "borrower_id": "B1",
        "loan_id": loan_id,
        "channel": channel,
        "party": "debtor",
        "recipient": "13800000000",
        "template": TEMPLATE,
        "language": "zh-CN",
        "subject": "",
        "body": "notice",
        "policy": "credit",
        "step": "notice",
        "business_date": date(2024, 3, 1),
        "status": "sent",
        "attempts": 1,
        "next_attempt_at": SENT,
        "created_at": SENT,
        "sent_at": SENT,
    }
    return row | over


def recorded(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        q = select(credit_notices.c.key, credit_notices.c.loan_id).order_by(credit_notices.c.key)
        return [(k, lid) for k, lid in conn.execute(q)]


@pytest.fixture
def booked(engine: Engine, tmp_path: Path) -> Engine:
    import_rows(engine, tmp_path, [loan_row("L1", borrower_id="B1")])
    return engine


def test_each_delivered_notice_is_recorded_once(booked: Engine) -> None:
    with booked.begin() as conn:
        conn.execute(
            insert(outbox),
            [
                sent_notice("n1"),
                sent_notice("n2", channel="letter"),
                sent_notice("q1", status="queued"),  # not delivered yet
                sent_notice("o1", template="sms_overdue"),  # not a credit notice
            ],
        )
        assert _record_delivered_notices(conn) == 2
    with booked.begin() as conn:
        assert _record_delivered_notices(conn) == 0  # the next close: nothing new
    assert recorded(booked) == [("n1", "L1"), ("n2", "L1")]


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (sent_notice("e1", channel="email"), AssertionError),  # not an SMS or a letter
        (sent_notice("  "), AssertionError),  # a blank key
        (sent_notice("m1", loan_id="L404"), IntegrityError),  # no such loan: the foreign key
    ],
)
def test_a_notice_the_record_cannot_take_stops_it_and_writes_nothing(
    booked: Engine, bad: dict[str, Any], error: type[Exception]
) -> None:
    with booked.begin() as conn:
        conn.execute(insert(outbox), [sent_notice("ok1"), bad])
    with pytest.raises(error), booked.begin() as conn:
        _record_delivered_notices(conn)
    assert recorded(booked) == []
    with booked.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar() == 2
