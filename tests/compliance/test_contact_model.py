"""A Contact refuses a naive instant in any of its time fields, naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from arrears.core.compliance.model import Contact

AWARE = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
NAIVE = datetime(2024, 5, 1, 9, 0)


@pytest.mark.parametrize("field", ["at", "consent_until", "records_until"])
def test_a_naive_time_is_refused_by_name(field: str) -> None:
    fields = {"at": AWARE, field: NAIVE}
    with pytest.raises(ValueError, match=f"Contact.{field} must be timezone-aware"):
        Contact(debt_id="L1", **fields)  # type: ignore[arg-type]


def test_aware_times_and_absent_optional_ones_are_accepted() -> None:
    c = Contact(at=AWARE, debt_id="L1", consent_until=AWARE, records_until=None)
    assert c.consent_until == AWARE


def test_a_conversation_without_a_connection_is_refused() -> None:
    with pytest.raises(ValueError, match="conversation implies"):
        Contact(at=AWARE, debt_id="L1", channel="call", conversation=True, connected=False)
