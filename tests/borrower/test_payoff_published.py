"""The payoff planner against payoff plans published by others, each cited with its inputs;
every figure is asserted to the precision the source gives it. Where a source's figure and
ours differ, the test says why and shows it: the source's rule run in its place gives its
figure. Amounts here are the sources' dollars, written as fen (cents) for the planner."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from arrears.core.borrower.payoff import Debt, plan_payoff
from borrower.payoff_reference import exact_plan, rounding_bound
from factories import succeeded


def _dollars(fen: int) -> int:
    """To the whole dollar, half up: how a table in whole dollars shows an amount."""
    return int((Decimal(fen) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_a_two_debt_snowball_table_published_in_whole_dollars() -> None:
    """Source: "Avalanche vs. Snowball", Peace Love Spreadsheets (blog), May 2025,
    https://peacelovespreadsheets.blogspot.com/2025/05/avalanche-vs-snowball.html

    Inputs: a car loan of $10,000 at 4% and a credit card of $20,000 at 25%; $1,000 a month,
    all of it to the car loan first (the snowball: the smaller balance), the card paid $0
    meanwhile (so no minimums). The page's table gives each month's starting balance and
    interest for both debts, in whole dollars, for December to August (nine months); its
    rule is ours: the month's interest on the balance, then the payment. Asserted here to
    the dollar, as published."""
    published = [  # car: balance, interest; card: balance, interest
        (10_000, 33, 20_000, 417),
        (9_033, 30, 20_417, 425),
        (8_063, 27, 20_842, 434),
        (7_090, 24, 21_276, 443),
        (6_114, 20, 21_719, 452),
        (5_134, 17, 22_172, 462),
        (4_151, 14, 22_634, 472),
        (3_165, 11, 23_105, 481),
        (2_176, 7, 23_587, 491),
    ]
    car = Debt("car", 1_000_000, Fraction(4, 100), 0)
    card = Debt("card", 2_000_000, Fraction(25, 100), 0)
    plan = succeeded(plan_payoff([car, card], 100_000, "snowball"))
    assert plan.order == ("car", "card")
    start = {"car": car.balance, "card": card.balance}
    ours = []
    for month in plan.schedule[: len(published)]:
        by = {d.name: d for d in month.debts}
        ours.append(
            (
                _dollars(start["car"]),
                _dollars(by["car"].interest),
                _dollars(start["card"]),
                _dollars(by["card"].interest),
            )
        )
        assert (by["car"].paid, by["card"].paid) == (100_000, 0)
        start = {name: d.balance for name, d in by.items()}
    assert ours == published


def test_a_powerpay_snowball_schedule_published_to_the_cent() -> None:
    """Source: Eileen St. Pierre, "The Snowball Effect on Debt", The Everyday Financial
    Planner, 2017-07-01, http://www.everydayfinancialplanner.com/2017/07/01/the-snowball-effect-on-debt/
    (a schedule from PowerPay, Utah State University Extension's debt planner, or
    Calculators.org; the page names both).

    Inputs: credit card 1, $200 at 18%, $50 a month; credit card 2, $500 at 19%, $25 a
    month; a car loan, $20,000 at 10%, $370.52 a month (a six-year loan). The $445.52 of
    payments stays the budget; the smallest balance first. Published: $50 / $25 / $370.52
    in months 1-4; card 1 paid off in month 5 with $7.84, card 2 getting $67.16; card 2
    $75 from month 6 and paid off in month 11 with $13.03; $445.52 to the car from month 12;
    the car paid off in month 60 with $50.75; $1,154 of interest saved against paying each
    debt its own payment until it is paid.

    The months, the whole payments and the saving are ours. The cents of the final
    payments differ by a cent or a few: the page's calculator carries each month's
    interest unrounded, while our rule rounds it to the cent (half-up) each month. Run with
    the rounding off,
    the same rule (tests/borrower/payoff_reference.py) gives the published cents exactly;
    the planner's are 7.85 / 67.15, 13.04 and 50.81, and its total interest is within the
    derived rounding bound of the unrounded total. The page's car payment in month 11,
    $432.44, does not add up with card 2's $13.03 to the $445.52 budget; 445.52 - 13.03 is
    432.49, which is what the unrounded rule pays."""
    debts = [
        Debt("card1", 20_000, Fraction(18, 100), 5_000),
        Debt("card2", 50_000, Fraction(19, 100), 2_500),
        Debt("car", 2_000_000, Fraction(10, 100), 37_052),
    ]
    budget = 44_552
    plan = succeeded(plan_payoff(debts, budget, "snowball"))
    assert plan.order == ("card1", "card2", "car")
    assert plan.payoff_month == {"card1": 5, "card2": 11, "car": 60}
    paid = [{d.name: d.paid for d in m.debts} for m in plan.schedule]
    assert paid[:4] == [{"card1": 5_000, "card2": 2_500, "car": 37_052}] * 4
    assert paid[5] == {"card2": 7_500, "car": 37_052}
    assert paid[11] == {"car": 44_552}

    exact = exact_plan(debts, budget, plan.order, rounded=False)
    assert exact is not None and exact.months == 60

    def cents(month: int, name: str) -> Decimal:
        value = exact.paid[month - 1][name]
        return (Decimal(value.numerator) / value.denominator / 100).quantize(Decimal("0.01"))

    assert (cents(5, "card1"), cents(5, "card2")) == (Decimal("7.84"), Decimal("67.16"))
    assert (cents(11, "card2"), cents(11, "car")) == (Decimal("13.03"), Decimal("432.49"))
    assert cents(60, "car") == Decimal("50.75")
    bound = rounding_bound(debts, [len(m.debts) for m in plan.schedule])
    assert abs(plan.total_interest - exact.total_interest) <= bound

    # The saving, against each debt paying its own payment alone (the car its 72 months).
    alone = sum(succeeded(plan_payoff([d], d.minimum)).total_interest for d in debts)
    assert [succeeded(plan_payoff([d], d.minimum)).months for d in debts] == [5, 25, 72]
    # $1,154 is the saving's whole dollars (1,154.52 here, 1,154.53 unrounded); to the
    # nearest dollar it would be 1,155, so the page drops the cents.
    assert (alone - plan.total_interest) // 100 == 1_154


def test_a_library_avalanche_example_published_to_the_cent() -> None:
    """Source: the example response of node-debt-snowball (an npm package),
    https://github.com/nielse63/node-debt-snowball, file examples/response.json, for the
    input in its README and examples/index.ts: a credit card, $1,000 at 14.99%, $75 a
    month; a student loan, $7,500 at 4.75%, $150 a month; $100 a month more, avalanche.
    Published: month by month to the cent; the card paid off in month 6; 28 payments;
    total interest $523.81.

    Months 1-5 are ours to the cent (interest and balance of both debts), and so are the
    card's month 6 and the 28 months. The total is not: ours is $524.01. The library pays a
    debt off with its balance before the month's interest (the card, owing 166.91 + 2.08,
    is paid 166.91, and the 2.08 goes to the loan instead; the loan's last 0.97 likewise),
    so the interest of each debt's last month is charged but never paid. The library's
    rule, run here in its place, gives its 28 months and $523.81 exactly."""
    card = Debt("Credit Card", 100_000, Fraction(1499, 10_000), 7_500)
    loan = Debt("Student Loan", 750_000, Fraction(475, 10_000), 15_000)
    plan = succeeded(plan_payoff([card, loan], 7_500 + 15_000 + 10_000, "avalanche"))
    published = [  # (interest, balance after) for the card, then the loan; months 1-5
        ((1_249, 83_749), (2_969, 737_969)),
        ((1_046, 67_295), (2_921, 725_890)),
        ((841, 50_636), (2_873, 713_763)),
        ((633, 33_769), (2_825, 701_588)),
        ((422, 16_691), (2_777, 689_365)),
    ]
    assert [tuple((d.interest, d.balance) for d in m.debts) for m in plan.schedule[:5]] == (
        published
    )
    assert plan.payoff_month == {"Credit Card": 6, "Student Loan": 28} and plan.months == 28
    assert plan.total_interest == 52_401

    # The library's rule: a debt whose payment covers it is paid its balance before the
    # month's interest, and what is left of its share goes to the next debt.
    balance = {card.name: Fraction(card.balance), loan.name: Fraction(loan.balance)}
    months, interest = 0, Fraction(0)
    while any(balance.values()):
        months += 1
        extra = Fraction(10_000)
        for d in (card, loan):
            if not balance[d.name]:
                extra += d.minimum  # a paid-off debt's payment rolls on
                continue
            charged = Fraction(int(balance[d.name] * d.apr / 12 + Fraction(1, 2)))
            interest += charged
            after = balance[d.name] + charged - d.minimum - extra
            if after <= 0:
                extra += d.minimum - balance[d.name]
                balance[d.name] = Fraction(0)
            else:
                extra, balance[d.name] = Fraction(0), after
    assert (months, interest) == (28, 52_381)
