"""The simulated borrowers' model: the bundled file parses, every bad key is named, the
typical book drawn from it is a few percent overdue, and the commands take the file."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from arrears.cli.main import app
from arrears.core.sim.behaviour import PROMISER, answer_call, in_spell, keeps_promise
from arrears.core.sim.generate import generate
from arrears.core.sim.model import BEHAVIOURS, STRESS_MIX, Reactions, Spell, parse_model
from arrears.services.close.day import CloseConfig
from arrears.services.policy_files import default_policy_set
from arrears.services.simulation import scenario
from arrears.services.simulation.behaviour_file import bundled_behaviour_path, load_behaviour
from arrears.services.simulation.operation import simulate
from arrears.store import case_tables, profile_tables, tables
from arrears.store.case_tables import complaints
from arrears.store.case_tables import plans as plan_tables
from arrears.store.engine import make_engine
from arrears.store.migrate import upgrade

runner = CliRunner()
AS_OF = date(2026, 11, 28)


def _bundled() -> dict:
    return yaml.safe_load(bundled_behaviour_path().read_text(encoding="utf-8"))


def test_the_bundled_file_parses_and_its_mix_adds_up() -> None:
    model, problems = load_behaviour()
    assert problems == () and model is not None
    assert abs(sum(model.mix.shares) - 1) < 1e-9
    assert set(model.answer_rate) == set(BEHAVIOURS) == set(model.promise_rate)
    # A never-payer is the seed's borrower who cannot be reached and keeps no promise.
    assert model.answer_rate["never"] == 0 and model.promise_rate["never"] == 0


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["mix"].update(on_time=0.5), "mix"),  # no longer adds up to 1
        (lambda d: d["mix"].pop("never"), "mix.never"),
        (lambda d: d["mix"].update(sometimes=0.0), "mix.sometimes"),
        (lambda d: d["answer_rate"].update(late=1.5), "answer_rate.late"),
        (lambda d: d["promise_rate"].update(cured="often"), "promise_rate.cured"),
        (lambda d: d.update(late_days=[14, 1]), "late_days"),
        (lambda d: d.update(late_days=7), "late_days"),
        (lambda d: d.update(keep_rate=True), "keep_rate"),
        (lambda d: d.update(promise_days=0), "promise_days"),
        (lambda d: d.update(busy_share=-0.1), "busy_share"),
        (lambda d: d.update(hardship=0.1), "hardship"),
        (lambda d: d["reactions"].update(complaint_rate=2), "reactions.complaint_rate"),
        (lambda d: d["reactions"]["plan_rate"].pop("late"), "reactions.plan_rate.late"),
        (lambda d: d["reactions"].update(shouting=0.1), "reactions.shouting"),
        (lambda d: d.update(reactions=[]), "reactions"),
    ],
)
def test_a_bad_key_is_named(edit, field: str) -> None:  # type: ignore[no-untyped-def]
    data = _bundled()
    edit(data)
    model, problems = parse_model(data)
    assert model is None
    assert [p.field for p in problems] == [field], problems


def test_a_file_that_is_not_a_mapping_or_not_yaml(tmp_path: Path) -> None:
    for text in ("- 1\n- 2\n", "mix: [unclosed\n"):
        f = tmp_path / "b.yaml"
        f.write_text(text, encoding="utf-8")
        model, problems = load_behaviour(f)
        assert model is None and problems and problems[0].record == str(f)
    model, problems = load_behaviour(tmp_path / "absent.yaml")
    assert model is None and "cannot read" in problems[0].reason


def test_the_typical_book_draws_the_files_shares() -> None:
    model, _ = load_behaviour()
    assert model is not None
    loans = generate(20_000, 11, AS_OF, mix=model.mix).loans
    by_borrower = Counter(loans.unique("borrower_id")["behaviour"].to_list())
    total = sum(by_borrower.values())
    for name, share in zip(BEHAVIOURS, model.mix.shares, strict=True):
        assert abs(by_borrower[name] / total - share) < 0.01, (name, by_borrower)


def test_the_stress_mix_is_the_generators_default() -> None:
    default = generate(300, 5, AS_OF)
    stress = generate(300, 5, AS_OF, mix=STRESS_MIX)
    assert default.loans.equals(stress.loans) and default.payments.equals(stress.payments)


def test_the_typical_book_is_a_few_percent_overdue(db_url: str, tmp_path: Path) -> None:
    """Imported with its payment history and closed once, a few percent of loans are overdue
    (issue 19: "a real lender's" month), against about a third in the stress book."""
    shares = {}
    for mix, url in (("typical", db_url), ("stress", f"sqlite:///{tmp_path / 'stress.db'}")):
        loans, pays = tmp_path / f"{mix}-l.csv", tmp_path / f"{mix}-p.csv"
        res = runner.invoke(
            app,
            ["portfolio", "generate", "--loans", "2000", "--seed", "4", "--mix", mix,
             "--as-of", "2026-11-28", "--out", str(loans), "--payments-out", str(pays)],
        )  # fmt: skip
        assert res.exit_code == 0, res.stderr
        for cmd in (["loans", "import", str(loans)], ["payments", "import", str(pays)]):
            assert runner.invoke(app, [*cmd, "--db", url]).exit_code == 0
        res = runner.invoke(app, ["close-day", "--through", "2026-11-28", "--db", url])
        assert res.exit_code == 0, res.stderr
        res = runner.invoke(app, ["portfolio", "summary", "--db", url, "--json"])
        summary = json.loads(res.stdout)
        overdue = sum(b["loans"] for b in summary["by_bucket"] if b["name"] != "C")
        shares[mix] = overdue / summary["active"]
        _late_payers_are_current_between_their_late_days(url, loans, pays)
    assert 0.01 <= shares["typical"] <= 0.08, shares
    assert shares["stress"] > 3 * shares["typical"], shares


def _late_payers_are_current_between_their_late_days(url: str, loans: Path, pays: Path) -> None:
    """A late or cured payer's payments clear what the ledger says was due, penalty included:
    such a loan is overdue on the close's day only while an installment is due and unpaid."""
    book = pl.read_csv(loans, infer_schema_length=0)
    paid = pl.read_csv(pays, infer_schema_length=0)
    behaviour = dict(zip(book["loan_id"], book["behaviour"], strict=True))
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(tables.loan_state.c.loan_id, tables.loan_state.c.dpd)).all()
        dpd = {lid: days for lid, days in rows}
        due = conn.execute(
            select(tables.installments.c.loan_id, tables.installments.c.n,
                   tables.installments.c.due_date)
        ).all()  # fmt: skip
    engine.dispose()
    refs = set(paid["ref"])
    open_due = {lid for lid, n, on in due if on <= AS_OF and f"{lid}-P{n:02d}" not in refs}
    checked = 0
    for loan_id, kind in behaviour.items():
        if kind in ("late", "cured") and loan_id not in open_due:
            assert dpd[loan_id] == 0, (loan_id, kind, dpd[loan_id])
            checked += 1
    assert checked > 20


def test_the_model_decides_answers_and_promises() -> None:
    model, _ = load_behaviour()
    assert model is not None
    day = date(2026, 11, 2)
    # A never-payer answers no call; the scenario's promiser answers and promises every time.
    assert all(
        answer_call(model, 1, "B1", "never", day, k, 100).result in ("no_answer", "busy")
        for k in range(50)
    )
    promised = [answer_call(model, 1, "B2", "promiser", day, k, 100) for k in range(20)]
    assert all(a.result == "promise_to_pay" for a in promised)
    assert promised[0].promise_on == date(2026, 11, 2 + model.promise_days)
    kept = sum(keeps_promise(model, 2, f"B{k}", "late", day) for k in range(2000)) / 2000
    assert abs(kept - model.keep_rate) < 0.04


def test_commands_refuse_a_bad_behaviour_file(tmp_path: Path) -> None:
    data = _bundled()
    data["mix"]["never"] = 0.5
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = tmp_path / "x.csv"
    generate_typical = ["portfolio", "generate", "--loans", "5", "--seed", "1", "--mix", "typical"]
    for args in (
        [*generate_typical, "--out", str(out)],
        ["demo", "--db", str(tmp_path / "d.db"), "--loans", "10", "--days", "1"],
        ["simulate", "--days", "1", "--start", "2026-11-01", "--db", str(tmp_path / "s.db")],
    ):
        res = runner.invoke(app, [*args, "--behaviour", str(bad)])
        assert res.exit_code == 2, (args, res.stdout)
        assert res.stderr.startswith(f"error: {bad}: mix: ")
    assert not out.exists() and not (tmp_path / "d.db").exists()
    res = runner.invoke(app, [*generate_typical[:-1], "gentle", "--out", str(out)])
    assert res.exit_code == 2 and "--mix" in res.stderr and not out.exists()


def test_spells_draw_their_share_and_length() -> None:
    spell = Spell(0.2, (5, 20))
    start, days = date(2026, 11, 1), 60
    lengths = []
    for k in range(3000):
        on = [
            d
            for d in range(days + 20)
            if in_spell(spell, 1, f"B{k}", "unreachable", start, days, start + timedelta(days=d))
        ]
        if on:
            assert on == list(range(on[0], on[-1] + 1)), "one unbroken spell"
            assert on[0] < days
            lengths.append(len(on))
    assert abs(len(lengths) / 3000 - 0.2) < 0.03
    assert min(lengths) == 5 and max(lengths) == 20
    # another kind of spell is drawn apart from this one
    assert any(
        in_spell(spell, 1, f"B{k}", "hardship", start, days, start + timedelta(days=d))
        != in_spell(spell, 1, f"B{k}", "unreachable", start, days, start + timedelta(days=d))
        for k in range(50)
        for d in range(days)
    )
    assert not in_spell(Spell(0.0, (5, 20)), 1, "B1", "x", start, days, start)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["unreachable"].update(share=2), "unreachable.share"),
        (lambda d: d["hardship"].update(days=[90, 30]), "hardship.days"),
        (lambda d: d["hardship"].update(often=True), "hardship.often"),
        (lambda d: d.update(unreachable="sometimes"), "unreachable"),
    ],
)
def test_a_bad_spell_is_named(edit, field: str) -> None:  # type: ignore[no-untyped-def]
    data = _bundled()
    edit(data)
    model, problems = parse_model(data)
    assert model is None and [p.field for p in problems] == [field], problems


def test_in_hardship_nobody_pays_and_unreachable_nobody_answers(tmp_path: Path) -> None:
    """Everyone has a hardship and an unreachable spell: no call is answered inside a spell,
    planned payments are skipped, and the run has fewer answers and payments than without."""
    base, _ = load_behaviour()
    assert base is not None
    always = Spell(1.0, (40, 40))
    stuck = dataclasses.replace(base, unreachable=always, hardship=always)
    start, days = date(2026, 11, 1), 20
    got = {}
    for name, model in (("normal", base), ("stuck", stuck)):
        engine = make_engine(f"sqlite:///{tmp_path / name}.db")
        upgrade(engine)
        sc = scenario.build(engine, start, loans=150, seed=2, pack="cn", days=days, mix=STRESS_MIX)
        config = CloseConfig(default_policy_set(), default_pack="cn")
        result = simulate(
            engine, start, days, config, sc.behaviours, sc.payments, seed=2, model=model
        )
        q = case_tables.queue_items.c
        with engine.connect() as conn:
            answered = conn.execute(
                select(q.borrower_id, q.on_date).where(
                    q.outcome.in_(["reached", "promise_to_pay", "refused"]), q.party == "debtor"
                )
            ).all()
        engine.dispose()
        got[name] = (result.payments, result.hardship_skipped, len(answered))
        if name == "stuck":
            for borrower, on in answered:
                assert not in_spell(always, 2, borrower, "unreachable", start, days, on)
    assert got["normal"][1] == 0 and got["stuck"][1] > 0
    assert got["stuck"][0] < got["normal"][0] and got["stuck"][2] < got["normal"][2]


def _reacting_run(
    tmp_path: Path, name: str, reactions: Reactions
) -> tuple[Any, Engine, dict[str, str]]:
    base, _ = load_behaviour()
    assert base is not None
    model = dataclasses.replace(base, reactions=reactions)
    start, days = date(2026, 11, 1), 20
    engine = make_engine(f"sqlite:///{tmp_path / name}.db")
    upgrade(engine)
    sc = scenario.build(engine, start, loans=150, seed=3, pack=None, days=days, mix=STRESS_MIX)
    result = simulate(
        engine, start, days, CloseConfig(default_policy_set()), sc.behaviours, sc.payments,
        seed=3, model=model,
    )  # fmt: skip
    return result, engine, dict(sc.behaviours)


def test_every_answered_call_complains_when_the_model_says_so(tmp_path: Path) -> None:
    """Complaint rate 1: each call a borrower answered is one complaint against the contact,
    recorded by the complaints service in the borrower's language, with its deadline."""
    everyone = Reactions(1.0, 0.0, dict.fromkeys(BEHAVIOURS, 0.0), 0.0)
    result, engine, behaviours = _reacting_run(tmp_path, "complain", everyone)
    q, p = case_tables.queue_items.c, profile_tables.borrower_profiles.c
    with engine.connect() as conn:
        callees = conn.execute(
            select(q.borrower_id).where(
                q.outcome.in_(["reached", "promise_to_pay"]), q.party == "debtor"
            )
        ).scalars()
        # The scenario's hand-made promiser only ever promises (core.sim.behaviour.react).
        answered = sum(behaviours.get(b) != PROMISER for b in callees)
        rows = conn.execute(select(complaints)).all()
        languages = dict(conn.execute(select(p.borrower_id, p.language)).all())
    engine.dispose()
    assert answered > 0 and result.complaints == answered == len(rows)
    assert {r.against for r in rows} == {"contact"}
    for r in rows:
        chinese = any("\u4e00" <= ch <= "\u9fff" for ch in r.text)
        assert chinese == (languages.get(r.borrower_id, "zh-CN") == "zh-CN"), r.text
        assert r.due_on is not None


def test_plan_requests_go_to_the_policy_and_approved_plans_are_paid(tmp_path: Path) -> None:
    """Plan rate 1: borrowers who answer with something overdue ask for six months; what the
    policy approves (or refers and the supervisor approves) is in force, and its installments
    are planned as payments (kept as promises are); one request a borrower."""
    asking = Reactions(0.0, 0.0, dict.fromkeys(BEHAVIOURS, 1.0), 0.0)
    result, engine, _ = _reacting_run(tmp_path, "plans", asking)
    with engine.connect() as conn:
        plans = conn.execute(select(plan_tables.c.borrower_id, plan_tables.c.status)).all()
    engine.dispose()
    assert result.plans_requested == len(plans) > 0
    assert len({b for b, _ in plans}) == len(plans)
    assert result.plans_in_force == sum(s in ("active", "completed", "broken") for _, s in plans)
    assert result.plans_in_force > 0


def test_the_same_seed_gives_the_same_reactions(tmp_path: Path) -> None:
    bundled, _ = load_behaviour()
    assert bundled is not None
    first, e1, _ = _reacting_run(tmp_path, "a", bundled.reactions)
    second, e2, _ = _reacting_run(tmp_path, "b", bundled.reactions)
    e1.dispose()
    e2.dispose()
    assert first.summary(date(2026, 11, 1), 20) == second.summary(date(2026, 11, 1), 20)
