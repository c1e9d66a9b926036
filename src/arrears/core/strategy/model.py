"""A collection policy as data: steps, segments, promise/hardship/dispute handling, legal
referral; a policy set splits borrowers across named policies (champion/challenger).

Everything is immutable; `load.py` builds these from YAML and says exactly what is wrong.
Bands are inclusive at both ends (`dpd_from..dpd_to`, `overdue_from..overdue_to`,
`risk_from..risk_to`); a missing upper end is open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from typing import Literal, get_args

from arrears.core.compliance.model import Channel, Party

Purpose = Literal["collection", "plan_reminder"]
RoutingKind = Literal["forbearance", "dispute_review", "legal", "visit_approval"]
POLICY_PURPOSES: tuple[Purpose, ...] = get_args(Purpose)
ROUTING_KINDS: tuple[RoutingKind, ...] = get_args(RoutingKind)
STEP_CHANNELS: tuple[Channel, ...] = ("sms", "call", "email", "letter", "visit")
STEP_PARTIES: tuple[Party, ...] = ("debtor", "emergency_contact")


@dataclass(frozen=True)
class Segment:
    """A named group of cases; a case belongs to the first segment (in file order) it
    matches, or to none. None in a bound means no bound; `first_time` None means either."""

    name: str
    overdue_from: int | None = None  # fen
    overdue_to: int | None = None
    first_time: bool | None = None  # True: prior_cases == 0
    risk_from: int | None = None
    risk_to: int | None = None


@dataclass(frozen=True)
class Step:
    """One treatment. Exactly one timing: a DPD band (`dpd_from`, optional `dpd_to`) or
    pre-due offsets (`before_due`, days before the next due date, with dpd == 0)."""

    name: str
    channel: Channel
    party: Party
    template: str
    at: time
    dpd_from: int | None = None
    dpd_to: int | None = None
    before_due: tuple[int, ...] = ()
    cadence_days: int = 1
    min_overdue: int = 0  # fen
    segments: tuple[str, ...] = ()  # empty: every case
    unreachable_days_at_least: int = 0
    requires_approval: bool = False
    priority: int = 0
    purpose: Purpose = "collection"


@dataclass(frozen=True)
class BrokenPromise:
    """How a recently broken promise escalates: for `within_days` days after the break
    (the day of the break is day 0), collection actions get `raise_priority` added and the
    steps named in `jump_to` fire at any DPD >= 1, their own DPD band ignored."""

    within_days: int = 0
    raise_priority: int = 0
    jump_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class Legal:
    dpd_from: int
    min_overdue: int = 0  # fen


@dataclass(frozen=True)
class Policy:
    name: str
    steps: tuple[Step, ...]
    segments: tuple[Segment, ...] = ()
    broken_promise: BrokenPromise = BrokenPromise()
    hardship_pauses_contact: bool = True
    legal: Legal | None = None
    rule_pack: str | None = None  # None: the borrower's profile decides
    source: str = ""  # the file it came from, for messages


@dataclass(frozen=True)
class Member:
    policy: Policy
    share: int


@dataclass(frozen=True)
class PolicySet:
    """Named policies with integer shares summing to `total` (100, or 10000 basis points).
    Construct through `policy_set()` (checks the shares) or `single()`."""

    members: tuple[Member, ...]
    total: int

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.policy.name for m in self.members)

    @property
    def due_horizon(self) -> int:
        """The most days before a due date that any step reminds (-1: no step does). Beyond
        it no step's timing can hold for a current borrower, so the days to the next due date
        need not be known (``services.cases.case_frames``'s ``due_within``)."""
        return max(
            (d for m in self.members for s in m.policy.steps for d in s.before_due), default=-1
        )

    def get(self, name: str) -> Policy:
        for m in self.members:
            if m.policy.name == name:
                return m.policy
        raise KeyError(name)


@dataclass(frozen=True)
class Routing:
    """A case handed to people rather than a channel: forbearance (hardship), dispute review,
    legal referral, or a visit awaiting a supervisor's approval. Emitted every business day
    while its condition holds; the consumer keeps one open routing per borrower and kind."""

    borrower_id: str
    loan_id: str
    business_date: date
    policy: str
    kind: RoutingKind
    reason: str


@dataclass(frozen=True)
class PolicyWarning:
    """A step the compliance pack would block most of the time, or a risky configuration."""

    policy: str
    step: str | None
    code: str
    message: str

    def __str__(self) -> str:
        where = f"{self.policy}" + (f" step {self.step!r}" if self.step else "")
        return f"{where}: [{self.code}] {self.message}"
