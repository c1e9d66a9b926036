"""The close report's arithmetic, against hand-counted portfolios."""

from datetime import date

from arrears.core.close.report import CloseReport, PromiseCounts, bucket_lines, roll_rates


def test_bucket_lines_sum_per_bucket_in_bucket_order() -> None:
    rows = [("M2", 1, 500, 900), ("C", 1, 0, 1000), ("M2", 1, 100, 200), ("C", 2, 0, 50)]
    lines = bucket_lines(rows)
    assert [(b.bucket, b.loans, b.overdue, b.outstanding) for b in lines] == [
        ("C", 3, 0, 1050),
        ("M2", 2, 600, 1100),
    ]


def test_roll_rates_are_shares_of_the_starting_bucket() -> None:
    # 3 loans start current: 2 stay, 1 rolls to M1. 1 loan in M1 cures.
    moves = [("C", "C", 1), ("C", "M1", 1), ("M1", "C", 1), ("C", "C", 1)]
    rolls = {(r.from_bucket, r.to_bucket): (r.loans, r.of, r.rate) for r in roll_rates(moves)}
    assert rolls == {
        ("C", "C"): (2, 3, "0.6667"),  # 2/3 rounded half-up to four places
        ("C", "M1"): (1, 3, "0.3333"),
        ("M1", "C"): (1, 1, "1.0000"),
    }


def test_report_as_dict_formats_money_and_sorts_counts() -> None:
    rep = CloseReport(
        business_date=date(2026, 11, 28),
        engine="polars",
        loans_aged=3,
        loan_days=3,
        entries_posted=1,
        buckets=bucket_lines([("M1", 1, 12345, 99999)]),
        rolls=roll_rates([("C", "M1", 1)]),
        actions={("sms", "champion"): 2, ("call", "champion"): 1},
        routings={},
        blocked={"cn.hours": 1},
        promises=PromiseCounts(due=2, kept=1, broken=1),
    )
    d = rep.as_dict()
    assert d["buckets"] == [
        {"bucket": "M1", "loans": 1, "overdue": "123.45", "outstanding": "999.99"}
    ]
    assert [a["channel"] for a in d["actions"]] == ["call", "sms"]
    assert d["blocked"] == [{"rule": "cn.hours", "count": 1}]
    assert d["promises"] == {"due": 2, "kept": 1, "partly_kept": 0, "broken": 1}
