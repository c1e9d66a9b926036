"""A simulated collection operation: the engine's days, with borrowers, agents and supervisors.

Each simulated day: the close (accrual, cases, policy, gate, enqueue); the outbox delivered
to the local mailbox; agents working the call queue (the borrower's behaviour decides who
answers and who promises); the supervisor approving requested visits; collectors reporting on
visits whose window is today; then the day's payments (planned by behaviour, or promised).
Everything goes through the same services a real deployment uses; only the people are
simulated, deterministically for a seed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from arrears.adapters import MailboxAdapter
from arrears.core.close.report import CloseReport
from arrears.core.contact.queue import QueueItem
from arrears.core.ledger.account import Status, payoff_amount
from arrears.core.loans.calendar import add_months
from arrears.core.problem import Result, fail, ok
from arrears.core.sim.behaviour import (
    answer_call,
    complains_of_contact_call,
    in_spell,
    keeps_installment,
    keeps_promise,
    react,
)
from arrears.core.sim.model import BehaviourModel
from arrears.services import events
from arrears.services.accounts import load_accounts
from arrears.services.close.day import CloseConfig, close_business_day
from arrears.services.close.reference import accrue_loan_through
from arrears.services.collection.common import Problem
from arrears.services.collection.complaints import file_complaint
from arrears.services.collection.dispatch import dispatch
from arrears.services.collection.outcomes import record_outcome
from arrears.services.collection.plans import Plan, decide_plan, list_plans, request_plan
from arrears.services.collection.queue import next_item
from arrears.services.collection.visits import approve_visit, list_visits, report_visit
from arrears.services.importer import read_frame
from arrears.services.payments_file import apply_payments
from arrears.services.simulation.behaviour_file import bundled_behaviour
from arrears.store import tables
from arrears.store.profile_tables import borrower_profiles

SUPERVISOR = "supervisor-1"
AGENT = "agent-1"


@dataclass(frozen=True, slots=True)
class PlannedPayment:
    loan_id: str
    amount: int  # fen
    on: date
    ref: str
    # A borrower keeping a promise to "pay what is overdue" pays what is overdue on the day,
    # penalty since the call included, and at least what was promised.
    clear_overdue: bool = False


@dataclass
class SimResult:
    reports: list[CloseReport] = field(default_factory=list)
    payments: int = 0
    refused_payments: list[str] = field(default_factory=list)
    calls: int = 0
    promises: int = 0
    visits_reported: int = 0
    dispatched: int = 0
    hardship_skipped: int = 0  # planned payments not made: the borrower was in hardship
    complaints: int = 0  # against a call, or the call of an emergency contact
    disputes: int = 0  # complaints against the amount
    plans_requested: int = 0
    plans_in_force: int = 0  # approved by the policy or a supervisor

    def summary(self, start: date, days: int) -> dict[str, Any]:
        """What ``arrears simulate`` prints: the run's span and its totals."""
        return {
            "start": start.isoformat(),
            "through": (start + timedelta(days=days - 1)).isoformat(),
            "calls": self.calls,
            "promises": self.promises,
            "payments": self.payments,
            "visits_reported": self.visits_reported,
            "complaints": self.complaints,
            "disputes": self.disputes,
            "plans_requested": self.plans_requested,
            "plans_in_force": self.plans_in_force,
            "actions": sum(sum(r.actions.values()) for r in self.reports),
            "blocked": sum(sum(r.blocked.values()) for r in self.reports),
        }


@dataclass(frozen=True, slots=True)
class _People:
    """Who the simulated borrowers are and how they behave over this run."""

    behaviours: Mapping[str, str]
    model: BehaviourModel
    seed: int
    start: date
    days: int

    def unreachable(self, borrower_id: str, day: date) -> bool:
        spell = self.model.unreachable
        return in_spell(spell, self.seed, borrower_id, "unreachable", self.start, self.days, day)

    def in_hardship(self, borrower_id: str, day: date) -> bool:
        spell = self.model.hardship
        return in_spell(spell, self.seed, borrower_id, "hardship", self.start, self.days, day)


def portfolio_behaviours(path: Path) -> Result[dict[str, str]]:
    """borrower id -> behaviour, from a generated loans file's ``behaviour`` column."""
    frame, problems = read_frame(path)
    if frame is None:
        return fail(*(Problem("--portfolio", "", str(p)) for p in problems))
    if "behaviour" not in frame.columns:
        return fail(Problem("--portfolio", "", f"{path} has no behaviour column"))
    return ok(dict(zip(frame["borrower_id"], frame["behaviour"], strict=True)))


def _end_of(day: date) -> datetime:
    """Late on ``day`` in UTC: after every local business hour in the zones we serve."""
    return datetime.combine(day, time(23, 59), tzinfo=UTC)


def simulate(
    engine: Engine,
    start: date,
    days: int,
    config: CloseConfig,
    behaviours: Mapping[str, str],
    payments: Iterable[PlannedPayment] = (),
    *,
    seed: int = 0,
    model: BehaviourModel | None = None,
    on_day: Callable[[date, CloseReport], None] | None = None,
) -> SimResult:
    """Run ``days`` business days from ``start``. ``behaviours``: borrower id -> behaviour;
    ``model``: how they answer calls and keep promises (default: the bundled model)."""
    people = _People(behaviours, model or bundled_behaviour(), seed, start, days)
    planned: dict[date, list[PlannedPayment]] = defaultdict(list)
    for p in payments:
        planned[p.on].append(p)
    mailbox = MailboxAdapter(engine)
    adapters = {"sms": mailbox, "email": mailbox, "letter": mailbox}
    result = SimResult()
    attempts: dict[str, int] = defaultdict(int)
    for k in range(days):
        day = start + timedelta(days=k)
        report = close_business_day(
            engine, day, config, now=datetime.combine(day, time(0, 30), UTC)
        )
        result.reports.append(report)
        # The dispatcher runs all day; every two hours is often enough for the simulation to
        # send each message inside its window (10:00 to 20:00 local) in every zone we serve.
        for hour in range(1, 24, 2):
            at = datetime.combine(day, time(hour, 0), UTC)
            result.dispatched += dispatch(engine, adapters, now=at, limit=100_000).sent
        _work_queue(engine, day, people, planned, attempts, result)
        _visits(engine, day, result)
        _plans(engine, day, people, planned, result)
        _pay_day(engine, planned.pop(day, []), people, result)
        if on_day:
            on_day(day, report)
    return result


def _pay_day(engine: Engine, day: list[PlannedPayment], people: _People, result: SimResult) -> None:
    """The day's payments as one batch, as a bank file arrives (the batch path is many times
    faster than one transaction each); a borrower in a hardship spell pays nothing. A loan's
    second payment of the day is sized after its first, so it goes alone afterwards; if the
    batch is refused, all go one by one, so that a refused payment is recorded and the rest
    still land."""
    with engine.connect() as conn:
        loaded = load_accounts(conn, sorted({p.loan_id for p in day}))
    batch: list[tuple[str, int, date, str]] = []
    later: list[PlannedPayment] = []
    batched: set[str] = set()
    for p in day:
        rec, acct = loaded[p.loan_id]
        if acct.status is not Status.ACTIVE:
            continue  # repaid already (early, or on a promise)
        if people.in_hardship(rec.borrower_id, p.on):
            result.hardship_skipped += 1
            continue
        if p.loan_id in batched:
            later.append(p)
            continue
        batched.add(p.loan_id)
        acct = accrue_loan_through(acct, rec.product, p.on)[0] if acct.as_of < p.on else acct
        wanted = max(p.amount, _overdue(engine, p.loan_id)) if p.clear_overdue else p.amount
        batch.append((p.loan_id, min(wanted, payoff_amount(acct, rec.product, p.on)), p.on, p.ref))
    if batch:
        _, refused = apply_payments(engine, batch)
        if not refused:
            result.payments += len(batch)
        else:
            later = [
                p for p in day if not people.in_hardship(loaded[p.loan_id][0].borrower_id, p.on)
            ]
    for p in later:
        _pay(engine, p, result)


def _pay(engine: Engine, p: PlannedPayment, result: SimResult) -> None:
    """Pay as planned; a plan made in advance may exceed what is left, so pay at most that."""
    with engine.connect() as conn:
        loaded = load_accounts(conn, [p.loan_id])
    rec, acct = loaded[p.loan_id]
    if acct.status is not Status.ACTIVE:
        return  # repaid already (early, or on a promise)
    acct = accrue_loan_through(acct, rec.product, p.on)[0] if acct.as_of < p.on else acct
    wanted = max(p.amount, _overdue(engine, p.loan_id)) if p.clear_overdue else p.amount
    amount = min(wanted, payoff_amount(acct, rec.product, p.on))
    _, refused = events.pay(engine, p.loan_id, amount, p.on, p.ref)
    if refused:
        result.refused_payments.append(str(refused[0]))
    else:
        result.payments += 1


def _overdue(engine: Engine, loan_id: str) -> int:
    loan_state = tables.loan_state
    with engine.connect() as conn:
        row = conn.execute(
            select(tables.overdue_total()).where(loan_state.c.loan_id == loan_id)
        ).scalar()
    return int(row or 0)


def _work_queue(
    engine: Engine,
    day: date,
    people: _People,
    planned: dict[date, list[PlannedPayment]],
    attempts: dict[str, int],
    result: SimResult,
) -> None:
    """One agent dials every call due today, in queue order, hour by hour through the day (a
    call is handed out only inside its window); the borrower's behaviour answers."""
    for hour in range(24):
        _work_hour(engine, day, datetime.combine(day, time(hour, 59), UTC), people, planned,
                   attempts, result)  # fmt: skip


def _work_hour(
    engine: Engine,
    day: date,
    now: datetime,
    people: _People,
    planned: dict[date, list[PlannedPayment]],
    attempts: dict[str, int],
    result: SimResult,
) -> None:
    while True:
        with engine.begin() as conn:
            item = next_item(conn, AGENT, now)
        if item is None or item.due_at.date() > day + timedelta(days=1):
            return
        attempts[item.borrower_id] += 1
        behaviour = people.behaviours.get(item.borrower_id, "late")
        model, seed = people.model, people.seed
        if item.party == "debtor" and people.unreachable(item.borrower_id, day):
            outcome, promise = "no_answer", None
        elif item.party == "debtor":
            answer = answer_call(
                model,
                seed,
                item.borrower_id,
                behaviour,
                day,
                attempts[item.borrower_id],
                _overdue(engine, item.loan_id),
            )
            outcome, promise = answer.result, None
            if answer.result == "promise_to_pay" and answer.promise_on is not None:
                promise = (answer.promise_on, answer.promise_amount)
        else:  # an emergency contact who picks up says they will pass the message on
            outcome, promise = "reached", None
        with engine.begin() as conn:
            res = record_outcome(
                conn,
                outcome=outcome,
                at=item.due_at,
                item_id=item.item_id,
                agent=AGENT,
                promise=promise,
            )
        assert not res[1], res[1]
        result.calls += 1
        if outcome in ("reached", "promise_to_pay"):
            _react(engine, item, behaviour, day, attempts[item.borrower_id], people, planned,
                   result)  # fmt: skip
        if promise is not None:
            result.promises += 1
            on, amount = promise
            if keeps_promise(model, seed, item.borrower_id, behaviour, on):
                payable = min(amount, _overdue(engine, item.loan_id)) or amount
                ref = f"promise:{item.key}"
                planned[on].append(PlannedPayment(item.loan_id, payable, on, ref, True))


COMPLAINTS = {
    "zh-CN": {
        "complaint": "催收电话打得太频繁，影响我的工作和生活，请减少联系。",
        "dispute": "你们说的欠款金额和我算的不一样，请核对后再联系我。",
        "third_party": "你们联系了我的紧急联系人，我没有同意你们把欠款告诉他们。",
    },
    "en": {
        "complaint": "You are calling me too often; it is disrupting my work. Please call less.",
        "dispute": "The amount you say I owe is not what I make it. Please check it first.",
        "third_party": "You contacted someone I know about my debt. I did not agree to that.",
    },
}


def _react(
    engine: Engine,
    item: QueueItem,
    behaviour: str,
    day: date,
    attempt: int,
    people: _People,
    planned: dict[date, list[PlannedPayment]],
    result: SimResult,
) -> None:
    """A complaint, a dispute or a plan request from a borrower who answered (or whose
    emergency contact did), through the same services the borrower's app uses."""
    model, seed = people.model, people.seed
    language = _language(engine, item.borrower_id)
    if item.party != "debtor":
        if complains_of_contact_call(model, seed, item.borrower_id, day, attempt):
            _complain(engine, item, "contact", COMPLAINTS[language]["third_party"])
            result.complaints += 1
        return
    overdue = _overdue(engine, item.loan_id)
    what = react(model, seed, item.borrower_id, behaviour, day, attempt, overdue)
    if what == "complaint":
        _complain(engine, item, "contact", COMPLAINTS[language]["complaint"])
        result.complaints += 1
    elif what == "dispute":
        _complain(engine, item, "amount", COMPLAINTS[language]["dispute"])
        result.disputes += 1
    elif what == "plan":
        _ask_for_plan(engine, item, behaviour, people, planned, result)


def _language(engine: Engine, borrower_id: str) -> str:
    with engine.connect() as conn:
        found = conn.execute(
            select(borrower_profiles.c.language).where(
                borrower_profiles.c.borrower_id == borrower_id
            )
        ).scalar()
    return found if found in COMPLAINTS else "zh-CN"


def _complain(engine: Engine, item: QueueItem, against: str, text: str) -> None:
    with engine.begin() as conn:
        _, refused = file_complaint(
            conn,
            key=f"sim-{against}:{item.key}",
            borrower_id=item.borrower_id,
            at=item.due_at + timedelta(hours=1),
            against=against,
            text=text,
            loan_id=item.loan_id,
        )
    assert not refused, refused


def _ask_for_plan(
    engine: Engine,
    item: QueueItem,
    behaviour: str,
    people: _People,
    planned: dict[date, list[PlannedPayment]],
    result: SimResult,
) -> None:
    """The borrower asks for six months to pay; the policy decides (a supervisor decides what
    it refers, in ``_visits``). A refused request (say, a loan not in arrears enough for the
    policy) is what the borrower would be told, and nothing is recorded."""
    with engine.begin() as conn:
        if list_plans(conn, borrower_id=item.borrower_id):
            return  # one request a borrower in a run
        plan, _ = request_plan(
            conn,
            key=f"sim-plan:{item.key}",
            borrower_id=item.borrower_id,
            loan_id=item.loan_id,
            at=item.due_at + timedelta(minutes=30),
            reason="job_loss" if behaviour in ("chronic", "cured") else "other",
            months=6,
        )
    if plan is None:
        return
    result.plans_requested += 1
    if plan.status == "active":
        _plan_payments(plan, people, planned, result)


def _plan_payments(
    plan: Plan, people: _People, planned: dict[date, list[PlannedPayment]], result: SimResult
) -> None:
    """The plan's installments the borrower will pay (each kept as a promise is)."""
    result.plans_in_force += 1
    for n in range(plan.months):
        on = add_months(plan.first_due, n)
        if keeps_installment(people.model, people.seed, plan.borrower_id, plan.plan_id, n):
            planned[on].append(
                PlannedPayment(plan.loan_id, plan.monthly, on, f"plan:{plan.plan_id}:{n}")
            )


def _plans(
    engine: Engine,
    day: date,
    people: _People,
    planned: dict[date, list[PlannedPayment]],
    result: SimResult,
) -> None:
    """The supervisor approves the plans the policy referred to them, at the end of the day."""
    with engine.begin() as conn:
        pending = list_plans(conn, status="pending")
        for p in pending:
            plan, refused = decide_plan(
                conn, p.plan_id, decision="approve", by=SUPERVISOR, at=_end_of(day)
            )
            assert plan is not None, refused
            _plan_payments(plan, people, planned, result)


def _visits(engine: Engine, day: date, result: SimResult) -> None:
    """The supervisor approves what was requested; collectors report on today's visits."""
    with engine.begin() as conn:
        for v in list_visits(conn):
            if v.status == "requested":
                _, refused = approve_visit(conn, v.visit_id, SUPERVISOR, _end_of(day))
                assert not refused, refused
            elif (
                v.status == "noticed"
                and v.window_start is not None
                and v.window_start.date() == day
            ):
                at = v.window_start + timedelta(minutes=30)
                _, refused = report_visit(
                    conn,
                    v.visit_id,
                    at,
                    "Visited the address; nobody answered the door.",
                    "not_home",
                )
                assert not refused, refused
                result.visits_reported += 1
