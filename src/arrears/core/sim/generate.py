"""Synthetic portfolios at scale: loans, borrower profiles and payments, vectorised (numpy +
Polars), deterministic for a seed, importable by ``arrears loans import`` and
``arrears payments import``.

What is drawn, and from what (all documented ranges are tested at N=10,000):

* Borrowers hold 1-3 loans (60% / 28% / 12%). Each borrower has one payment behaviour,
  shared by all their loans, drawn from a :class:`~arrears.core.sim.model.Mix`. The default
  is the stress mix the benchmarks use: ``on_time`` 55% (pays each installment on its due
  date), ``late`` 18% (pays each 3-40 days late), ``cured`` 10% (misses two consecutive
  installments, then pays all three on the third's due date, on time after), ``chronic`` 9%
  (pays every other installment), ``never`` 8% (pays nothing). The demo's typical book is in
  ``data/sim/behaviour.yaml``.
* Products: 70% daily-rate consumer credit in the Jiebei range, 0.02%-0.05% a day, 3/6/12
  months, ``annuity`` (每月等额) or ``interest-first`` (先息后本); 30% annual-rate loans, 7.2%-24%
  a year, 6/12/24 months, any method (bullet only for short terms). Rates above the
  product's cap on agreed and overdue rate (private lenders: 4x LPR) are clamped to the
  highest listed rate under it.
* Principal: log-normal (median 5,000 yuan, sigma 1.1), clipped to 500-200,000 yuan and
  rounded to whole hundreds, as drawdowns are.
* Disbursal dates uniform over the 365 days before ``as_of``; a due day (1-28) on 40% of
  loans, else the drawdown day.
* Profiles: rule pack cn 90% / us-reg-f 5% / uk-conc 5%; language zh-CN for cn (5% en),
  en otherwise; IANA zones for the country, 4% with two (a borrower travelling); 70% have an
  email at example.com (RFC 2606); an address; a risk score 0-1000 correlated with the
  behaviour; 3% vulnerable (8% in the UK); 0-2 emergency contacts.
* Phone numbers are well formed but in ranges that reach no one: China +86 100 xxxx xxxx
  (no mobile prefix starts 10), US +1 NPA 555 01xx (reserved for fiction), UK
  +44 7700 900xxx (Ofcom's drama range). Names are drawn from common name lists.

Payments are the installments of the exact schedule (``core.loans.schedule_columns``, equal to
``schedule_for``), so a behaviour that pays on time leaves the loan current, and no payment
ever exceeds what is due. Refs are ``<loan_id>-P<n>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import polars as pl

from arrears.core.loans import schedule_columns
from arrears.core.loans.product import DEFAULT_PRODUCT, PenaltyBase, Product
from arrears.core.money import RateBasis, parse_rate
from arrears.core.sim.model import BEHAVIOURS, STRESS_MIX, Mix

LOANS_PER_BORROWER = ((1, 0.60), (2, 0.28), (3, 0.12))
DAILY_RATES = ("0.02%", "0.025%", "0.03%", "0.035%", "0.04%", "0.045%", "0.05%")
DAILY_WEIGHTS = (0.08, 0.12, 0.2, 0.2, 0.15, 0.1, 0.15)
ANNUAL_RATES = ("7.2%", "8.5%", "9.9%", "10.8%", "12%", "14.4%", "15.4%", "18%", "21.6%", "24%")
ANNUAL_WEIGHTS = (0.12, 0.1, 0.14, 0.1, 0.14, 0.1, 0.1, 0.1, 0.05, 0.05)
PRINCIPAL_MIN, PRINCIPAL_MAX = 500, 200_000  # yuan
MEDIAN_PRINCIPAL, SIGMA = 5000.0, 1.1
RULE_PACKS = (("cn", 0.90), ("us-reg-f", 0.05), ("uk-conc", 0.05))
CN_ZONES = ("Asia/Shanghai",) * 18 + ("Asia/Urumqi", "Asia/Hong_Kong")
US_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
UK_ZONES = ("Europe/London",)
RELATIONS = ("spouse", "parent", "sibling", "friend", "colleague")
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国红文斌")
FIRST_EN = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Susan",
    "Oliver",
    "Amelia",
    "Harry",
    "Isla",
]
LAST_EN = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Taylor",
    "Wilson",
    "Evans",
    "Thomas",
    "Roberts",
    "Walker",
    "Wright",
    "Hall",
]
CITIES_CN = ("北京市", "上海市", "广州市", "深圳市", "杭州市", "成都市", "武汉市", "西安市")
US_AREA = np.array([201, 212, 305, 312, 415, 503, 602, 617, 702, 713, 804, 919], dtype=np.int64)

LOAN_COLUMNS = (
    "loan_id", "borrower_id", "borrower_name", "phone", "principal", "rate", "rate_basis",
    "months", "method", "disbursed_on", "due_day", "product", "currency",
    "language", "timezones", "email", "address", "risk_score", "vulnerable", "rule_pack",
    "emergency1_name", "emergency1_phone", "emergency1_relation",
    "emergency2_name", "emergency2_phone", "emergency2_relation", "behaviour",
)  # fmt: skip
PAYMENT_COLUMNS = ("loan_id", "amount", "paid_on", "ref")


@dataclass(frozen=True, slots=True)
class Portfolio:
    """Loans (one row per loan, :data:`LOAN_COLUMNS`) and payments (:data:`PAYMENT_COLUMNS`)."""

    loans: pl.DataFrame
    payments: pl.DataFrame


def _where(mask: npt.NDArray[np.bool_], a: pl.Series, b: pl.Series | None = None) -> pl.Series:
    """``a`` where ``mask`` holds, else ``b`` (null when None)."""
    if b is None:
        b = pl.Series([None] * len(a), dtype=a.dtype)
    return a.zip_with(pl.Series(mask), b)


def _fen_text(fen: npt.NDArray[np.int64]) -> pl.Series:
    """Integer fen as exact decimal strings: 123456 -> '1234.56'."""
    s = pl.Series(fen)
    return (s // 100).cast(pl.Utf8) + "." + (s % 100).cast(pl.Utf8).str.zfill(2)


def _rates_under_cap(product: Product) -> tuple[list[str], list[float], list[str], list[float]]:
    """The rate lists, without rates whose agreed or overdue annual rate exceeds the cap."""
    cap = product.rate_cap_annual

    def ok(text: str, basis: RateBasis) -> bool:
        if cap is None:
            return True
        value = parse_rate(text)
        annual = value * product.days_per_year if basis is RateBasis.DAILY else value
        return max(annual, annual * product.penalty_multiplier) <= cap

    def keep(
        rates: tuple[str, ...], weights: tuple[float, ...], basis: RateBasis
    ) -> tuple[list[str], list[float]]:
        pairs = [(r, w) for r, w in zip(rates, weights, strict=True) if ok(r, basis)]
        if not pairs:  # a cap below every listed rate: lend at the cap itself
            assert cap is not None
            top = cap / max(Fraction(1), product.penalty_multiplier)
            if basis is RateBasis.DAILY:
                top /= product.days_per_year
            pct = Fraction(int(top * 100 * 10**6), 10**6)  # round down to 1e-6 %
            return [f"{float(pct):.6f}".rstrip("0").rstrip(".") + "%"], [1.0]
        total = sum(w for _, w in pairs)
        return [r for r, _ in pairs], [w / total for _, w in pairs]

    d, dw = keep(DAILY_RATES, DAILY_WEIGHTS, RateBasis.DAILY)
    a, aw = keep(ANNUAL_RATES, ANNUAL_WEIGHTS, RateBasis.ANNUAL)
    return d, dw, a, aw


def generate(
    n: int,
    seed: int,
    as_of: date,
    product: Product = DEFAULT_PRODUCT,
    mix: Mix = STRESS_MIX,
) -> Portfolio:
    """``n`` loans disbursed in the year before ``as_of`` and their payments up to it, the
    borrowers' payment behaviours drawn from ``mix``."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rng = np.random.Generator(np.random.PCG64(seed))
    width = max(6, len(str(n)))
    # The draws are made in this order, so a seed gives the same portfolio every time.
    owner, borrower_count = _owners(rng, n)
    b_behaviour = rng.choice(len(BEHAVIOURS), size=borrower_count, p=list(mix.shares))
    b_pack = rng.choice(len(RULE_PACKS), size=borrower_count, p=[w for _, w in RULE_PACKS])
    borrowers = _borrower_profiles(
        rng, np.arange(borrower_count, dtype=np.int64), b_pack, b_behaviour, width
    )
    rates = _rates(rng, n, product)
    months, method = _terms(rng, rates.daily)
    as_of_days = (as_of - schedule_columns.EPOCH).days
    principal, disbursed, due_day = _amounts_and_dates(rng, n, as_of_days)
    cols = schedule_columns.LoanColumns(
        principal, rates.numerator, rates.denominator, rates.daily, months, method, disbursed,
        due_day,
    )  # fmt: skip
    loan_ids = "L" + pl.Series("loan_id", np.arange(1, n + 1)).cast(pl.Utf8).str.zfill(width)
    behaviour = pl.Series(list(BEHAVIOURS)).gather(b_behaviour[owner])
    loans = _loans_frame(loan_ids, owner, cols, rates.text, behaviour, product)
    loans = loans.join(
        borrowers, left_on="_owner", right_on="_idx", how="left", maintain_order="left"
    )
    loans = loans.select(LOAN_COLUMNS)
    payments = _payments(rng, cols, b_behaviour[owner], loan_ids, as_of_days, product, mix)
    return Portfolio(loans, payments)


def _owners(rng: np.random.Generator, n: int) -> tuple[npt.NDArray[np.int64], int]:
    """Each loan's borrower (an index) and the number of borrowers: each holds 1-3 loans, the
    last borrower's count cut so that there are ``n`` loans."""
    per = rng.choice(
        [c for c, _ in LOANS_PER_BORROWER], size=n, p=[w for _, w in LOANS_PER_BORROWER]
    )
    cum = np.cumsum(per)
    borrower_count = int(np.searchsorted(cum, n) + 1)
    per = per[:borrower_count]
    per[-1] -= int(cum[borrower_count - 1]) - n
    return np.repeat(np.arange(borrower_count, dtype=np.int64), per), borrower_count


@dataclass(frozen=True, slots=True)
class _Rates:
    daily: npt.NDArray[np.bool_]  # a daily rate (else annual)
    text: pl.Series  # as the import reads it: "0.03%"
    numerator: npt.NDArray[np.int64]  # the rate as a reduced fraction per day or per year
    denominator: npt.NDArray[np.int64]


def _rates(rng: np.random.Generator, n: int, product: Product) -> _Rates:
    """70% daily rates, 30% annual, each drawn from the listed rates under the product's cap."""
    daily_rates, daily_weights, annual_rates, annual_weights = _rates_under_cap(product)
    daily = rng.random(n) < 0.7
    d_rate = rng.choice(len(daily_rates), size=n, p=daily_weights)
    a_rate = rng.choice(len(annual_rates), size=n, p=annual_weights)
    text = _where(
        daily, pl.Series(daily_rates).gather(d_rate), pl.Series(annual_rates).gather(a_rate)
    )
    d_frac = [parse_rate(r) for r in daily_rates]
    a_frac = [parse_rate(r) for r in annual_rates]
    numerator = np.where(
        daily,
        np.array([f.numerator for f in d_frac], dtype=np.int64)[d_rate],
        np.array([f.numerator for f in a_frac], dtype=np.int64)[a_rate],
    )
    denominator = np.where(
        daily,
        np.array([f.denominator for f in d_frac], dtype=np.int64)[d_rate],
        np.array([f.denominator for f in a_frac], dtype=np.int64)[a_rate],
    )
    return _Rates(daily, text, numerator, denominator)


def _terms(
    rng: np.random.Generator, daily: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Months and repayment method; daily-rate loans are short, bullets only up to 6 months."""
    n = len(daily)
    months = np.where(
        daily,
        rng.choice([3, 6, 12], size=n, p=[0.3, 0.3, 0.4]),
        rng.choice([6, 12, 24], size=n, p=[0.25, 0.45, 0.3]),
    ).astype(np.int64)
    method = np.where(
        daily,
        rng.choice(
            [schedule_columns.ANNUITY, schedule_columns.INTEREST_FIRST], size=n, p=[0.75, 0.25]
        ),
        rng.choice(
            [
                schedule_columns.ANNUITY,
                schedule_columns.EQUAL_PRINCIPAL,
                schedule_columns.INTEREST_FIRST,
                schedule_columns.BULLET,
            ],
            size=n,
            p=[0.5, 0.3, 0.12, 0.08],
        ),
    ).astype(np.int64)
    method = np.where(
        (method == schedule_columns.BULLET) & (months > 6), schedule_columns.ANNUITY, method
    )
    return months, method


def _amounts_and_dates(
    rng: np.random.Generator, n: int, as_of_days: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Principal in fen (log-normal, whole hundreds of yuan), disbursal day and due day."""
    yuan = np.exp(rng.normal(np.log(MEDIAN_PRINCIPAL), SIGMA, size=n))
    yuan = np.clip(np.round(yuan / 100) * 100, PRINCIPAL_MIN, PRINCIPAL_MAX)
    principal = (yuan.astype(np.int64)) * 100
    disbursed = as_of_days - rng.integers(1, 366, size=n, dtype=np.int64)
    due_day = np.where(rng.random(n) < 0.4, rng.integers(1, 29, size=n), 0).astype(np.int64)
    return principal, disbursed, due_day


def _loans_frame(
    loan_ids: pl.Series,
    owner: npt.NDArray[np.int64],
    cols: schedule_columns.LoanColumns,
    rate_text: pl.Series,
    behaviour: pl.Series,
    product: Product,
) -> pl.DataFrame:
    """The loan columns as the import reads them, with ``_owner`` to join the borrowers on."""
    n = len(loan_ids)
    return pl.DataFrame(
        {
            "loan_id": loan_ids,
            "_owner": owner,
            "principal": _fen_text(cols.principal),
            "rate": rate_text,
            "rate_basis": _where(
                cols.daily, pl.repeat("daily", n, eager=True), pl.repeat("annual", n, eager=True)
            ),
            "months": cols.months.astype(np.int16),
            "method": pl.Series(list(schedule_columns.METHOD_CODES)).gather(cols.method),
            "disbursed_on": pl.Series(cols.disbursed, dtype=pl.Int32).cast(pl.Date),
            "due_day": pl.Series(cols.due_day.astype(np.int8)).replace(0, None),
            "product": pl.Series([product.product_id] * n, dtype=pl.Utf8),
            "currency": pl.Series([product.currency] * n, dtype=pl.Utf8),
            "behaviour": behaviour,
        }
    )


def _fake_phones(rng: np.random.Generator, pack: npt.NDArray[np.int64]) -> pl.Series:
    n = len(pack)
    cn = pl.Series(rng.integers(0, 10**8, size=n)).cast(pl.Utf8).str.zfill(8)
    cn = "+86 100 " + cn.str.slice(0, 4) + " " + cn.str.slice(4, 4)
    us = (
        "+1 "
        + pl.Series(US_AREA[rng.integers(0, len(US_AREA), size=n)]).cast(pl.Utf8)
        + " 555 01"
        + pl.Series(rng.integers(0, 100, size=n)).cast(pl.Utf8).str.zfill(2)
    )
    uk = "+44 7700 900" + pl.Series(rng.integers(0, 1000, size=n)).cast(pl.Utf8).str.zfill(3)
    return (
        pl.DataFrame({"p": pack, "cn": cn, "us": us, "uk": uk})
        .select(
            pl.when(pl.col("p") == 0)
            .then(pl.col("cn"))
            .when(pl.col("p") == 1)
            .then(pl.col("us"))
            .otherwise(pl.col("uk"))
        )
        .to_series()
    )


# How many numbers each pack's fiction range holds (cn, us-reg-f, uk-conc; see _fake_phones).
PHONE_ROOM = np.array([10**8, len(US_AREA) * 100, 1000], dtype=np.int64)


def _unique_phones(rng: np.random.Generator, pack: npt.NDArray[np.int64]) -> pl.Series:
    """Borrowers' fake phones, no two alike: SMS sign-in finds a borrower by phone and refuses
    a number on file for two. A pack with more borrowers than its fiction range holds (US and
    UK past about 20,000 borrowers of a portfolio) cannot be unique and repeats numbers."""
    out = _fake_phones(rng, pack)
    room = (np.bincount(pack, minlength=len(PHONE_ROOM)) <= PHONE_ROOM)[pack]
    clash = out.is_duplicated().to_numpy() & ~out.is_first_distinct().to_numpy() & room
    while clash.any():  # redraw the later of each pair until none is left
        out = _where(~clash, out, _fake_phones(rng, pack))
        clash = out.is_duplicated().to_numpy() & ~out.is_first_distinct().to_numpy() & room
    return out


def _other_phones(
    rng: np.random.Generator, pack: npt.NDArray[np.int64], avoid: pl.Series
) -> pl.Series:
    """Fake phones, none equal to ``avoid`` at the same position (the fiction ranges are small)."""
    out = _fake_phones(rng, pack)
    clash = (out == avoid).to_numpy()
    while clash.any():
        out = _where(~clash, out, _fake_phones(rng, pack))
        clash = (out == avoid).to_numpy()
    return out


def _names(rng: np.random.Generator, pack: npt.NDArray[np.int64]) -> pl.Series:
    n = len(pack)
    zh = pl.Series(SURNAMES).gather(rng.integers(0, len(SURNAMES), size=n)) + pl.Series(
        GIVEN
    ).gather(rng.integers(0, len(GIVEN), size=n))
    two = rng.random(n) < 0.7  # most Chinese given names have two characters
    second = pl.Series(GIVEN).gather(rng.integers(0, len(GIVEN), size=n))
    zh = _where(two, zh + second, zh)
    en = (
        pl.Series(FIRST_EN).gather(rng.integers(0, len(FIRST_EN), size=n))
        + " "
        + pl.Series(LAST_EN).gather(rng.integers(0, len(LAST_EN), size=n))
    )
    return _where(pack == 0, zh, en)


def _borrower_profiles(
    rng: np.random.Generator,
    bidx: npt.NDArray[np.int64],
    pack: npt.NDArray[np.int64],
    behaviour: npt.NDArray[np.int64],
    width: int,
) -> pl.DataFrame:
    nb = len(bidx)
    ids = "B" + pl.Series(bidx + 1).cast(pl.Utf8).str.zfill(width)
    language = np.where((pack == 0) & (rng.random(nb) >= 0.05), "zh-CN", "en")
    z_cn = np.array(CN_ZONES, dtype=object)[rng.integers(0, len(CN_ZONES), size=nb)]
    z_us = np.array(US_ZONES, dtype=object)[rng.integers(0, len(US_ZONES), size=nb)]
    z_us2 = np.array(US_ZONES, dtype=object)[rng.integers(0, len(US_ZONES), size=nb)]
    zone = np.where(pack == 0, z_cn, np.where(pack == 1, z_us, "Europe/London"))
    second = np.where(pack == 0, "Asia/Hong_Kong", np.where(pack == 1, z_us2, "Europe/Dublin"))
    travels = (rng.random(nb) < 0.04) & (second != zone)
    zones = np.where(travels, zone + "," + second, zone)
    has_email = rng.random(nb) < 0.7
    email = _where(has_email, ids.str.to_lowercase() + "@example.com")
    house = pl.Series(rng.integers(1, 300, size=nb)).cast(pl.Utf8)
    city = pl.Series(list(CITIES_CN)).gather(rng.integers(0, len(CITIES_CN), size=nb))
    addr_cn = city + "示例路" + house + "号"
    addr_us = house + " Example Street, Springfield"
    addr_uk = house + " Example Road, London"
    address = _where(pack == 0, addr_cn, _where(pack == 1, addr_us, addr_uk))
    # Risk: a score model that partly sees the behaviour to come (mean 250 on time .. 800 never).
    mean = np.array([250, 450, 550, 650, 800])[behaviour]
    risk = np.clip(np.round(rng.normal(mean, 120)), 0, 1000).astype(np.int16)
    vulnerable = rng.random(nb) < np.where(pack == 2, 0.08, 0.03)
    contacts = rng.choice([0, 1, 2], size=nb, p=[0.1, 0.4, 0.5])
    out = {
        "_idx": bidx,
        "borrower_id": ids,
        "borrower_name": _names(rng, pack),
        "phone": _unique_phones(rng, pack),
        "language": language.tolist(),
        "timezones": zones.tolist(),
        "email": email,
        "address": address,
        "risk_score": risk,
        "vulnerable": vulnerable,
        "rule_pack": pl.Series([p for p, _ in RULE_PACKS]).gather(pack),
    }
    phones = out["phone"]
    assert isinstance(phones, pl.Series)
    for k in (1, 2):
        has = contacts >= k
        rel = np.array(RELATIONS, dtype=object)[rng.integers(0, len(RELATIONS), size=nb)]
        out[f"emergency{k}_name"] = _where(has, _names(rng, pack))
        out[f"emergency{k}_phone"] = _where(has, _other_phones(rng, pack, phones))
        out[f"emergency{k}_relation"] = _where(has, pl.Series(rel.tolist(), dtype=pl.Utf8))
    return pl.DataFrame(out)


# (principal, interest) overdue per installment row -> the day's penalty on it, in fen.
PenaltyDay = Callable[[npt.NDArray[np.int64], npt.NDArray[np.int64]], npt.NDArray[np.int64]]


def _daily_penalty(
    loans: schedule_columns.LoanColumns,
    s: schedule_columns.ScheduleColumns,
    product: Product,
) -> PenaltyDay:
    """The ledger's penalty for one day on overdue (principal, interest), per installment row:
    ``round_half_up(base x daily rate x multiplier)`` in integers (``core.ledger.account``)."""
    mult = product.penalty_multiplier
    per_year = np.where(loans.daily, 1, product.days_per_year)[s.loan]
    p = loans.rate_num[s.loan] * mult.numerator
    q = loans.rate_den[s.loan] * per_year * mult.denominator
    with_interest = product.penalty_base is PenaltyBase.INSTALLMENT

    def day(
        principal: npt.NDArray[np.int64], interest: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        base = principal + interest if with_interest else principal
        return np.asarray((2 * base * p + q) // (2 * q), dtype=np.int64)

    return day


def _catch_up_penalty(
    s: schedule_columns.ScheduleColumns,
    product: Product,
    daily_penalty: PenaltyDay,
) -> npt.NDArray[np.int64]:
    """On each row, the penalty accrued by the two installments before it if both are paid on
    its due date: days the first is overdue alone, then days both are (one rounding a day)."""
    g = product.grace_days
    due0, due1 = np.roll(s.due, 2), np.roll(s.due, 1)
    p0, p1 = np.roll(s.principal, 2), np.roll(s.principal, 1)
    i0, i1 = np.roll(s.interest, 2), np.roll(s.interest, 1)
    alone = np.maximum(np.minimum(due1 + g, s.due) - (due0 + g), 0)
    both = np.maximum(s.due - due1 - g, 0)
    total = alone * daily_penalty(p0, i0) + both * daily_penalty(p0 + p1, i0 + i1)
    return np.asarray(total, dtype=np.int64)


def _payments(
    rng: np.random.Generator,
    loans: schedule_columns.LoanColumns,
    behaviour: npt.NDArray[np.int64],
    loan_ids: pl.Series,
    as_of_days: int,
    product: Product,
    mix: Mix,
) -> pl.DataFrame:
    s = schedule_columns.schedules(loans, product.days_per_year, product.min_first_period_days)
    pay = s.principal + s.interest
    b = behaviour[s.loan]
    per_loan = np.bincount(s.loan, minlength=len(loans.principal))
    count = per_loan[s.loan]
    k = s.n - 1
    last = k == count - 1
    # A late installment is paid before the next one falls due, so one is overdue at a time
    # and the day's penalty is that installment's alone (the last may be any days late).
    room = np.where(last, np.iinfo(np.int64).max // 4, np.roll(s.due, -1) - s.due - 1)
    on = s.due.copy()
    amount = pay.copy()
    keep = np.ones(len(on), dtype=np.bool_)
    daily_penalty = _daily_penalty(loans, s, product)
    late = b == 1
    lo, hi = mix.late_days
    on[late] += np.minimum(rng.integers(lo, hi + 1, size=int(late.sum())), room[late])
    # cured: miss installments m, m+1 and pay all three on m+2's due date; with fewer than
    # three installments there is nothing to cure, so pay 10-60 days late instead.
    cured = b == 2
    first_missed = (rng.random(len(per_loan)) * np.maximum(per_loan - 2, 1)).astype(np.int64)
    m = np.minimum(first_missed, np.maximum(per_loan - 3, 0))[s.loan]
    short = cured & (count < 3)
    on[short] += np.minimum(rng.integers(10, 61, size=int(short.sum())), room[short])
    # Whoever pays late pays the penalty accrued too, as the app's amount due shows it, so the
    # loan is current again: days overdue past the grace, times the day's penalty.
    overdue_days = np.maximum(on - s.due - product.grace_days, 0)
    amount = np.where(
        late | short, pay + overdue_days * daily_penalty(s.principal, s.interest), pay
    )
    long_ = cured & (count >= 3)
    keep &= ~(long_ & ((k == m) | (k == m + 1)))
    catch = long_ & (k == m + 2)
    prev1 = np.concatenate([[0], pay[:-1]])
    prev2 = np.concatenate([[0, 0], pay[:-2]])
    amount = np.where(
        catch, pay + prev1 + prev2 + _catch_up_penalty(s, product, daily_penalty), amount
    )
    chronic = b == 3
    keep &= ~(chronic & (k % 2 == 1))
    keep &= b != 4
    keep &= on <= as_of_days
    idx = np.nonzero(keep)[0]
    ids = loan_ids.gather(s.loan[idx])
    return pl.DataFrame(
        {
            "loan_id": ids,
            "amount": _fen_text(amount[idx]),
            "paid_on": pl.Series(on[idx], dtype=pl.Int32).cast(pl.Date),
            "ref": ids + "-P" + pl.Series(s.n[idx]).cast(pl.Utf8).str.zfill(2),
        }
    )
