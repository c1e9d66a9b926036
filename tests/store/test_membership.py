"""store/membership selects exactly the rows a plain ``IN`` selects, whatever the ids hold."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, insert, select

from arrears.store.membership import SEPARATOR, SQLITE_BATCH, batches, joined, one_of

META = MetaData()
THINGS = Table(
    "membership_things",
    META,
    Column("thing_id", String(64), primary_key=True),
    Column("n", Integer, nullable=False),
)

# Ids that would break a naive array literal: separators, braces, quotes, backslashes,
# whitespace at the ends, the word NULL, an empty string, non-ASCII.
AWKWARD = [
    f"a{SEPARATOR}b",
    "a,b",
    "{x}",
    'say "hi"',
    "back\\slash",
    " pad ",
    "NULL",
    "null",
    "",
    "借呗-1",
    "a'b",
]


def _store(engine: Engine, ids: list[str]) -> None:
    META.create_all(engine)
    with engine.begin() as conn:
        conn.execute(THINGS.delete())
        if ids:
            conn.execute(insert(THINGS), [{"thing_id": i, "n": k} for k, i in enumerate(ids)])


def _chosen(engine: Engine, wanted: list[str]) -> list[str]:
    with engine.connect() as conn:
        found: list[str] = []
        for batch in batches(conn, wanted):
            q = select(THINGS.c.thing_id).where(one_of(conn, THINGS.c.thing_id, batch))
            found.extend(conn.execute(q).scalars())
        return sorted(found)


def test_awkward_ids_match_themselves_only(engine: Engine) -> None:
    stored = [*AWKWARD, "a", "b", "x", "say", "hi", "slash"]
    _store(engine, stored)
    assert _chosen(engine, AWKWARD) == sorted(AWKWARD)
    assert _chosen(engine, ["a,b"]) == ["a,b"]  # not "a" and "b"
    assert _chosen(engine, ["NULL"]) == ["NULL"]
    assert _chosen(engine, []) == []
    assert _chosen(engine, ["absent"]) == []


def test_integer_columns(engine: Engine) -> None:
    _store(engine, ["p", "q", "r"])
    with engine.connect() as conn:
        q = select(THINGS.c.thing_id).where(one_of(conn, THINGS.c.n, [0, 2, 7]))
        assert sorted(conn.execute(q).scalars()) == ["p", "r"]


def test_lists_longer_than_a_sqlite_batch(engine: Engine) -> None:
    ids = [f"id{k:05d}" for k in range(SQLITE_BATCH * 2 + 7)]
    _store(engine, ids)
    assert _chosen(engine, ids[::2]) == sorted(ids[::2])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    stored=st.lists(
        st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=12),
        unique=True,
        max_size=15,
    ),
    extra=st.lists(st.text(max_size=6).filter(lambda s: "\x00" not in s), max_size=5),
)
def test_same_rows_as_python_membership(
    engine: Engine, stored: list[str], extra: list[str]
) -> None:
    _store(engine, stored)
    wanted = sorted(set(stored[::2]) | set(extra))
    assert _chosen(engine, wanted) == sorted(set(stored) & set(wanted))


def test_a_lone_empty_id_and_the_separator_itself(engine: Engine) -> None:
    _store(engine, ["", "a", "b", f"a{SEPARATOR}b"])
    assert _chosen(engine, [""]) == [""]
    assert _chosen(engine, ["", "a"]) == ["", "a"]
    assert _chosen(engine, [f"a{SEPARATOR}b"]) == [f"a{SEPARATOR}b"]
    assert _chosen(engine, [f"a{SEPARATOR}b", "b"]) == sorted([f"a{SEPARATOR}b", "b"])


def test_none_is_refused() -> None:
    for values in (["a", None], [None]):
        try:
            joined(values)
        except ValueError as exc:
            assert "None" in str(exc)
        else:  # pragma: no cover - the assertion above is the test
            raise AssertionError("None accepted as an id")


def test_postgresql_folds_the_list_into_one_constant_array(engine: Engine) -> None:
    """The planner must see a constant array (it then probes it through a hash, PostgreSQL 14
    and later), not an expression it evaluates per row: a sequential scan over a table without
    statistics compared every row with every element."""
    if engine.dialect.name != "postgresql":
        return
    _store(engine, ["a", "b"])
    with engine.connect() as conn:
        q = select(THINGS.c.thing_id).where(one_of(conn, THINGS.c.thing_id, ["a", "b", "c"]))
        compiled = q.compile(conn)
        plan = conn.exec_driver_sql(
            "EXPLAIN (VERBOSE) " + str(compiled), compiled.construct_params()
        )
        text = "\n".join(r[0] for r in plan)
    assert "= ANY ('{a,b,c}'::text[])" in text, text


def test_connections_prepare_no_statements(engine: Engine) -> None:
    """A prepared statement settles on a generic plan made with the statistics of its moment
    (an empty table on the first close); each run must be planned afresh."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        for _ in range(8):
            conn.exec_driver_sql("SELECT count(*) FROM pg_class WHERE relname = %(n)s", {"n": "x"})
        assert conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar() == 0
