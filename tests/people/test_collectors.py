"""Collectors and training records: validation and the registry the gate reads."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine

from arrears.core.people.collectors import (
    Collector,
    Training,
    latest_training,
    validate_collector,
    validate_training,
)
from arrears.services.collection.gate_context import collector_registry
from arrears.services.collection.people import add_collector, add_training, list_collectors
from factories import refused, succeeded


@pytest.mark.parametrize(
    ("collector", "field"),
    [
        (Collector("", "Name", "C1"), "collector_id"),
        (Collector("has space", "Name", "C1"), "collector_id"),
        (Collector("c1", " ", "C1"), "name"),
        (Collector("c1", "Name", ""), "credential_no"),
        (Collector("c1", "Name", "C1", agency=""), "agency"),
    ],
)
def test_bad_collectors_name_the_field(collector: Collector, field: str) -> None:
    assert [p.field for p in validate_collector(collector)] == [field]


def test_training_in_the_future_or_without_course_is_refused() -> None:
    today = date(2024, 3, 1)
    assert validate_training(Training("c1", date(2024, 3, 1), "x"), today) == []
    assert [p.field for p in validate_training(Training("c1", date(2024, 3, 2), "x"), today)] == [
        "trained_on"
    ]
    assert [p.field for p in validate_training(Training("c1", today, " "), today)] == ["course"]


def test_latest_training_only_for_registered_collectors() -> None:
    people = [Collector("a", "A", "1"), Collector("b", "B", "2", registered=False)]
    trainings = [
        Training("a", date(2023, 1, 1), "x"),
        Training("a", date(2024, 1, 1), "y"),
        Training("a", date(2022, 1, 1), "z"),
        Training("b", date(2024, 1, 1), "x"),
    ]
    assert latest_training(people, trainings) == {"a": date(2024, 1, 1)}


def test_registry_in_the_database(engine: Engine) -> None:
    today = date(2024, 3, 1)
    with engine.begin() as conn:
        assert succeeded(add_collector(conn, Collector("a", "A", "1"))) is True
        assert succeeded(add_collector(conn, Collector("b", "B", "2", registered=False))) is True
        assert succeeded(add_collector(conn, Collector("c", "C", "3", agency="Agency"))) is True
        for t in (
            Training("a", date(2023, 1, 1), "x"),
            Training("a", date(2024, 1, 1), "y"),
            Training("b", date(2024, 1, 1), "x"),
        ):
            assert succeeded(add_training(conn, t, today)) is True
        assert succeeded(add_training(conn, Training("a", date(2024, 1, 1), "y"), today)) is False
        clash = refused(add_collector(conn, Collector("a", "Other name", "1")))
        assert clash.field == "collector_id"
        missing = refused(add_training(conn, Training("zz", date(2024, 1, 1), "x"), today))
        assert missing.reason == "no such collector"
    with engine.connect() as conn:
        # b is not registered and c never trained: neither may visit (the gate says why).
        assert dict(collector_registry(conn)) == {"a": date(2024, 1, 1)}
        listed = {c["collector_id"]: c["last_trained_on"] for c in list_collectors(conn)}
    assert listed == {"a": date(2024, 1, 1), "b": date(2024, 1, 1), "c": None}
