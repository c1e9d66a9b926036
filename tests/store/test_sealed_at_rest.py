"""After a demo-sized run (the importer, then closes that write the outbox, the agent queue,
contact attempts and visits), no sealed column holds a clear value when read raw: every bulk
writer (COPY, executemany) sealed what it wrote."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select, text

from arrears.services.settings import default_settings
from arrears.services.simulation.behaviour_file import bundled_behaviour
from arrears.services.simulation.demo import run_demo
from arrears.store import tables as t
from arrears.store.profile_tables import emergency_contacts
from arrears.store.sealed import PREFIX, sealed_columns
from arrears.store.tables import metadata

pytestmark = pytest.mark.slow


def test_no_clear_personal_data_after_import_and_closes(engine: Engine) -> None:
    run_demo(engine, 200, 12, default_settings(), bundled_behaviour())
    with engine.connect() as conn:
        clear = {r.phone for r in conn.execute(select(t.borrowers.c.phone))}
        clear |= {r.name for r in conn.execute(select(t.borrowers.c.name))}
        clear |= {r.phone for r in conn.execute(select(emergency_contacts.c.phone))}
        seen: dict[str, int] = {}
        for table in metadata.sorted_tables:
            for name in sealed_columns(table):
                values = conn.execute(text(f'SELECT "{name}" FROM "{table.name}"')).scalars()
                for v in values:
                    if v is None or v == "":
                        continue
                    assert v.startswith(PREFIX), f"{table.name}.{name} holds {v!r} in clear"
                    assert v not in clear
                    seen[f"{table.name}.{name}"] = seen.get(f"{table.name}.{name}", 0) + 1
    # The run wrote each kind of row the bulk writers write (else the check above saw nothing).
    for where in ("borrowers.phone", "borrowers.name", "emergency_contacts.phone",
                  "borrower_profiles.address", "outbox.recipient", "mailbox.recipient",
                  "contact_attempts.number", "queue_items.number"):  # fmt: skip
        assert seen.get(where, 0) > 0, (where, seen)
    assert len(clear) > 200
