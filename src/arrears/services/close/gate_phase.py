"""The gate phase of the close: each planned action checked, composed and queued, in chunks.

A chunk of borrowers is *planned* and then *applied*:

* ``plan_chunk`` reads what the gate needs (people, contexts, histories, loan facts, evidence
  heads) and decides: messages composed, every action checked by the borrower's rule pack,
  blocked ones turned into evidence entries, routings gathered; then builds the rows to write
  and chains the evidence records after the heads it read. It writes nothing, so it can run in
  a worker process beside the others (``plans``).
* ``apply_chunk`` writes a plan in one transaction. It first locks the chunk's chains and
  checks that no borrower of the chunk has had a new evidence record since the plan read the
  heads (every contact, outcome, promise or request appends one); if any has, the chunk is
  planned again inside the transaction, so a decision never rests on a history that has
  moved. Then it inserts: evidence, outbox, attempts, agent queue, new case routings; and does
  what must read and write as it goes: approved visits (assigned and noticed, gated again) and
  visit requests.

A routing to people (forbearance, dispute review, legal) is recorded once per case and kind
(``case_routings`` and a ``case.routed`` evidence record); the policy routes the case again
every day its condition holds, and those days add nothing but the report's count.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from arrears.core.compliance import Context, LenderSettings, Pack
from arrears.core.compliance.packs import get_pack
from arrears.core.compliance.validation import ValidationFacts
from arrears.core.contact.action import PlannedAction
from arrears.core.contact.capacity import has_room, region_of
from arrears.core.contact.gating import (
    Gated,
    blocked_payload,
    gate_action,
    local_instant,
    planned_payload,
    window_end,
)
from arrears.core.contact.messages import OutboundMessage, compose
from arrears.core.contact.templates import Collector, MessageFacts
from arrears.core.credit.notices import TEMPLATE as CREDIT_TEMPLATE
from arrears.core.credit.notices import NoticeDue
from arrears.core.evidence import chain
from arrears.core.evidence.chain import Entry, Kind
from arrears.core.lender.settings import Lender
from arrears.core.texts import TextSet
from arrears.services import evidence as log
from arrears.services import outbox, validation_notices
from arrears.services.close.gc_tuning import BATCH_THRESHOLDS
from arrears.services.collection.common import Problem, to_utc
from arrears.services.collection.gate_context import context_for, profile_rows
from arrears.services.collection.history import history_for
from arrears.services.collection.queue import Callee, queue_rows
from arrears.services.collection.visits import (
    VisitRequest,
    assign_visit,
    list_visits,
    live_visits,
    record_visit_notice,
    request_visits,
)
from arrears.services.references import recipient_ref
from arrears.services.settings import default_settings
from arrears.services.texts import message_texts
from arrears.store import bulk, tables
from arrears.store.case_tables import (
    case_routings,
    cases,
    collectors,
    queue_items,
    visits,
)
from arrears.store.engine import make_engine
from arrears.store.evidence_tables import evidence_records
from arrears.store.membership import one_of
from arrears.store.profile_tables import emergency_contacts

AUTOMATED = frozenset({"sms", "email", "letter"})
BORROWERS_PER_CHUNK = 2000  # borrowers per gate transaction
HISTORY_DAYS = 8  # the caps look back at most 7 days; refusals come through the context
VISIT_LEAD_DAYS = 2  # a visit is noticed at the close and made two days later
VISIT_WINDOW = (time(10, 0), time(12, 0))


def _default_lender() -> Lender:
    return default_settings().lender


@dataclass(frozen=True)
class GateConfig:
    """What the gate phase needs of the engine's configuration (plain data: it goes to workers).

    ``lender``: who the borrower hears from and how they repay, on every message (the lender's
    settings); ``texts``: the message templates."""

    lender: Lender = field(default_factory=_default_lender)
    texts: TextSet = field(default_factory=message_texts)
    settings: Mapping[str, LenderSettings] = field(default_factory=dict)  # by pack id
    default_pack: str = "cn"
    # Home visits a region's field team makes in a day (settings capacity): an approved visit
    # beyond it waits, approved, for a day with room.
    visits_per_region: int = field(
        default_factory=lambda: default_settings().capacity.visits_per_region_per_day
    )


@dataclass(frozen=True)
class _Who:
    """What the engine needs to address and word a borrower's messages."""

    name: str
    phone: str
    language: str
    email: str | None
    address: str | None
    rule_pack: str
    emergency_phones: tuple[str, ...]  # by seq

    @property
    def emergency_phone(self) -> str | None:
        return self.emergency_phones[0] if self.emergency_phones else None


def _people(
    conn: Connection,
    ids: Sequence[str],
    default_pack: str,
    profiles: Mapping[str, Any] | None = None,
) -> dict[str, _Who]:
    """``profiles``: the borrowers' profile rows (``cases.profile_rows``), if read already."""
    b, e = tables.borrowers, emergency_contacts
    if profiles is None:
        profiles = profile_rows(conn, ids)
    phones: dict[str, list[str]] = {}
    contacts = select(e.c.borrower_id, e.c.phone).where(one_of(conn, e.c.borrower_id, ids))
    for borrower_id, phone in conn.execute(contacts.order_by(e.c.borrower_id, e.c.seq)).all():
        phones.setdefault(borrower_id, []).append(phone)
    out: dict[str, _Who] = {}
    q = select(b.c.borrower_id, b.c.name, b.c.phone).where(one_of(conn, b.c.borrower_id, ids))
    for borrower_id, name, phone in conn.execute(q).all():
        p = profiles.get(borrower_id)
        out[borrower_id] = _Who(
            name,
            phone,
            (p.language if p is not None else None) or "zh-CN",
            p.email if p is not None else None,
            p.address if p is not None else None,
            (p.rule_pack if p is not None else None) or default_pack,
            tuple(phones.get(borrower_id, ())),
        )
    return out


def _loan_facts(conn: Connection, loan_ids: Sequence[str], day: date) -> dict[str, dict[str, Any]]:
    """Overdue by component, DPD, the oldest missed due date and the next due, per loan."""
    loan_state, insts = tables.loan_state, tables.installments
    out: dict[str, dict[str, Any]] = {}
    state = select(
        loan_state.c.loan_id,
        loan_state.c.overdue_principal,
        loan_state.c.overdue_interest,
        loan_state.c.overdue_penalty,
        loan_state.c.dpd,
    ).where(one_of(conn, loan_state.c.loan_id, loan_ids))
    for lid, principal, interest, penalty, dpd in conn.execute(state).all():
        out[lid] = {
            "principal": principal,
            "interest": interest,
            "penalty": penalty,
            "dpd": dpd,
            "due_date": None,
            "next_due_date": None,
            "next_due_amount": None,
        }
    unpaid = (insts.c.paid_principal < insts.c.principal) | (
        insts.c.paid_interest < insts.c.interest
    )
    oldest = (
        select(insts.c.loan_id, func.min(insts.c.due_date))
        .where(one_of(conn, insts.c.loan_id, loan_ids), unpaid, insts.c.due_date < day)
        .group_by(insts.c.loan_id)
    )
    for lid, d in conn.execute(oldest).all():
        out[lid]["due_date"] = d
    # Only each loan's next unpaid installment comes back (the first by due date, then
    # number): returning every future installment (a dozen a loan) cost more than the rest of
    # the chunk's reads. A window over the same index read, not a join to a per-loan minimum:
    # PostgreSQL planned the join as a nested loop over the whole table.
    ranked = (
        select(
            insts.c.loan_id,
            insts.c.due_date,
            (
                insts.c.principal
                + insts.c.interest
                - insts.c.paid_principal
                - insts.c.paid_interest
            ).label("amount"),
            func.row_number()
            .over(partition_by=insts.c.loan_id, order_by=(insts.c.due_date, insts.c.n))
            .label("rank"),
        )
        .where(one_of(conn, insts.c.loan_id, loan_ids), unpaid, insts.c.due_date >= day)
        .subquery()
    )
    upcoming = select(ranked.c.loan_id, ranked.c.due_date, ranked.c.amount).where(
        ranked.c.rank == 1
    )
    for lid, d, amount in conn.execute(upcoming).all():  # one row a loan: rank 1
        out[lid]["next_due_date"] = d
        out[lid]["next_due_amount"] = int(amount)
    return out


def _facts(
    who: _Who,
    loan: dict[str, Any],
    loan_id: str,
    lender: Lender,
    report_date: date | None = None,
) -> MessageFacts:
    return MessageFacts(
        language=who.language,
        lender_name=lender.name.get(who.language),
        lender_phone=lender.hotline,
        borrower_name=who.name,
        loan_ref=loan_id,
        overdue_principal=loan["principal"],
        overdue_interest=loan["interest"],
        overdue_penalty=loan["penalty"],
        days_past_due=loan["dpd"],
        due_date=loan["due_date"],
        next_due_date=loan["next_due_date"],
        next_due_amount=loan["next_due_amount"],
        repay_app=lender.repayment_channel.get(who.language),
        report_date=report_date,
        signature=lender.signature.get(who.language),
        mailing_address=lender.mailing_address.get(who.language),
    )


def _recipient(a: PlannedAction, who: _Who, refused: frozenset[str]) -> str | None:
    if a.party == "emergency_contact":
        # The number the queue will dial (the first emergency contact who has not refused),
        # so the gate checks that one; when all have refused, the first, which the gate then
        # blocks with the refusal on record.
        willing = _willing(who, refused)
        return willing[0] if willing else who.emergency_phone
    if a.channel == "email":
        return who.email
    if a.channel == "letter":
        return who.address
    return who.phone


def _willing(who: _Who, refused: frozenset[str]) -> tuple[str, ...]:
    """The borrower's emergency contacts' phones, by seq, but those who refused contact."""
    return tuple(p for p in who.emergency_phones if p not in refused)


# --- the gate phase, one chunk of borrowers -------------------------------------------------


@dataclass
class Tally:
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

    def add(self, other: Tally) -> None:
        self.actions.update(other.actions)
        self.routings.update(other.routings)
        self.blocked.update(other.blocked)
        self.problems.extend(other.problems)

    @classmethod
    def from_json(cls, text: str) -> Tally:
        d = json.loads(text or "{}")
        return cls(
            Counter({(c, p): n for c, p, n in d.get("actions", [])}),
            Counter({(k, p): n for k, p, n in d.get("routings", [])}),
            Counter(dict(d.get("blocked", []))),
            list(d.get("problems", [])),
        )


def _blocked_entry(g: Gated, pack: Pack) -> Entry:
    return Entry(g.action.borrower_id, Kind.CONTACT_BLOCKED, blocked_payload(g, pack), g.contact.at)


@dataclass
class Rows:
    """Rows of one table, column names once and values as tuples: compact between processes
    (a plan sent back as dicts and objects cost the writer more to unpickle than to write)."""

    columns: tuple[str, ...] = ()
    values: Sequence[tuple[Any, ...]] = field(default_factory=list)

    @classmethod
    def of(cls, dicts: Sequence[Mapping[str, Any]]) -> Rows:
        if not dicts:
            return cls()
        columns = tuple(dicts[0])
        return cls(columns, [tuple(d[c] for c in columns) for d in dicts])

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, v, strict=True)) for v in self.values]


@dataclass
class ChunkPlan:
    """What the gate decided for one chunk of borrowers, as the rows ``apply_chunk`` writes:
    the outbox, the agent queue, and every evidence record (contacts planned, then blocked
    contacts and routings) chained after the heads the plan read (``heads``, their digest).
    No contact is recorded as made here: the dispatcher records a message when it goes out,
    the agent a call when it is dialled. Visits and visit requests read and write as they go,
    so they are done there."""

    borrower_ids: list[str]
    heads: str
    tally: Tally = field(default_factory=lambda: Tally())
    outbox: Rows = field(default_factory=Rows)
    queue: Rows = field(default_factory=Rows)
    evidence: Rows = field(default_factory=Rows)
    visits: list[PlannedAction] = field(default_factory=list)  # approved: assigned at apply
    visit_requests: list[VisitRequest] = field(default_factory=list)
    routings: list[tuple[Any, ...]] = field(default_factory=list)  # case_routings rows, new


@dataclass(frozen=True)
class ChunkInput:
    """One chunk's share of the day's choice (plain data: it goes to workers)."""

    day: date
    actions: list[PlannedAction]
    routings: list[dict[str, Any]]
    notices: dict[str, NoticeDue]  # the day's credit notices by loan: key and date named
    now: datetime
    # Reg F validation notices' figures by loan (services.validation_notices)
    validations: dict[str, ValidationFacts] = field(default_factory=dict)

    @property
    def borrower_ids(self) -> list[str]:
        return sorted(
            {a.borrower_id for a in self.actions} | {r["borrower_id"] for r in self.routings}
        )


def plan_chunk(conn: Connection, chunk: ChunkInput, config: GateConfig) -> ChunkPlan:
    """Decide every action of the chunk; reads only."""
    day, now = chunk.day, chunk.now
    ids = chunk.borrower_ids
    heads = log.heads(conn, ids)
    plan = ChunkPlan(ids, log.heads_digest(heads))
    if not ids:
        return plan
    messages: list[tuple[OutboundMessage, Gated, Pack]] = []
    calls: list[tuple[Gated, Pack]] = []
    evidence: list[Entry] = []
    start = datetime.combine(day, time(0), tzinfo=UTC)
    profiles = profile_rows(conn, ids)
    people = _people(conn, ids, config.default_pack, profiles)
    histories = history_for(
        conn, ids, since=start - timedelta(days=HISTORY_DAYS), planned_after=start
    )
    contexts = context_for(conn, ids, start, profiles=profiles, histories=histories)
    # Only messages are worded with the loan's figures (calls were most of a day's actions).
    worded = {a.loan_id for a in chunk.actions if a.channel in AUTOMATED}
    loans = _loan_facts(conn, sorted(worded), day)
    tally = plan.tally
    for a in chunk.actions:
        who = people[a.borrower_id]
        pack = get_pack(who.rule_pack) or get_pack(config.default_pack)
        assert pack is not None
        ctx = contexts[a.borrower_id]
        if a.channel == "visit":
            plan.visits.append(a)
            continue
        recipient = _recipient(a, who, ctx.refused)
        if recipient is None:
            tally.problems.append(f"{a.borrower_id}/{a.step}: no {a.party} {a.channel} address")
            continue
        msg = None
        content = ""
        if a.channel in AUTOMATED:
            notice = chunk.notices.get(a.loan_id) if a.template == CREDIT_TEMPLATE else None
            report_date = None if notice is None else notice.report_on
            facts = _facts(who, loans[a.loan_id], a.loan_id, config.lender, report_date)
            if a.template == validation_notices.TEMPLATE:
                facts = _with_validation(facts, chunk.validations[a.loan_id])
            # The instant the gate will check (gate_action's contact.at): the message may go
            # out from then until the day's expiry.
            at = local_instant(a.business_date, a.local_time, ctx.timezones)
            msg = compose(
                a,
                facts,
                recipient,
                not_before=at,
                expires_at=window_end(at),
                texts=config.texts,
                key=None if notice is None else notice.key,  # one per item, not per day
                recipient_ref=recipient_ref(recipient),
            )
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
            evidence.append(_blocked_entry(g, pack))
            tally.blocked.update(v.rule for v in g.decision.violations)
            continue
        tally.actions[(a.channel, a.policy)] += 1
        # Planned, it counts against the caps for the rest of the chunk as it will once made
        # (history_for counts the queued ones in later closes).
        history.append(g.contact)
        if msg is not None:
            assert msg.not_before == g.contact.at
            messages.append((msg, g, pack))
        else:
            calls.append((g, pack))
    evidence += _route(conn, chunk, people, plan)
    planned = _plan_records(conn, messages, calls, people, contexts, now, plan)
    plan.evidence = Rows(chain.Link._fields, chain.links(heads, planned + evidence))
    return plan


def _route(
    conn: Connection, chunk: ChunkInput, people: dict[str, _Who], plan: ChunkPlan
) -> list[Entry]:
    """The chunk's routings: visit requests for a supervisor, and forbearance, dispute review
    and legal on the case file for people to act on; the ``case.routed`` records."""
    day, now = chunk.day, chunk.now
    evidence: list[Entry] = []
    pending = set(live_visits(conn, chunk.borrower_ids))
    cases_ = _open_cases(conn, sorted({r["borrower_id"] for r in chunk.routings}))
    for r in chunk.routings:
        plan.tally.routings[(r["kind"], r["policy"])] += 1
        if r["kind"] == "visit_approval":
            if r["borrower_id"] in pending:
                continue  # one request at a time: it waits for the supervisor
            if not (people[r["borrower_id"]].address or "").strip():
                # A visit needs somewhere to go: no supervisor is asked to approve one without.
                plan.tally.blocked["visit.no_address"] += 1
                continue
            key = f"{day.isoformat()}:{r['borrower_id']}:visit_request"
            plan.visit_requests.append(
                VisitRequest(key, r["loan_id"], f"policy:{r['policy']}", now, r["reason"])
            )
        else:  # forbearance, dispute review, legal: on the case file, for people to act on
            case = cases_.get(r["borrower_id"])
            if case is not None:
                if r["kind"] in case.routed:
                    continue  # routed already, for this case: the first routing stands
                case.routed.add(r["kind"])
                plan.routings.append(
                    (case.case_id, r["kind"], day, r["policy"], r["loan_id"], r["reason"])
                )
            payload = {
                "kind": r["kind"],
                "loan_id": r["loan_id"],
                "policy": r["policy"],
                "reason": r["reason"],
                "business_date": day.isoformat(),
            }
            evidence.append(Entry(r["borrower_id"], "case.routed", payload, now))
    return evidence


def _plan_records(
    conn: Connection,
    messages: list[tuple[OutboundMessage, Gated, Pack]],
    calls: list[tuple[Gated, Pack]],
    people: dict[str, _Who],
    contexts: dict[str, Context],
    now: datetime,
    plan: ChunkPlan,
) -> list[Entry]:
    """The outbox and queue rows of the allowed contacts, and a ``contact.planned`` record for
    each one new (a rerun finds some queued already: planned, and recorded, the first time)."""
    plan.outbox = Rows.of(outbox.rows_for([m for m, _, _ in messages], now))
    # A rerun of the close (or a notice kept under one key for days) finds some messages
    # queued already: those were planned, and recorded, the first time.
    known = outbox.existing_keys(conn, [m.key for m, _, _ in messages])
    planned = [
        Entry(
            m.borrower_id,
            Kind.CONTACT_PLANNED,
            _message_planned(
                m, g.action, g.contact.at, pack, [w.rule for w in g.decision.warnings]
            ),
            now,
        )
        for m, g, pack in messages
        if m.key not in known
    ]
    callees = {
        b: Callee(
            people[b].phone, _willing(people[b], contexts[b].refused), contexts[b].timezones[0]
        )
        for b in {g.action.borrower_id for g, _ in calls}
    }
    queued, problems = queue_rows(conn, [g.action for g, _ in calls], callees)
    plan.queue = Rows.of(queued)
    by_key = {g.key: (g, pack) for g, pack in calls}
    for row in queued:  # keys new to the queue
        g, pack = by_key[row["key"]]
        warned = [w.rule for w in g.decision.warnings]
        # The queue's instant, at the offset of the planned one, as a message's record has it.
        expires = row["expires_at"].astimezone(g.contact.at.tzinfo).isoformat()
        entry = planned_payload(
            g.action,
            g.contact.at,
            recipient_ref(row["number"]),
            pack,
            row["key"],
            warned,
            expires_at=expires,
        )
        planned.append(Entry(row["borrower_id"], Kind.CONTACT_PLANNED, entry, now))
    plan.tally.problems.extend(str(p) for p in problems)
    return planned


def _with_validation(facts: MessageFacts, due: ValidationFacts) -> MessageFacts:
    """Reg F's validation notice carries the itemization of the debt (§1006.34(c)(2))."""
    owed = due.itemization
    return replace(
        facts,
        itemization_date=owed.itemization_date,
        amount_on_itemization=owed.amount_on_itemization,
        interest_since=owed.interest_since,
        fees_since=owed.fees_since,
        payments_since=owed.payments_since,
        credits_since=owed.credits_since,
        current_amount=owed.current_amount,
        validation_end=due.validation_end,
    )


def _message_planned(
    m: OutboundMessage, action: PlannedAction, at: datetime, pack: Pack, warnings: list[str]
) -> dict[str, Any]:
    """The ``contact.planned`` payload of a message: the action's, with what the message adds
    (its template, the hash of its body, when it expires unsent)."""
    expires = None if m.expires_at is None else m.expires_at.isoformat()
    return planned_payload(
        action,
        at,
        recipient_ref(m.recipient),
        pack,
        m.key,
        warnings,
        template=m.template,
        body_sha256=m.body_sha256,
        expires_at=expires,
    )


def apply_chunk(
    conn: Connection, chunk: ChunkInput, plan: ChunkPlan | None, config: GateConfig
) -> Tally:
    """Write ``plan`` in the caller's (write) transaction; the chunk's tally.

    ``None``: plan the chunk here, under the lock. A plan made elsewhere is made again here if
    any of the chunk's borrowers has a new evidence record since it was made (a contact
    recorded, a request made meanwhile).
    """
    log.lock(conn, chunk.borrower_ids)
    if plan is None or log.heads_digest(log.heads(conn, plan.borrower_ids)) != plan.heads:
        plan = plan_chunk(conn, chunk, config)
    tally = plan.tally
    # The records follow the heads checked above; visits then append after them.
    for table, rows in (
        (evidence_records, plan.evidence),
        (queue_items, plan.queue),
        (case_routings, Rows(_ROUTING_COLUMNS if plan.routings else (), plan.routings)),
    ):
        bulk.insert_rows(conn, table, rows.columns, rows.values)
    enqueued = plan.outbox.dicts()
    outbox.insert_rows(conn, enqueued)
    validation_notices.record_enqueued(conn, enqueued, chunk.validations, chunk.day, chunk.now)
    if plan.visits:
        notices: list[OutboundMessage] = []
        people = _people(conn, sorted({a.borrower_id for a in plan.visits}), config.default_pack)
        contexts = context_for(
            conn, sorted(people), datetime.combine(chunk.day, time(0), tzinfo=UTC)
        )
        loans = _loan_facts(conn, sorted({a.loan_id for a in plan.visits}), chunk.day)
        for a in plan.visits:
            _visit(
                conn,
                a,
                people[a.borrower_id],
                contexts[a.borrower_id],
                loans[a.loan_id],
                config,
                tally,
                chunk.now,
                notices,
            )
        outbox.enqueue(conn, notices, chunk.now)
    for _, refused in request_visits(conn, plan.visit_requests):
        tally.problems.extend(map(str, refused))
    return tally


# --- planning in worker processes -------------------------------------------------------------

_worker_engine: Engine | None = None
_worker_config: GateConfig | None = None


def _worker_init(url: str, config: GateConfig) -> None:
    global _worker_engine, _worker_config
    gc.set_threshold(*BATCH_THRESHOLDS)  # a planning process does nothing else (gc_tuning)
    _worker_engine = make_engine(url, read_only=True)
    _worker_config = config


def _worker_plan(chunk: ChunkInput) -> ChunkPlan:
    assert _worker_engine is not None and _worker_config is not None
    with _worker_engine.connect() as conn:
        return plan_chunk(conn, chunk, _worker_config)


def plans(
    engine: Engine, chunks: Sequence[ChunkInput], config: GateConfig, workers: int
) -> Iterator[tuple[ChunkInput, ChunkPlan | None]]:
    """Each chunk with its plan, in order. With one worker (or an in-memory database) the plan
    is None: ``apply_chunk`` plans it inside the write transaction."""
    url = engine.url.render_as_string(hide_password=False)
    # Starting a process costs about a second (imports): not worth it for a few chunks.
    few = len(chunks) < 2 * workers
    if workers <= 1 or few or engine.url.database in (None, "", ":memory:"):
        for c in chunks:
            yield c, None
        return
    # spawn: a fork would copy the parent's open connections and Polars' thread pool.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, ctx, initializer=_worker_init, initargs=(url, config)
    ) as pool:
        ahead = workers + 1  # plans in flight: enough to keep every worker busy, bounded memory
        futures: dict[int, Future[ChunkPlan]] = {
            k: pool.submit(_worker_plan, c) for k, c in enumerate(chunks[:ahead])
        }
        for k, c in enumerate(chunks):
            plan = futures.pop(k).result()
            if k + ahead < len(chunks):
                futures[k + ahead] = pool.submit(_worker_plan, chunks[k + ahead])
            yield c, plan


_ROUTING_COLUMNS = ("case_id", "kind", "routed_on", "policy", "loan_id", "reason")


@dataclass
class _OpenCase:
    case_id: int
    routed: set[str]  # kinds the case has been routed to


def _open_cases(conn: Connection, ids: Sequence[str]) -> dict[str, _OpenCase]:
    """Each borrower's open case and the kinds it has been routed to."""
    if not ids:
        return {}
    c, r = cases, case_routings
    q = (
        select(c.c.borrower_id, c.c.case_id, r.c.kind)
        .select_from(c.outerjoin(r, r.c.case_id == c.c.case_id))
        .where(one_of(conn, c.c.borrower_id, ids), c.c.closed_on.is_(None))
    )
    out: dict[str, _OpenCase] = {}
    for borrower_id, case_id, kind in conn.execute(q).all():
        case = out.setdefault(borrower_id, _OpenCase(case_id, set()))
        if kind is not None:
            case.routed.add(kind)
    return out


def _regions_booked(conn: Connection, start: datetime, end: datetime) -> list[str]:
    """The region of each visit already booked (assigned, noticed or made) in the window."""
    q = select(visits.c.address).where(
        visits.c.status.in_(("assigned", "noticed", "reported")),
        visits.c.window_start < to_utc(end),
        visits.c.window_end > to_utc(start),
    )
    return [region_of(address) for address in conn.execute(q).scalars()]


def _visit(
    conn: Connection,
    a: PlannedAction,
    who: _Who,
    ctx: Context,
    loan: dict[str, Any],
    config: GateConfig,
    tally: Tally,
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
    zone = ctx.timezones[0]
    when = a.business_date + timedelta(days=VISIT_LEAD_DAYS)
    start = datetime.combine(when, VISIT_WINDOW[0], tzinfo=zone)
    end = datetime.combine(when, VISIT_WINDOW[1], tzinfo=zone)
    region = region_of(who.address)
    if not has_room(_regions_booked(conn, start, end), region, config.visits_per_region):
        tally.blocked["visit.over_capacity"] += 1
        return  # stays approved; the policy plans it again on a day with room
    fresh = sorted(
        c
        for c, trained in ctx.collectors.items()
        if trained > a.business_date - timedelta(days=365)
    )
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
    msg = compose(
        notice_action,
        facts,
        who.phone,
        not_before=told,
        expires_at=window_end(told),
        texts=config.texts,
        recipient_ref=recipient_ref(who.phone),
    )
    messages.append(msg)
    pack = get_pack(who.rule_pack) or get_pack(config.default_pack)
    assert pack is not None
    planned = _message_planned(msg, notice_action, told, pack, [])
    log.append(conn, a.borrower_id, Kind.CONTACT_PLANNED, planned, now)
    record_visit_notice(conn, visit.visit_id, now)
    tally.actions[("visit", a.policy)] += 1
