"""Between the per-loan domain (``Account``, ``Product``, ``Entry``) and the kernel's columns."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import polars as pl

from arrears.core.close.kernel import (
    ENTRY_KINDS,
    INST_SCHEMA,
    STATE_SCHEMA,
    day_date,
    day_number,
    with_aggregates,
)
from arrears.core.ledger.account import Account, penalty_rate
from arrears.core.ledger.journal import (
    INCOME_INTEREST,
    INCOME_PENALTY,
    Entry,
    EntryKind,
    Posting,
    receivable,
)
from arrears.core.loans.product import Component, PenaltyBase, Product
from arrears.core.loans.schedule import LoanTerms

BASE_COLUMNS = [
    c for c in STATE_SCHEMA if c not in ("pen_base",) and not c.startswith(("od_", "os_"))
]


def product_columns(terms: LoanTerms, product: Product) -> dict[str, Any]:
    """The per-loan product settings the kernel reads (penalty rate reduced, exact)."""
    rate = penalty_rate(terms, product)  # a Fraction: always in lowest terms
    return settings_columns(rate, product)


def settings_columns(rate: Fraction, product: Product) -> dict[str, Any]:
    """Product settings as kernel columns, for a loan whose daily penalty rate is ``rate``."""
    t1, t2, t3, t4 = product.classification_thresholds
    return {
        "grace_days": product.grace_days,
        "base_interest": product.penalty_base is PenaltyBase.INSTALLMENT,
        "rate_num": rate.numerator,
        "rate_den": rate.denominator,
        "t1": t1,
        "t2": t2,
        "t3": t3,
        "t4": t4,
    }


def frames_from_accounts(
    accounts: Sequence[tuple[Account, Product]],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The kernel's state (with aggregates) and installments (sorted by due) for these accounts."""
    base_rows: list[dict[str, Any]] = []
    inst_rows: list[dict[str, Any]] = []
    for row, (acct, product) in enumerate(accounts):
        base_rows.append(
            {
                "loan_id": acct.loan_id,
                "as_of": day_number(acct.as_of),
                "status": acct.status.value,
                "penalty_unposted": acct.penalty_unposted,
                "penalty_owed": acct.penalty_owed,
                "prepaid_principal": acct.prepaid_principal,
                **product_columns(acct.terms, product),
            }
        )
        for i in acct.installments:
            inst_rows.append(
                {
                    "row": row,
                    "n": i.n,
                    "due": day_number(i.due_date),
                    "interest": i.interest,
                    "unpaid_principal": i.unpaid_principal,
                    "unpaid_interest": i.unpaid_interest,
                }
            )
    base = pl.DataFrame(base_rows, schema={c: STATE_SCHEMA[c] for c in BASE_COLUMNS})
    insts = pl.DataFrame(inst_rows, schema=INST_SCHEMA).sort("due", "row")
    return with_aggregates(base, insts), insts


def entries_to_domain(entries: pl.DataFrame, loan_ids: Sequence[str]) -> list[Entry]:
    """Kernel entry rows as ledger entries, keys and accounts spelled as ``accrue_loan_day``
    spells them.

    ``loan_ids`` is the state frame's ``loan_id`` column (entries name loans by row).
    """
    out = []
    for r in entries.iter_rows(named=True):
        loan_id = loan_ids[r["row"]]
        on = day_date(r["day"])
        kind = EntryKind(ENTRY_KINDS[r["kind"]])
        if kind is EntryKind.INTEREST_DUE:
            key = f"{loan_id}:interest:{r['n']}"
            debit, credit = receivable(loan_id, Component.INTEREST), INCOME_INTEREST
        else:
            key = f"{loan_id}:penalty:{on.isoformat()}"
            debit, credit = receivable(loan_id, Component.PENALTY), INCOME_PENALTY
        amount = r["amount"]
        out.append(
            Entry(key, loan_id, kind, on, (Posting(debit, amount), Posting(credit, -amount)))
        )
    return out
