"""One business day of collection, end to end: accrue, age, choose, gate, enqueue, report.

Phases (each timed in the report):

1. ``accrual``: the columnar close (or the reference) brings every active loan to the date.
2. ``cases``: cases opened for borrowers newly overdue and closed for the cured; promises due
   today checked (kept, partly kept, broken).
3. ``choose``: the policy set picks today's treatments for every borrower in one columnar pass.
4. ``gate``: borrowers in id order, a chunk per transaction: each action is checked by the
   borrower's rule pack against their contact history; allowed messages go to the outbox,
   allowed calls to the agent queue, approved visits are assigned and noticed; blocked ones
   go to the evidence log with the rules that blocked them. The chunk's last borrower is
   recorded in ``close_progress`` in the same transaction, so a rerun after a crash starts
   after it and no action is gated or enqueued twice.
5. ``report``: counts stored with the close run, and the day's evidence root sealed.

When the accrual catches up several days at once, treatments are chosen for the last day only:
a backlog of yesterday's reminders is not worth sending today.
"""

from __future__ import annotations

import json
import time as clock
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, and_, func, or_, select, update

from arrears.compliance import Context, LenderSettings, Pack, get_pack
from arrears.contact.action import PlannedAction
from arrears.contact.messages import OutboundMessage, compose
from arrears.contact.outbox import enqueue
from arrears.contact.templates import BankTransfer, Collector, MessageFacts
from arrears.credit.notices import TEMPLATE as CREDIT_TEMPLATE
from arrears.credit.notices import plan_notices
from arrears.credit.service import outlooks
from arrears.engine.gating import Gated, blocked_payload, gate_action
from arrears.engine.report import CloseReport, PromiseCounts, bucket_lines, roll_rates
from arrears.evidence import log
from arrears.evidence.chain import Entry, Kind
from arrears.services.cases import (
    Attempt,
    case_frames,
    context_for,
    history_for,
    read_frame,
    record_attempts,
    sync_cases,
)
from arrears.services.close import Kernel, close_through
from arrears.services.collection_promises import check_promises
from arrears.services.collection_queue import enqueue_calls
from arrears.services.collection_store import Problem
from arrears.services.collection_visits import (
    assign_visit,
    list_visits,
    record_visit_notice,
    request_visit,
)
from arrears.store import tables as t
from arrears.store.case_tables import collectors, visits
from arrears.store.close_tables import close_progress
from arrears.store.credit_tables import credit_notices
from arrears.store.outbox_tables import outbox
from arrears.store.profile_tables import borrower_profiles, emergency_contacts
from arrears.strategy.frame import choose_frame
from arrears.strategy.model import PolicySet

AUTOMATED = frozenset({"sms", "email", "letter"})
CHUNK = 2000  # borrowers per gate transaction
HISTORY_DAYS = 8  # the caps look back at most 7 days; refusals come through the context
VISIT_LEAD_DAYS = 2  # a visit is noticed at the close and made two days later
VISIT_WINDOW = (time(10, 0), time(12, 0))


@dataclass(frozen=True)
class Lender:
    """Who the borrower hears from and how they repay; on every message."""

    name: str = "Arrears Demo Lender"
    phone: str = "400-000-0000"
    repay_app: str = "the lender's app: Me > Loans > Repay"
    bank: BankTransfer | None = None


@dataclass(frozen=True)
class EngineConfig:
    policies: PolicySet
    lender: Lender = Lender()
    settings: Mapping[str, LenderSettings] = field(default_factory=dict)  # by pack id
    kernel: Kernel = "polars"
    default_pack: str = "cn"


Progress = Callable[[str, int, int], None]  # (phase, done, total)


# --- reading the day's facts ---------------------------------------------------------------


def _bucket_snapshot(conn: Connection) -> pl.DataFrame:
    """(loan_id, bucket) of every active loan, for the roll rates across the accrual."""
    q = select(t.loan_state.c.loan_id, t.loan_state.c.bucket).where(
        t.loan_state.c.status == "active"
    )
    return read_frame(conn, q, {"loan_id": pl.String(), "bucket": pl.String()})


def _moves(before: pl.DataFrame, after: pl.DataFrame) -> list[list[Any]]:
    """[bucket before, bucket after, loans] for loans active on both sides, sorted."""
    moved = (
        before.join(after, on="loan_id", how="inner", suffix="_after")
        .group_by("bucket", "bucket_after")
        .len()
        .sort("bucket", "bucket_after")
    )
    return [[a, b, int(n)] for a, b, n in moved.iter_rows()]


def _actions(frame: pl.DataFrame) -> list[PlannedAction]:
    return [
        PlannedAction(
            borrower_id=r["borrower_id"],
            loan_id=r["loan_id"],
            business_date=r["business_date"],
            policy=r["policy"],
            step=r["step"],
            channel=r["channel"],
            party=r["party"],
            template=r["template"],
            local_time=r["local_time"],
            priority=r["priority"],
            purpose=r["purpose"],
        )
        for r in frame.iter_rows(named=True)
    ]


@dataclass(frozen=True)
class _Who:
    """What the engine needs to address and word a borrower's messages."""

    name: str
    phone: str
    language: str
    email: str | None
    address: str | None
    rule_pack: str
    emergency_phone: str | None


def _people(conn: Connection, ids: Sequence[str], default_pack: str) -> dict[str, _Who]:
    b, p, e = t.borrowers, borrower_profiles, emergency_contacts
    q = (
        select(
            b.c.borrower_id,
            b.c.name,
            b.c.phone,
            p.c.language,
            p.c.email,
            p.c.address,
            p.c.rule_pack,
        )
        .select_from(b.outerjoin(p, p.c.borrower_id == b.c.borrower_id))
        .where(b.c.borrower_id.in_(ids))
    )
    first = {
        r.borrower_id: r.phone
        for r in conn.execute(
            select(e.c.borrower_id, e.c.phone).where(e.c.borrower_id.in_(ids), e.c.seq == 1)
        )
    }
    return {
        r.borrower_id: _Who(
            r.name,
            r.phone,
            r.language or "zh-CN",
            r.email,
            r.address,
            r.rule_pack or default_pack,
            first.get(r.borrower_id),
        )
        for r in conn.execute(q)
    }


def _loan_facts(conn: Connection, loan_ids: Sequence[str], day: date) -> dict[str, dict[str, Any]]:
    """Overdue by component, DPD, the oldest missed due date and the next due, per loan."""
    ls, i = t.loan_state, t.installments
    out: dict[str, dict[str, Any]] = {}
    for r in conn.execute(select(ls).where(ls.c.loan_id.in_(loan_ids))):
        out[r.loan_id] = {
            "principal": r.overdue_principal,
            "interest": r.overdue_interest,
            "penalty": r.overdue_penalty,
            "dpd": r.dpd,
            "due_date": None,
            "next_due_date": None,
            "next_due_amount": None,
        }
    unpaid = (i.c.paid_principal < i.c.principal) | (i.c.paid_interest < i.c.interest)
    oldest = (
        select(i.c.loan_id, func.min(i.c.due_date))
        .where(i.c.loan_id.in_(loan_ids), unpaid, i.c.due_date < day)
        .group_by(i.c.loan_id)
    )
    for lid, d in conn.execute(oldest):
        out[lid]["due_date"] = d
    upcoming = (
        select(
            i.c.loan_id,
            i.c.due_date,
            i.c.principal + i.c.interest - i.c.paid_principal - i.c.paid_interest,
        )
        .where(i.c.loan_id.in_(loan_ids), unpaid, i.c.due_date >= day)
        .order_by(i.c.loan_id, i.c.due_date)
    )
    for lid, d, amount in conn.execute(upcoming):
        if out[lid]["next_due_date"] is None:
            out[lid]["next_due_date"] = d
            out[lid]["next_due_amount"] = int(amount)
    return out


def _facts(who: _Who, loan: dict[str, Any], loan_id: str, lender: Lender) -> MessageFacts:
    return MessageFacts(
        language=who.language,
        lender_name=lender.name,
        lender_phone=lender.phone,
        borrower_name=who.name,
        loan_ref=loan_id,
        overdue_principal=loan["principal"],
        overdue_interest=loan["interest"],
        overdue_penalty=loan["penalty"],
        days_past_due=loan["dpd"],
        due_date=loan["due_date"],
        next_due_date=loan["next_due_date"],
        next_due_amount=loan["next_due_amount"],
        repay_app=lender.repay_app,
        bank_transfer=lender.bank,
    )


def _recipient(a: PlannedAction, who: _Who) -> str | None:
    if a.party == "emergency_contact":
        return who.emergency_phone
    if a.channel == "email":
        return who.email
    if a.channel == "letter":
        return who.address
    return who.phone


# --- the gate phase, one chunk of borrowers -------------------------------------------------


@dataclass
class _Tally:
    actions: Counter[tuple[str, str]] = field(default_factory=Counter)
    routings: Counter[tuple[str, str]] = field(default_factory=Counter)
    blocked: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(
            {
                "actions": [[c, p, n] for (c, p), n in sorted(self.actions.items())],
                "routings": [[k, p, n] for (k, p), n in sorted(self.routings.items())],
                "blocked": sorted(self.blocked.items()),
                "problems": self.problems[-100:],  # a sample; the evidence log has them all
            }
        )

    @classmethod
    def from_json(cls, text: str) -> _Tally:
        d = json.loads(text or "{}")
        return cls(
            Counter({(c, p): n for c, p, n in d.get("actions", [])}),
            Counter({(k, p): n for k, p, n in d.get("routings", [])}),
            Counter(dict(d.get("blocked", []))),
            list(d.get("problems", [])),
        )


def _blocked_entry(g: Gated, pack: Pack) -> Entry:
    return Entry(g.action.borrower_id, Kind.CONTACT_BLOCKED, blocked_payload(g, pack), g.contact.at)


def _gate_chunk(
    conn: Connection,
    day: date,
    actions: Sequence[PlannedAction],
    routings: Sequence[dict[str, Any]],
    config: EngineConfig,
    tally: _Tally,
    now: datetime,
    report_dates: Mapping[str, date],
) -> None:
    ids = sorted({a.borrower_id for a in actions} | {r["borrower_id"] for r in routings})
    if not ids:
        return
    start = datetime.combine(day, time(0), tzinfo=UTC)
    people = _people(conn, ids, config.default_pack)
    contexts = context_for(conn, ids, start)
    histories = history_for(conn, ids, since=start - timedelta(days=HISTORY_DAYS))
    loans = _loan_facts(conn, sorted({a.loan_id for a in actions}), day)
    messages: list[OutboundMessage] = []
    attempts: list[Attempt] = []
    calls: list[PlannedAction] = []
    blocked: list[Entry] = []
    for a in actions:
        who = people[a.borrower_id]
        pack = get_pack(who.rule_pack) or get_pack(config.default_pack)
        assert pack is not None
        ctx = contexts[a.borrower_id]
        if a.channel == "visit":
            _visit(conn, a, who, ctx, loans[a.loan_id], config, tally, now, messages)
            continue
        recipient = _recipient(a, who)
        if recipient is None:
            tally.problems.append(f"{a.borrower_id}/{a.step}: no {a.party} {a.channel} address")
            continue
        msg = None
        content = ""
        if a.channel in AUTOMATED:
            facts = _facts(who, loans[a.loan_id], a.loan_id, config.lender)
            if a.template == CREDIT_TEMPLATE:
                facts = replace(facts, report_date=report_dates.get(a.loan_id))
            msg = compose(a, facts, recipient)
            content = msg.body
        history = histories.setdefault(a.borrower_id, [])
        g = gate_action(
            a,
            history,
            ctx,
            pack,
            number=recipient,
            content=content,
            settings=config.settings.get(pack.id),
        )
        if not g.decision.allowed:
            blocked.append(_blocked_entry(g, pack))
            tally.blocked.update(v.rule for v in g.decision.violations)
            continue
        tally.actions[(a.channel, a.policy)] += 1
        if msg is not None:
            messages.append(replace(msg, not_before=g.contact.at, expires_at=_expiry(g.contact.at)))
            attempts.append(Attempt(msg.key, a.borrower_id, g.contact, day, a.policy, a.step))
            history.append(g.contact)
        else:
            calls.append(a)
    pending = _visits_in_progress(conn, ids)
    routed: list[Entry] = []
    for r in routings:
        tally.routings[(r["kind"], r["policy"])] += 1
        if r["kind"] == "visit_approval":
            if r["borrower_id"] in pending:
                continue  # one request at a time: it waits for the supervisor
            key = f"{day.isoformat()}:{r['borrower_id']}:visit_request"
            res = request_visit(conn, key, r["loan_id"], f"policy:{r['policy']}", now, r["reason"])
            if isinstance(res, Problem):
                tally.problems.append(str(res))
        else:  # forbearance, dispute review, legal: on the case file, for people to act on
            payload = {
                "kind": r["kind"],
                "loan_id": r["loan_id"],
                "policy": r["policy"],
                "reason": r["reason"],
                "business_date": day.isoformat(),
            }
            routed.append(Entry(r["borrower_id"], "case.routed", payload, now))
    if messages:
        enqueue(conn, messages, now)
    if attempts:
        record_attempts(conn, attempts)
    if calls:
        _, problems = enqueue_calls(conn, calls)
        tally.problems.extend(str(p) for p in problems)
    if blocked or routed:
        log.append_many(conn, blocked + routed)


def _expiry(at: datetime) -> datetime:
    """A message the gate allowed at ``at`` may go out until 20:00 that local day, inside every
    pack's hours; later, the dispatcher lets it expire rather than text at night."""
    late = at.replace(hour=20, minute=0, second=0, microsecond=0)
    return late if late > at else at + timedelta(hours=1)


def _visits_in_progress(conn: Connection, ids: Sequence[str]) -> set[str]:
    """Borrowers with a visit requested, approved, assigned or noticed (not yet reported)."""
    q = select(visits.c.borrower_id).where(
        visits.c.borrower_id.in_(ids),
        visits.c.status.in_(("requested", "approved", "assigned", "noticed")),
    )
    return set(conn.execute(q).scalars())


def _visit(
    conn: Connection,
    a: PlannedAction,
    who: _Who,
    ctx: Context,
    loan: dict[str, Any],
    config: EngineConfig,
    tally: _Tally,
    now: datetime,
    messages: list[OutboundMessage],
) -> None:
    """An approved visit: two trained collectors, a daytime window, the borrower told first.

    ``assign_visit`` checks the plan with the compliance gate; a refusal is evidence like any
    blocked contact.
    """
    approved = [v for v in list_visits(conn, a.borrower_id) if v.status == "approved"]
    if not approved:
        return  # already assigned, noticed or done: nothing new today
    visit = approved[-1]
    fresh = sorted(
        c
        for c, trained in ctx.collectors.items()
        if trained > a.business_date - timedelta(days=365)
    )
    zone = ctx.timezones[0]
    when = a.business_date + timedelta(days=VISIT_LEAD_DAYS)
    start = datetime.combine(when, VISIT_WINDOW[0], tzinfo=zone)
    end = datetime.combine(when, VISIT_WINDOW[1], tzinfo=zone)
    team = tuple(fresh[:2])
    res = assign_visit(conn, visit.visit_id, team, start, end, now, who.address)
    if isinstance(res, Problem):
        tally.blocked["visit.assignment"] += 1
        log.append(
            conn,
            a.borrower_id,
            Kind.CONTACT_BLOCKED,
            {
                "key": f"{a.business_date.isoformat()}:{a.borrower_id}:{a.step}",
                "loan_id": a.loan_id,
                "policy": a.policy,
                "step": a.step,
                "channel": "visit",
                "party": a.party,
                "rules": ["visit.assignment"],
                "reason": str(res),
            },
            now,
        )
        return
    notice_action = replace(a, channel="sms", step=f"{a.step}_notice", template="visit_notice")
    names = dict(
        conn.execute(
            select(collectors.c.collector_id, collectors.c.name).where(
                collectors.c.collector_id.in_(team)
            )
        ).all()
    )
    facts = replace(
        _facts(who, loan, a.loan_id, config.lender),
        visit_start=start,
        visit_end=end,
        collectors=tuple(Collector(names[c], c) for c in team),
    )
    told = datetime.combine(a.business_date, a.local_time, tzinfo=zone)
    msg = compose(notice_action, facts, who.phone, not_before=told, expires_at=_expiry(told))
    messages.append(msg)
    record_visit_notice(conn, visit.visit_id, now)
    tally.actions[("visit", a.policy)] += 1


# --- credit notices ------------------------------------------------------------------------


def _record_delivered_notices(conn: Connection) -> int:
    """Credit notices the outbox has delivered, on the credit record (idempotent by key).

    In SQL, as one ``INSERT ... SELECT``. Each row must meet what
    ``credit.service.record_notice`` requires (a key of 1..128 characters not yet used, an
    SMS or a letter, a loan on file; the outbox keeps UTC instants): one that does not is a
    bug upstream and stops the close, as the per-notice call did.
    """
    o, n, ln = outbox, credit_notices, t.loans
    delivered = and_(
        o.c.template == CREDIT_TEMPLATE,
        o.c.status == "sent",
        o.c.message_key.not_in(select(n.c.key)),
    )
    bad = conn.execute(
        select(o.c.message_key, o.c.loan_id, o.c.channel)
        .select_from(o.outerjoin(ln, ln.c.loan_id == o.c.loan_id))
        .where(
            delivered,
            or_(
                func.length(o.c.message_key) > 128,
                func.trim(o.c.message_key) == "",
                o.c.channel.not_in(("sms", "letter")),
                ln.c.loan_id.is_(None),
            ),
        )
        .limit(1)
    ).first()
    assert bad is None, f"credit notice {tuple(bad)} cannot be recorded"
    done = conn.execute(
        n.insert().from_select(
            ["key", "loan_id", "sent_at", "channel"],
            select(o.c.message_key, o.c.loan_id, o.c.sent_at, o.c.channel).where(delivered),
        ),
        execution_options={"preserve_rowcount": True},  # an INSERT's count, on every driver
    )
    return int(done.rowcount)


def _credit_notices(conn: Connection, day: date) -> tuple[list[PlannedAction], dict[str, date]]:
    """Notices due before a loan's first negative credit item, and each one's reporting date.

    Only loans already overdue and without a notice are forecast: a loan that is current has
    nothing negative to report yet, and forecasting every loan every day would cost a replay
    per loan. A loan that falls overdue within the notice period of its reporting date gets
    its notice late; the bureau export then withholds the item and says why (docs/credit.md).
    """
    ls, n = t.loan_state, credit_notices
    ids = list(
        conn.execute(
            select(ls.c.loan_id).where(
                ls.c.status == "active", ls.c.dpd > 0, ls.c.loan_id.not_in(select(n.c.loan_id))
            )
        ).scalars()
    )
    if not ids:
        return [], {}
    looks = outlooks(conn, day, loan_ids=ids)
    dates = {
        o.loan_id: o.first_negative.reporting_date for o in looks if o.first_negative is not None
    }
    return plan_notices(looks, {}, day), dates


# --- the whole day ---------------------------------------------------------------------------


def close_day(
    engine: Engine,
    day: date,
    config: EngineConfig,
    progress: Progress | None = None,
    after_chunk: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> CloseReport:
    """Run (or finish) the close of ``day``; a rerun of a finished close returns its report."""
    now = now or datetime.now(UTC)
    phases: dict[str, float] = {}
    with engine.connect() as conn:
        done = conn.execute(
            select(close_progress.c.last_key).where(
                close_progress.c.business_date == day, close_progress.c.phase == "done"
            )
        ).first()
        if done is not None:
            summary = conn.execute(
                select(t.close_runs.c.summary).where(t.close_runs.c.business_date == day)
            ).scalar_one()
            return replace(report_from_json(json.loads(summary)), already_closed=True)
        accrued = conn.execute(
            select(close_progress.c.tally).where(
                close_progress.c.business_date == day, close_progress.c.phase == "accrual"
            )
        ).scalar()
        before = _bucket_snapshot(conn) if accrued is None else None

    t0 = clock.perf_counter()
    if accrued is None:
        res = close_through(
            engine,
            day,
            (lambda d, n: progress("accrual", d, n)) if progress else None,
            kernel=config.kernel,
        )
        assert before is not None
        with engine.begin() as conn:
            moves = _moves(before, _bucket_snapshot(conn))
            # Kept with the day, so that a close resumed after a crash still reports the
            # accrual and the roll rates of the whole day.
            accrued = json.dumps(
                {
                    "loans_aged": res.loans_aged,
                    "loan_days": res.loan_days,
                    "entries_posted": res.entries_posted,
                    "moves": moves,
                }
            )
            _mark(conn, day, "accrual", "", now, accrued)
    accrual = json.loads(accrued)
    phases["accrual"] = clock.perf_counter() - t0

    t0 = clock.perf_counter()
    with engine.begin() as conn:
        sync_cases(conn, day)
        # The close opens the business day: promises are judged once their date has ended,
        # so today's close settles the promises that fell due yesterday.
        promised = check_promises(conn, day - timedelta(days=1))
        _record_delivered_notices(conn)
    phases["cases"] = clock.perf_counter() - t0

    t0 = clock.perf_counter()
    with engine.connect() as conn:
        framed = case_frames(conn, day)
        resumed = conn.execute(
            select(close_progress.c.last_key, close_progress.c.tally).where(
                close_progress.c.business_date == day, close_progress.c.phase == "collection"
            )
        ).first()
        notices, report_dates = _credit_notices(conn, day)
    chosen, routed = choose_frame(framed.cases, framed.last_sent, config.policies)
    phases["choose"] = clock.perf_counter() - t0

    t0 = clock.perf_counter()
    tally = _Tally.from_json(resumed.tally) if resumed is not None else _Tally()
    resume_after = resumed.last_key if resumed is not None else None
    by_borrower: dict[str, list[PlannedAction]] = defaultdict(list)
    for act in [*_actions(chosen), *notices]:
        by_borrower[act.borrower_id].append(act)
    routes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in routed.iter_rows(named=True):
        routes[r["borrower_id"]].append(r)
    ids = sorted(set(by_borrower) | set(routes))
    if resume_after is not None:
        ids = [b for b in ids if b > resume_after]
    for k in range(0, len(ids), CHUNK):
        chunk = ids[k : k + CHUNK]
        with engine.begin() as conn:
            _gate_chunk(
                conn,
                day,
                [a for b in chunk for a in by_borrower.get(b, ())],
                [r for b in chunk for r in routes.get(b, ())],
                config,
                tally,
                now,
                report_dates,
            )
            _mark(conn, day, "collection", chunk[-1], now, tally.to_json())
        if progress:
            progress("gate", min(k + CHUNK, len(ids)), len(ids))
        if after_chunk:
            after_chunk(k // CHUNK)
    phases["gate"] = clock.perf_counter() - t0

    t0 = clock.perf_counter()
    with engine.begin() as conn:
        ls = t.loan_state
        overdue = ls.c.overdue_principal + ls.c.overdue_interest + ls.c.overdue_penalty
        owed = ls.c.outstanding_principal + ls.c.outstanding_interest + ls.c.outstanding_penalty
        # One line per bucket, summed in the database (exact: integer fen).
        buckets = conn.execute(
            select(ls.c.bucket, func.count(), func.sum(overdue), func.sum(owed))
            .where(ls.c.status == "active")
            .group_by(ls.c.bucket)
        ).all()
        report = CloseReport(
            business_date=day,
            engine=config.kernel,
            loans_aged=accrual["loans_aged"],
            loan_days=accrual["loan_days"],
            entries_posted=accrual["entries_posted"],
            buckets=bucket_lines((b, int(n), int(o), int(s)) for b, n, o, s in buckets),
            rolls=roll_rates((a, b, n) for a, b, n in accrual["moves"]),
            actions=dict(tally.actions),
            routings=dict(tally.routings),
            blocked=dict(tally.blocked),
            promises=PromiseCounts(
                promised.due, promised.kept, promised.partly_kept, promised.broken
            ),
            cases_open=framed.open_cases,
            phases=phases,
        )
        log.store_root(conn, day.isoformat(), now)
        conn.execute(
            update(t.close_runs)
            .where(t.close_runs.c.business_date == day)
            .values(summary=json.dumps(report.as_dict(), sort_keys=True, ensure_ascii=False))
        )
        _mark(conn, day, "done", "", now)
    phases["report"] = clock.perf_counter() - t0
    return replace(report, phases=dict(phases))


def _mark(
    conn: Connection, day: date, phase: str, last_key: str, now: datetime, tally: str = "{}"
) -> None:
    cp = close_progress
    hit = conn.execute(
        update(cp)
        .where(and_(cp.c.business_date == day, cp.c.phase == phase))
        .values(last_key=last_key, updated_at=now, tally=tally)
    )
    if hit.rowcount == 0:
        conn.execute(
            cp.insert().values(
                business_date=day, phase=phase, last_key=last_key, updated_at=now, tally=tally
            )
        )


def report_from_json(d: Mapping[str, Any]) -> CloseReport:
    """A stored report back as data (money strings back to fen)."""
    from arrears.engine.report import BucketLine, Roll
    from arrears.money import parse_amount

    return CloseReport(
        business_date=date.fromisoformat(d["business_date"]),
        engine=d["engine"],
        loans_aged=d["loans_aged"],
        loan_days=d["loan_days"],
        entries_posted=d["entries_posted"],
        buckets=tuple(
            BucketLine(
                b["bucket"], b["loans"], parse_amount(b["overdue"]), parse_amount(b["outstanding"])
            )
            for b in d["buckets"]
        ),
        rolls=tuple(Roll(r["from"], r["to"], r["loans"], r["of"]) for r in d["roll_rates"]),
        actions={(a["channel"], a["policy"]): a["count"] for a in d["actions"]},
        routings={(a["kind"], a["policy"]): a["count"] for a in d["routings"]},
        blocked={b["rule"]: b["count"] for b in d["blocked"]},
        promises=PromiseCounts(**d["promises"]),
        cases_open=d["cases_open"],
        phases=d["phases"],
    )
