"""Schedules against independently published figures, to the fen.

Each case names where its figures were published. Where a publisher works from the unrounded
payment (most calculators and bank tables do) and our schedule rounds each period to the fen
(src/arrears/loans/schedule.py, "Where rounding happens"), the comment says so, the published
figure is checked against an exact hand computation, and the schedule is held to the fen-rounded
figure computed by hand here with ``decimal`` (never pasted back from the code).

Conventions (REFERENCES.md "Loan math conventions"): monthly rate = annual / 12 for annual-rate
products, = daily x 30 for the payment of daily-rate products; daily-rate interest accrues on
actual days; the final period absorbs the rounding.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import pytest

from arrears.core.loans.product import Method, Product
from arrears.core.loans.schedule import (
    Installment,
    LoanTerms,
    annuity_total_interest_unrounded,
    build_schedule,
    schedule_for,
)
from arrears.core.money import Rate, parse_amount

FEN = Decimal("0.01")


def yuan(text: str) -> int:
    """A published major-unit figure in fen ("5,307.27" -> 530727)."""
    return parse_amount(text)


def schedule(
    principal: str,
    rate: str,
    months: int,
    method: str,
    *,
    basis: str = "annual",
    start: date = date(2024, 1, 15),
    due_day: int | None = None,
    product: Product | None = None,
) -> tuple[Installment, ...]:
    terms = LoanTerms(
        "published",
        yuan(principal),
        Rate.parse(rate, basis),
        months,
        Method(method),
        start,
        due_day,
    )
    return schedule_for(terms, product or Product())


def exact_payment(principal: str, monthly_rate: Decimal, n: int) -> Decimal:
    """P·r·(1+r)^n / ((1+r)^n − 1) in yuan, by hand with Decimal (60 digits)."""
    with localcontext() as ctx:
        ctx.prec = 60
        p = Decimal(principal.replace(",", ""))
        g = (1 + monthly_rate) ** n
        return p * monthly_rate * g / (g - 1)


def to_fen(value: Decimal) -> int:
    return int((value / FEN).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def fen_rounded_annuity_interest(principal: str, annual: Decimal, n: int) -> int:
    """Total interest of a schedule that rounds every period to the fen, by hand.

    Payment rounded half-up once; each month interest = balance x annual / 12 rounded half-up;
    principal = payment - interest; the last month repays what is left.
    """
    bal = Decimal(principal.replace(",", ""))
    payment = exact_payment(principal, annual / 12, n).quantize(FEN, rounding=ROUND_HALF_UP)
    total = Decimal(0)
    for k in range(n):
        interest = (bal * annual / 12).quantize(FEN, rounding=ROUND_HALF_UP)
        part = bal if k == n - 1 else payment - interest
        bal -= part
        total += interest
    assert bal == 0
    return to_fen(total)


def regular_payments(s: tuple[Installment, ...]) -> set[int]:
    return {i.payment for i in s[:-1]}


# -----------------------------------------------------------------------------------------
# 1. REFERENCES.md "Loan math conventions": 1,000,000 over 360 months at 4.9% a year.
#    等额本息 5,307.27 a month; 等额本金 first month 6,861.11 falling by 11.34 a month;
#    published total interest 910,616.19 from the unrounded payment.
#    The same loan is the worked example of the npm package loan-calculate-utils
#    (https://libraries.io/npm/loan-calculate-utils/1.1.0,
#    https://www.github.com/imcycle/loan-calculate-utils): 月供 5307.27, first-month interest
#    4083.33, totalInterest 910616.19; 等额本金 first month 6861.11 = 2777.78 + 4083.33,
#    ending balance 997222.22, totalInterest 737041.67.
# -----------------------------------------------------------------------------------------


class TestReferencesMillionOver30Years:
    def test_annuity_payment_5307_27(self) -> None:
        s = schedule("1,000,000", "4.9%", 360, "annuity")
        assert len(s) == 360
        assert regular_payments(s) == {yuan("5,307.27")}
        assert s[0].interest == yuan("4,083.33")

    def test_annuity_first_period_split(self) -> None:
        s = schedule("1,000,000", "4.9%", 360, "annuity")
        # Our split is rounded payment - rounded interest: 5,307.27 - 4,083.33 = 1,223.94,
        # leaving 998,776.06. loan-calculate-utils prints 1223.93 / 998776.07 because it
        # splits the unrounded payment 5,307.2672: 5,307.2672 - 4,083.3333 = 1,223.9339.
        assert s[0].principal == yuan("1,223.94")
        assert s[0].balance == yuan("998,776.06")
        unrounded_first_principal = exact_payment("1000000", Decimal("0.049") / 12, 360) - (
            Decimal(1000000) * Decimal("0.049") / 12
        )
        assert unrounded_first_principal.quantize(FEN, rounding=ROUND_HALF_UP) == Decimal("1223.93")

    def test_published_total_interest_from_unrounded_payment(self) -> None:
        total = annuity_total_interest_unrounded(yuan("1,000,000"), Fraction(49, 12000), 360)
        assert total == yuan("910,616.19")
        # and by hand: 360 x 5,307.267206... - 1,000,000
        by_hand = exact_payment("1000000", Decimal("0.049") / 12, 360) * 360 - 1000000
        assert to_fen(by_hand) == yuan("910,616.19")

    def test_fen_rounded_schedule_totals_less_than_published(self) -> None:
        # REFERENCES.md: "a schedule that rounds each period to the fen totals slightly less".
        s = schedule("1,000,000", "4.9%", 360, "annuity")
        total = sum(i.interest for i in s)
        assert total == fen_rounded_annuity_interest("1000000", Decimal("0.049"), 360)
        assert total < yuan("910,616.19")
        assert sum(i.principal for i in s) == yuan("1,000,000")
        assert s[-1].balance == 0

    def test_equal_principal_first_month_6861_11(self) -> None:
        s = schedule("1,000,000", "4.9%", 360, "equal-principal")
        assert s[0].payment == yuan("6,861.11")
        assert s[0].principal == yuan("2,777.78")
        assert s[0].interest == yuan("4,083.33")
        assert s[0].balance == yuan("997,222.22")  # loan-calculate-utils endingBalance

    def test_equal_principal_falls_by_11_34_a_month(self) -> None:
        s = schedule("1,000,000", "4.9%", 360, "equal-principal")
        # The exact fall is 2,777.78 x 4.9% / 12 = 11.3426 a month; interest rounded to the fen
        # each month makes each step 11.34 or 11.35 (the last month absorbs the rounding).
        steps = [s[k].payment - s[k + 1].payment for k in range(358)]
        assert steps[0] == yuan("11.34")
        assert set(steps) <= {yuan("11.34"), yuan("11.35")}
        mean = Decimal(sum(steps)) / len(steps) / 100
        assert mean.quantize(FEN, rounding=ROUND_HALF_UP) == Decimal("11.34")
        assert sum(i.principal for i in s) == yuan("1,000,000")

    def test_equal_principal_published_total_is_the_exact_formula(self) -> None:
        # 737,041.67 = P x r x (n+1) / 2 on the theoretical balance P - k·P/n.
        exact = Decimal(1000000) * Decimal("0.049") / 12 * 361 / 2
        assert to_fen(exact) == yuan("737,041.67")
        # Our schedule charges interest on the balance actually outstanding after 2,777.78 a
        # month has been repaid, so it totals less; by hand:
        bal, total = Decimal(1000000), Decimal(0)
        for k in range(360):
            interest = (bal * Decimal("0.049") / 12).quantize(FEN, rounding=ROUND_HALF_UP)
            bal -= bal if k == 359 else Decimal("2777.78")
            total += interest
        s = schedule("1,000,000", "4.9%", 360, "equal-principal")
        assert sum(i.interest for i in s) == to_fen(total)


# -----------------------------------------------------------------------------------------
# 2. US mortgage: $200,000 at 6% for 30 years = $1,199.10 a month; first payment $1,000.00
#    interest + $199.10 principal, balance $199,800.90; total interest $231,676.38.
#    https://answerprime.com/200-000-mortgage-monthly-payment/ (first-year table),
#    https://mathondemand.com/solutions/monthly-loan-payment-on-a-200000-loan-for-30-years-with-a-6-interest-rate
# -----------------------------------------------------------------------------------------

# (interest, principal, balance) of months 1-12 as published by answerprime.com
US_FIRST_YEAR = [
    ("1,000.00", "199.10", "199,800.90"),
    ("999.00", "200.10", "199,600.80"),
    ("998.00", "201.10", "199,399.71"),
    ("997.00", "202.10", "199,197.60"),
    ("995.99", "203.11", "198,994.49"),
    ("994.97", "204.13", "198,790.36"),
    ("993.95", "205.15", "198,585.21"),
    ("992.93", "206.17", "198,379.04"),
    ("991.90", "207.21", "198,171.83"),
    ("990.86", "208.24", "197,963.59"),
    ("989.82", "209.28", "197,754.31"),
    ("988.77", "210.33", "197,543.98"),
]


class TestUsMortgage200kAt6Percent:
    def test_payment(self) -> None:
        s = schedule("200,000", "6%", 360, "annuity")
        assert regular_payments(s) == {yuan("1,199.10")}

    def test_first_two_months_exact(self) -> None:
        s = schedule("200,000", "6%", 360, "annuity")
        for row, (interest, principal, balance) in zip(s[:2], US_FIRST_YEAR[:2], strict=True):
            assert (row.interest, row.principal, row.balance) == (
                yuan(interest),
                yuan(principal),
                yuan(balance),
            )

    def test_first_year_interest_to_the_fen(self) -> None:
        s = schedule("200,000", "6%", 360, "annuity")
        assert [r.interest for r in s[:12]] == [yuan(i) for i, _, _ in US_FIRST_YEAR]

    def test_first_year_principal_and_balance_within_a_fen(self) -> None:
        # The published table splits the unrounded payment 1,199.10105, so from month 3 its
        # principal/balance may sit one fen from a schedule that pays exactly 1,199.10
        # (e.g. month 3 balance: 199,600.80 - 201.10 = 199,399.70; published 199,399.71).
        s = schedule("200,000", "6%", 360, "annuity")
        for row, (_, principal, balance) in zip(s[:12], US_FIRST_YEAR, strict=True):
            assert abs(row.principal - yuan(principal)) <= 1
            assert abs(row.balance - yuan(balance)) <= 1
        assert s[2].balance == yuan("199,600.80") - yuan("201.10")

    def test_total_interest_from_unrounded_payment(self) -> None:
        assert annuity_total_interest_unrounded(yuan("200,000"), Fraction(6, 1200), 360) == yuan(
            "231,676.38"
        )


# -----------------------------------------------------------------------------------------
# 3. Annuity payments published in software documentation.
# -----------------------------------------------------------------------------------------

PUBLISHED_ANNUITY_PAYMENTS = [
    # Microsoft Excel PMT: =PMT(8%/12, 10, 10000) -> ($1,037.03)
    # https://support.microsoft.com/en-US/excel/functions/pmt-function
    pytest.param("10,000", "8%", 10, "1,037.03", id="excel-pmt-10000-8pct-10m"),
    # numpy-financial pmt: $200,000 over 15 years at 7.5% -> -1854.0247200054619
    # https://numpy.org/numpy-financial/latest/pmt.html (also numpy.pmt, NumPy 1.3-1.18 docs)
    pytest.param("200,000", "7.5%", 180, "1,854.02", id="numpy-pmt-200000-7.5pct-15y"),
    # Claris FileMaker PMT(21000; .069/12; 48) -> $501.90
    # https://help.claris.com/en/pro-help/content/pmt.html
    pytest.param("21,000", "6.9%", 48, "501.90", id="filemaker-pmt-21000-6.9pct-48m"),
    # Adobe FormCalc Pmt(150000, 0.0475 / 12, 25 * 12) -> 855.17604207164
    # https://help.adobe.com/ja_JP/livecycle/10.0/DesignerFormCalcRef/WS92d06802c76abadb-32254d55129f5ee7c98-7fb0.html
    pytest.param("150,000", "4.75%", 300, "855.18", id="formcalc-pmt-150000-4.75pct-25y"),
    # MESCIUS (SpreadJS/Spread.NET) formula reference: PMT(6%/12, 15, 5000) -> -346.82
    # https://developer.mescius.com/spreadnet/docs/latest/online-formula/FunctionPMT.html
    pytest.param("5,000", "6%", 15, "346.82", id="mescius-pmt-5000-6pct-15m"),
    # powerofinterest.com: $100,000 at 6.25%, fixed-rate amortizing payment $615.72
    # http://powerofinterest.com/free/mortgage_calculators/whats_missing.htm
    pytest.param("100,000", "6.25%", 360, "615.72", id="powerofinterest-100000-6.25pct-30y"),
    # Jiskha worked answer: $10,000 at 6% for 6 years -> $165.73 a month
    # http://www.jiskha.com/display.cgi?id=1322530319
    pytest.param("10,000", "6%", 72, "165.73", id="jiskha-10000-6pct-6y"),
    # Chinese bank-style example: 10,000 yuan, 12 months, 4.35% (one-year benchmark rate),
    # 等额本息 月均还款 853.1 元, 支付利息 237.19 元 — http://ccv168.com/baike/62485.html
    pytest.param("10,000", "4.35%", 12, "853.10", id="ccv168-10000-4.35pct-12m"),
    # delenzhang/loans README: 1,000,000 over 30 years at 5%, 等额本息 每月还 5368.22
    # https://github.com/delenzhang/loans
    pytest.param("1,000,000", "5%", 360, "5,368.22", id="delenzhang-1m-5pct-30y"),
]


@pytest.mark.parametrize(("principal", "rate", "months", "payment"), PUBLISHED_ANNUITY_PAYMENTS)
def test_published_annuity_payment(principal: str, rate: str, months: int, payment: str) -> None:
    s = schedule(principal, rate, months, "annuity")
    assert regular_payments(s) == {yuan(payment)}
    # the exact formula by hand agrees with the publisher
    annual = Decimal(rate.rstrip("%")) / 100
    assert to_fen(exact_payment(principal, annual / 12, months)) == yuan(payment)
    assert sum(i.principal for i in s) == yuan(principal)


def test_ccv168_total_interest_237_19() -> None:
    # http://ccv168.com/baike/62485.html: 还款总额 10237.19 元, 支付利息 237.19 元.
    assert annuity_total_interest_unrounded(
        yuan("10,000"), Rate.parse("4.35%", "annual").monthly(), 12
    ) == yuan("237.19")
    s = schedule("10,000", "4.35%", 12, "annuity")
    assert sum(i.interest for i in s) == fen_rounded_annuity_interest(
        "10000", Decimal("0.0435"), 12
    )


# -----------------------------------------------------------------------------------------
# 4. kingsky32/calc_loan_interest README (Korean 원리금 균등 상환, annuity):
#    300,000,000 at 3% over 24 months: repayment 12,894,363.593867082; round 1 interest
#    750,000, principal 12,144,363.593867082; round 2 interest 719,639.0910153324, principal
#    12,174,724.50285175; totalInterest 9,464,726.252803795.
#    https://github.com/kingsky32/calc_loan_interest
# -----------------------------------------------------------------------------------------


def test_korean_annuity_300m_at_3_percent() -> None:
    s = schedule("300,000,000", "3%", 24, "annuity")
    assert regular_payments(s) == {yuan("12,894,363.59")}
    assert (s[0].interest, s[0].principal) == (yuan("750,000.00"), yuan("12,144,363.59"))
    assert (s[1].interest, s[1].principal) == (yuan("719,639.09"), yuan("12,174,724.50"))
    assert annuity_total_interest_unrounded(yuan("300,000,000"), Fraction(3, 1200), 24) == yuan(
        "9,464,726.25"
    )


# -----------------------------------------------------------------------------------------
# 5. 等额本金 (equal principal), delenzhang/loans README: 1,000,000 over 30 years at 5%,
#    "第一月还6944.44 每月递减 11.57". https://github.com/delenzhang/loans
#    The published 6,944.44 rounds the unrounded sum 2,777.7778 + 4,166.6667 = 6,944.4444;
#    a schedule in fen shows principal 2,777.78 and interest 4,166.67, so 6,944.45.
# -----------------------------------------------------------------------------------------


def test_equal_principal_1m_at_5_percent() -> None:
    s = schedule("1,000,000", "5%", 360, "equal-principal")
    assert s[0].principal == yuan("2,777.78")
    assert s[0].interest == yuan("4,166.67")
    assert s[0].payment == yuan("6,944.45")
    exact_first = Decimal(1000000) / 360 + Decimal(1000000) * Decimal("0.05") / 12
    assert exact_first.quantize(FEN, rounding=ROUND_HALF_UP) == Decimal("6944.44")
    # fall: exact 2,777.78 x 5% / 12 = 11.5741 a month -> steps of 11.57 or 11.58
    steps = [s[k].payment - s[k + 1].payment for k in range(358)]
    assert set(steps) <= {yuan("11.57"), yuan("11.58")}
    mean = Decimal(sum(steps)) / len(steps) / 100
    assert mean.quantize(FEN, rounding=ROUND_HALF_UP) == Decimal("11.57")


# -----------------------------------------------------------------------------------------
# 6. Interest-first (先息后本 / interest-only).
#    HowStuffWorks, "How Interest-only Loans Work": $200,000 at 6%, interest-only payment
#    $1,000 a month, the full $200,000 still owed at the end of the interest-only period.
#    https://money.howstuffworks.com/personal-finance/debt-management/interest-only-loan3.htm
#    (the same page gives the amortizing payment as $1,199.11, one cent above every other
#    source; we hold case 2's $1,199.10.)
#    Also: "a loan of $200,000 with an annual interest rate of 5% ... the monthly interest
#    payment would be $833.33" — https://pop.freespeechforpeople.org/tag/interest/page/11
# -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "rate", "months", "monthly_interest"),
    [
        pytest.param("200,000", "6%", 60, "1,000.00", id="howstuffworks-200000-6pct"),
        pytest.param("200,000", "5%", 12, "833.33", id="freespeech-200000-5pct"),
    ],
)
def test_interest_first_published(
    principal: str, rate: str, months: int, monthly_interest: str
) -> None:
    s = schedule(principal, rate, months, "interest-first")
    assert len(s) == months
    assert {i.interest for i in s} == {yuan(monthly_interest)}
    assert all(i.principal == 0 and i.balance == yuan(principal) for i in s[:-1])
    assert s[-1].principal == yuan(principal)
    assert s[-1].payment == yuan(principal) + yuan(monthly_interest)
    assert s[-1].balance == 0


# -----------------------------------------------------------------------------------------
# 7. Bullet (一次性还本付息): "到期一次性还本付息 利息=本金*利率=10000*8%=800" (one year).
#    https://116p.com/p/589292678639089405.html
# -----------------------------------------------------------------------------------------


def test_bullet_one_year() -> None:
    s = schedule("10,000", "8%", 12, "bullet", start=date(2024, 1, 15))
    assert len(s) == 1
    assert s[0].due_date == date(2025, 1, 15)
    assert (s[0].principal, s[0].interest) == (yuan("10,000"), yuan("800.00"))


# -----------------------------------------------------------------------------------------
# 8. Daily rate on actual days. simontreanor/FSharp.Finance.Personal, published test output
#    io/out/InterestFirst/InterestFirstTest002.md: principal 1,000.00 at 0.8% a day from
#    2024-07-23, payments monthly on the 2nd; with the principal balance still 1,000.00 the
#    actuarial interest is 80.0000 on day 10 (2024-08-02), 248.0000 on day 41 (2024-09-02,
#    31 days) and 240.0000 on day 71 (2024-10-02, 30 days).
#    https://github.com/simontreanor/FSharp.Finance.Personal
# -----------------------------------------------------------------------------------------


def test_daily_rate_actual_days_published() -> None:
    s = build_schedule(
        yuan("1,000"),
        Rate.parse("0.8%", "daily"),
        Method.INTEREST_FIRST,
        date(2024, 7, 23),
        (date(2024, 8, 2), date(2024, 9, 2), date(2024, 10, 2)),
        360,
    )
    assert [i.interest for i in s] == [yuan("80.00"), yuan("248.00"), yuan("240.00")]
    assert [i.principal for i in s] == [0, 0, yuan("1,000")]


def test_daily_rate_actual_days_through_product_due_day() -> None:
    # Same loan through schedule_for: due day 2, first period 10 days (allowed when the
    # product's first-period minimum is 0; Jiebei's 15 would move it to 2024-09-02).
    terms = LoanTerms(
        "fsharp",
        yuan("1,000"),
        Rate.parse("0.8%", "daily"),
        3,
        Method.INTEREST_FIRST,
        date(2024, 7, 23),
        2,
    )
    s = schedule_for(terms, Product(min_first_period_days=0))
    assert [i.due_date for i in s] == [date(2024, 8, 2), date(2024, 9, 2), date(2024, 10, 2)]
    assert [i.interest for i in s] == [yuan("80.00"), yuan("248.00"), yuan("240.00")]
    jiebei = schedule_for(terms, Product())
    assert jiebei[0].due_date == date(2024, 9, 2)
    assert jiebei[0].interest == yuan("328.00")  # 1,000 x 0.8% x 41 days


# -----------------------------------------------------------------------------------------
# 9. Jiebei-style: 10,000 yuan for 12 months at 0.05% a day (万分之五), 每月等额.
#    No public worked Jiebei schedule was found in the stored sources (REFERENCES.md also
#    notes "no official text found"); the figures below follow REFERENCES.md's rules and are
#    computed by hand: payment at monthly rate 0.05% x 30 = 1.5%:
#    10,000 x 0.015 x 1.015^12 / (1.015^12 - 1) = 916.7999... -> 916.80 (the same as a
#    10,000 / 12-month / 18%-a-year annuity). Interest on actual days: 10,000 x 0.05% = 5.00
#    a day, so a 31-day first period charges 155.00, a 29-day one 145.00.
# -----------------------------------------------------------------------------------------


def test_jiebei_daily_rate_equal_installments() -> None:
    s = schedule(
        "10,000",
        "0.05%",
        12,
        "annuity",
        basis="daily",
        start=date(2024, 1, 15),
    )
    assert to_fen(exact_payment("10000", Decimal("0.015"), 12)) == yuan("916.80")
    assert regular_payments(s) == {yuan("916.80")}
    # 2024-01-15 -> 2024-02-15: 31 days x 5.00
    assert s[0].interest == yuan("155.00")
    assert s[0].principal == yuan("916.80") - yuan("155.00")
    # 2024-02-15 -> 2024-03-15: 29 days (leap February) on 9,238.20
    bal = Decimal("9238.20")
    assert s[1].interest == to_fen(bal * Decimal("0.0005") * 29)
    assert sum(i.principal for i in s) == yuan("10,000")
    # Actual days over a leap year (366) exceed 12 x 30 = 360, so the last installment absorbs
    # more interest than the 1.5%-a-month payment allows for: it is larger than 916.80.
    assert s[-1].payment > yuan("916.80")


def test_jiebei_daily_rate_interest_first_one_day_is_5_yuan() -> None:
    # 10,000 x 0.05% = 5.00 a day; 30-day month 150.00, 31-day month 155.00.
    s = schedule(
        "10,000",
        "0.05%",
        3,
        "interest-first",
        basis="daily",
        start=date(2024, 3, 31),
    )
    # due 2024-04-30 (30 days), 2024-05-31 (31 days), 2024-06-30 (30 days)
    assert [i.due_date for i in s] == [date(2024, 4, 30), date(2024, 5, 31), date(2024, 6, 30)]
    assert [i.interest for i in s] == [yuan("150.00"), yuan("155.00"), yuan("150.00")]
    assert s[-1].principal == yuan("10,000")
