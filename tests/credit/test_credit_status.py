"""Monthly PBOC statuses, each code from a ledger scenario (issue 5, Done when).

Expected codes come from the rule text: ``1``-``7`` for 1-30, 31-60, ..., 151-180 and over 180
days past due at the reporting date; at least ``1`` for a month whose installment was not paid
by the end of its due date; ``N`` paid as due; ``*`` nothing due; ``C`` settled; ``G`` written
off; ``D``/``Z`` settled by a guarantor / with assets; ``#`` unknown. Day counts are worked out
by hand in the comments.
"""

from __future__ import annotations

from datetime import date

from credit_helpers import P, due_on, payoff_on, terms

from arrears.core.credit.history import credit_history
from arrears.core.ledger.replay import Payment, WriteOff


def d(s: str) -> date:
    return date.fromisoformat(s)


def test_missed_january_and_february_then_paid_in_march_reads_1_2_n() -> None:
    t = terms(due_day=10)  # due on the 10th: Jan 10 ... Jun 10, 2025
    pay = Payment("P-MAR", due_on(t, [], d("2025-03-10")), d("2025-03-10"))
    h = credit_history(t, P, [pay], d("2025-03-31"))
    assert [m.month for m in h.months] == ["2025-01", "2025-02", "2025-03"]
    assert h.status_string == "12N"
    # Jan 10: due that day, unpaid at its end (0 days); Feb 10: Jan's is 31 days late.
    assert [m.dpd for m in h.months] == [0, 31, 0]
    assert h.months[1].overdue_periods == 2
    assert h.max_overdue_periods == 2
    assert h.overdue_periods == 0
    jan, feb = (i for i in h.months[:2])
    assert h.largest_overdue_amount == feb.overdue_amount > jan.overdue_amount > 0
    assert h.classification == "normal"


def test_never_paid_on_the_tenth_skips_five_because_of_month_lengths() -> None:
    # Reporting on the 10th, Jan 10 due: 0, 31, 59, 90, 120, 151, 181 days on the 10ths.
    h = credit_history(terms(months=12), P, [], d("2025-08-10"))
    assert h.status_string == "12234677"
    assert [m.dpd for m in h.months] == [0, 31, 59, 90, 120, 151, 181, 212]
    assert h.classification == "substandard"  # 212 > 90, not > 270 (thresholds as data)


def test_month_end_reporting_reads_every_overdue_code() -> None:
    # No repayment day: reporting at month end; drawn Dec 10, due on the 10th from Jan.
    t = terms(months=12, disbursed=d("2024-12-10"), due_day=None)
    h = credit_history(t, P, [], d("2025-07-31"))
    # Dec 31 nothing due; then 21, 49, 80, 110, 141, 171, 202 days past Jan 10.
    assert h.status_string == "*1234567"
    assert [m.dpd for m in h.months] == [0, 21, 49, 80, 110, 141, 171, 202]


def test_paid_late_within_the_month_still_reads_1_at_month_end() -> None:
    t = terms(disbursed=d("2024-12-10"), due_day=None)
    late = Payment("P1", due_on(t, [], d("2025-01-12")), d("2025-01-12"))  # two days late
    on_time = Payment("P2", due_on(t, [late], d("2025-02-10")), d("2025-02-10"))
    h = credit_history(t, P, [late, on_time], d("2025-02-28"))
    assert h.status_string == "*1N"
    assert h.months[1].dpd == 0 and h.months[1].overdue_amount == 0


def test_paid_on_the_due_date_reads_n() -> None:
    t = terms()
    pays = []
    for day in ("2025-01-10", "2025-02-10"):
        pays.append(Payment(f"P{day}", due_on(t, pays, d(day)), d(day)))
    assert credit_history(t, P, pays, d("2025-02-10")).status_string == "NN"


def test_nothing_due_reads_star() -> None:
    # Drawn Dec 1 with repayment day 10: Dec 10 is too close (15-day rule), first due Jan 10.
    t = terms(disbursed=d("2024-12-01"))
    h = credit_history(t, P, [], d("2024-12-31"))
    assert h.status_string == "*"


def test_settled_reads_c_and_is_the_last_month() -> None:
    t = terms()
    jan = Payment("P1", due_on(t, [], d("2025-01-10")), d("2025-01-10"))
    feb = Payment("P2", due_on(t, [jan], d("2025-02-10")), d("2025-02-10"))
    off = Payment("P3", payoff_on(t, [jan, feb], d("2025-02-20")), d("2025-02-20"))
    h = credit_history(t, P, [jan, feb, off], d("2025-06-30"))
    assert h.status_string == "NNC"  # Feb 10 paid as due; closed Feb 20, read on Mar 10
    assert h.months[-1].closed_on == d("2025-02-20")


def test_settlement_by_guarantor_reads_d_and_with_assets_reads_z() -> None:
    t = terms()
    off = Payment("G1", payoff_on(t, [], d("2025-02-20")), d("2025-02-20"))
    for kind, code in (("guarantor", "D"), ("assets", "Z")):
        h = credit_history(t, P, [off], d("2025-06-30"), {"G1": kind})
        assert h.status_string == "12" + code
    # A marked payment that does not settle the loan changes nothing.
    part = Payment("G2", 1000, d("2025-02-20"))
    assert credit_history(t, P, [part], d("2025-03-10"), {"G2": "guarantor"}).status_string == (
        "122"
    )


def test_written_off_reads_g_and_stops() -> None:
    t = terms(months=12)
    h = credit_history(t, P, [WriteOff("W1", d("2025-04-15"))], d("2025-09-30"))
    assert h.status_string == "1223G"  # Jan..Apr as never paid, then G on May 10
    assert h.classification == "loss"


def test_refused_event_reads_hash_from_then_on() -> None:
    t = terms()
    jan = Payment("P1", due_on(t, [], d("2025-01-10")), d("2025-01-10"))
    too_much = Payment("P2", 10**9, d("2025-02-15"))  # more than the payoff: the ledger refuses
    h = credit_history(t, P, [jan, too_much], d("2025-04-10"))
    assert h.status_string == "N1##"  # Feb 10 unpaid (1); the Feb 15 event is refused


def test_as_of_ignores_later_events_and_later_months() -> None:
    t = terms()
    pay = Payment("P-MAR", due_on(t, [], d("2025-03-10")), d("2025-03-10"))
    h = credit_history(t, P, [pay], d("2025-03-09"))
    assert h.status_string == "12"
    assert h.dpd == 58  # on Mar 9, Jan 10 is 58 days back
