"""The credit notice through the close (issue 15): five closes with dispatch down leave one
notice per negative item, each names a date after the day it was sent by at least the lead
time, and only a notice that failed undelivered is followed by another."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import Engine, select, update

from arrears.core.credit.notices import TEMPLATE
from arrears.core.credit.rules import rules_for
from arrears.services.close.day import CloseConfig, close_business_day
from arrears.services.credit import export_month, load_facts
from arrears.services.policy_files import default_policy_set
from arrears.services.settings import default_settings
from arrears.store import tables as t
from arrears.store.credit_tables import credit_notices
from arrears.store.outbox_tables import outbox
from factories import import_rows, loan_row

FIRST = date(2026, 12, 1)
LENDER = default_settings().lender
LEAD = timedelta(days=rules_for("cn").notice_days)
# A loan one day overdue at the close of 2026-12-01 (first due 11-30, the example of the
# issue), a back-book loan behind since 2026-07-30, and a loan not yet due (no notice).
LOANS = [
    loan_row(
        "N1",
        borrower_name="王小明",
        phone="13800000001",
        disbursed_on="2026-10-30",
        due_day="30",
        months="12",
    ),
    loan_row(
        "B1",
        borrower_name="欧阳娜娜",
        phone="13800000002",
        disbursed_on="2026-06-30",
        due_day="30",
        months="12",
    ),
    loan_row(
        "C1",
        borrower_name="李雷",
        phone="13800000003",
        disbursed_on="2026-11-20",
        due_day="20",
        months="12",
    ),
]


def close(engine: Engine, day: date) -> None:
    close_business_day(
        engine, day, CloseConfig(default_policy_set()), now=datetime.combine(day, time(0, 30), UTC)
    )


def notices(engine: Engine) -> list[tuple[str, str, date, str, str]]:
    o = outbox.c
    q = select(o.message_key, o.loan_id, o.business_date, o.status, o.body).where(
        o.template == TEMPLATE
    )
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(q.order_by(o.message_key)))  # type: ignore[misc]


def named_dates(body: str) -> list[date]:
    return [
        date(int(y), int(m), int(d))
        for y, m, d in re.findall(r"(\d{4})年(\d{1,2})月(\d{1,2})日", body)
    ]


def test_five_undispatched_closes_leave_one_notice_per_item_dated_ahead(
    engine: Engine, tmp_path: Path
) -> None:
    import_rows(engine, tmp_path, LOANS)
    for k in range(5):
        close(engine, FIRST + timedelta(days=k))
    with engine.connect() as conn:
        dpd = dict(conn.execute(select(t.loan_state.c.loan_id, t.loan_state.c.dpd)).all())
    assert dpd["N1"] == 5 and dpd["B1"] > 120 and dpd["C1"] == 0  # the facts the test rests on
    found = notices(engine)
    # One each, keyed by the item (the missed due date), not by the business date.
    assert [(key, loan) for key, loan, *_ in found] == [
        ("credit_notice:B1:2026-07-30:1", "B1"),
        ("credit_notice:N1:2026-11-30:1", "N1"),
    ]
    for _key, _loan, sent_on, status, body in found:
        assert status == "queued" and sent_on == FIRST
        dates = named_dates(body)
        assert dates, body
        # Never a date before the day it is sent, always the lead time ahead: both loans
        # report on the 30th, and the first 30th at least 7 days after 12-01 is 12-30.
        assert all(d >= sent_on + LEAD for d in dates), (dates, body)
        assert set(dates) == {date(2026, 12, 30)}
        # And in Chinese only, but for the loan's reference, the amounts and the lender's
        # own words (the bundled settings).
        left = re.sub(r"¥[\d,]+\.\d\d", "", body).replace(_loan[-4:], "")
        lender_words = (LENDER.repayment_channel.zh_cn, LENDER.name.zh_cn, LENDER.signature.zh_cn)
        for given in lender_words:
            left = left.replace(given, "")
        assert not re.search(r"[A-Za-z]", left), left


def test_a_notice_that_expired_undelivered_is_followed_by_one_more_and_a_delivered_one_ends_it(
    engine: Engine, tmp_path: Path
) -> None:
    import_rows(engine, tmp_path, LOANS[:1])
    close(engine, FIRST)
    o = outbox.c
    with engine.begin() as conn:  # dispatch came back after its window: expired
        conn.execute(
            update(outbox)
            .where(o.template == TEMPLATE)
            .values(status="failed", last_error="expired")
        )
    second_day = FIRST + timedelta(days=1)
    close(engine, second_day)
    found = notices(engine)
    assert [(key, status) for key, _l, _d, status, _b in found] == [
        ("credit_notice:N1:2026-11-30:1", "failed"),
        ("credit_notice:N1:2026-11-30:2", "queued"),
    ]
    # The second names a date the lead time after its own day: 12-02 + 7 = 12-09 -> 12-30.
    assert set(named_dates(found[1][4])) == {date(2026, 12, 30)}
    sent_at = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            update(outbox)
            .where(o.message_key == found[1][0])
            .values(status="sent", sent_at=sent_at)
        )
    for k in range(2, 5):
        close(engine, FIRST + timedelta(days=k))
    assert len(notices(engine)) == 2
    with engine.connect() as conn:
        recorded = conn.execute(select(credit_notices.c.key, credit_notices.c.loan_id)).all()
    assert [tuple(r) for r in recorded] == [("credit_notice:N1:2026-11-30:2", "N1")]
    # The report waits for the date the notice named: November's item is held back, December's
    # record (which carries it) goes out on the date the notice gave.
    for month, record in (("2026-11", "withheld"), ("2026-12", "account")):
        out = tmp_path / f"{month}.jsonl"
        _, problems = export_month(engine, month, "jsonl", out)
        assert problems == (), problems
        (line,) = out.read_text(encoding="utf-8").splitlines()
        assert json.loads(line)["record"] == record, line
    with engine.connect() as conn:
        # The lead time runs from the business day the notice was given (the outbox's).
        assert load_facts(conn, ["N1"])["N1"].notice_on == second_day
