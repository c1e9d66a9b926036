"""Builders shared by the case, queue, promise and visit tests (no tests here).

Loans come in through the real importer and are aged by the real close, so a borrower is
overdue because a schedule says so, not because a row was typed in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, delete, insert

from arrears.core.contact.action import PlannedAction
from arrears.services.close.reference import close_through
from arrears.store.profile_tables import borrower_profiles, emergency_contacts
from factories import import_rows, loan_row

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The close of 2024-03-01, which the tests sync cases for, runs as that day opens.
CLOSE_AT = datetime(2024, 3, 1, 0, 30, tzinfo=UTC)
# loan_row: 1,200.00 over 3 months from 2024-01-15, so installments fall due on the 15th of
# February, March and April 2024 (400.00 principal each plus interest).
FIRST_DUE = date(2024, 2, 15)


def sh(text: str) -> datetime:
    """A Shanghai wall-clock time, e.g. sh("2024-03-01 10:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def overdue_loans(
    engine: Engine,
    tmp_path: Path,
    loan_ids: list[str],
    through: date = date(2024, 3, 1),
    profiles: dict[str, dict[str, Any]] | None = None,
    emergency: dict[str, list[str]] | None = None,
) -> None:
    """Import loans (borrower B-<loan id> each), age them through ``through``, add profiles."""
    import_rows(engine, tmp_path, [loan_row(lid) for lid in loan_ids])
    close_through(engine, through)
    with engine.begin() as conn:
        for lid in loan_ids:
            b = f"B-{lid}"
            values: dict[str, Any] = {"borrower_id": b, "timezones": "Asia/Shanghai"}
            values.update((profiles or {}).get(b, {}))
            # The importer may already have written a default profile: replace it.
            conn.execute(delete(borrower_profiles).where(borrower_profiles.c.borrower_id == b))
            conn.execute(insert(borrower_profiles).values(**values))
        for b, phones in (emergency or {}).items():
            conn.execute(delete(emergency_contacts).where(emergency_contacts.c.borrower_id == b))
            for seq, phone in enumerate(phones, start=1):
                conn.execute(
                    insert(emergency_contacts).values(
                        borrower_id=b, seq=seq, name=f"EC {seq}", phone=phone, relation="friend"
                    )
                )


def call_action(
    loan_id: str,
    on: date = date(2024, 3, 1),
    *,
    step: str = "call_debtor",
    party: str = "debtor",
    priority: int = 0,
    at: time = time(10, 0),
) -> PlannedAction:
    return PlannedAction(
        borrower_id=f"B-{loan_id}",
        loan_id=loan_id,
        business_date=on,
        policy="default",
        step=step,
        channel="call",
        party=party,  # type: ignore[arg-type]
        template="请您尽快还款" if party == "debtor" else "请转告张三尽快给我们回电",
        local_time=at,
        priority=priority,
    )
