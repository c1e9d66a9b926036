"""How simulated borrowers answer the collection engine: calls, visits and promises.

Pure and deterministic: every draw is a hash of (seed, borrower, day, what), so a simulation
replays exactly and one borrower's luck does not depend on who else is in the portfolio.
The payment side of behaviour (who pays when) comes from the generator's payment plan; this
module adds the responses a payment plan cannot know in advance, and the payments that follow
a promise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from arrears.core.sim.model import BehaviourModel, Spell

CallResult = Literal["no_answer", "busy", "reached", "promise_to_pay", "refused"]


def draw(seed: int, *parts: object) -> float:
    """A uniform number in [0, 1) fixed by the seed and the parts."""
    h = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


@dataclass(frozen=True, slots=True)
class CallAnswer:
    result: CallResult
    promise_on: date | None = None
    promise_amount: int = 0  # fen


# The scenario's hand-made borrower who answers, promises and keeps every promise.
PROMISER = "promiser"


def _rate(rates: Mapping[str, float], behaviour: str) -> float:
    return 1.0 if behaviour == PROMISER else rates.get(behaviour, 0.5)


def answer_call(
    model: BehaviourModel,
    seed: int,
    borrower_id: str,
    behaviour: str,
    day: date,
    attempt: int,
    overdue: int,
) -> CallAnswer:
    """What happens when the engine calls this borrower on ``day`` (the ``attempt``-th call)."""
    u = draw(seed, borrower_id, day.isoformat(), attempt, "answer")
    if u >= _rate(model.answer_rate, behaviour):
        busy = draw(seed, borrower_id, day.isoformat(), attempt, "busy") < model.busy_share
        return CallAnswer("busy" if busy else "no_answer")
    if overdue > 0 and draw(seed, borrower_id, day.isoformat(), attempt, "promise") < _rate(
        model.promise_rate, behaviour
    ):
        return CallAnswer("promise_to_pay", day + timedelta(days=model.promise_days), overdue)
    return CallAnswer("reached")


def keeps_promise(
    model: BehaviourModel, seed: int, borrower_id: str, behaviour: str, promised_on: date
) -> bool:
    """Whether the borrower pays what was promised on the promised date."""
    if behaviour == PROMISER:
        return True
    if behaviour == "never":
        return False
    return draw(seed, borrower_id, promised_on.isoformat(), "keep") < model.keep_rate


def in_spell(
    spell: Spell, seed: int, borrower_id: str, what: str, start: date, days: int, day: date
) -> bool:
    """Whether ``day`` falls in the borrower's ``what`` spell (``unreachable``, ``hardship``):
    a share of borrowers have one, starting on a day of the run drawn for them."""
    if spell.share == 0 or draw(seed, borrower_id, what) >= spell.share:
        return False
    first = start + timedelta(days=int(draw(seed, borrower_id, what, "start") * days))
    lo, hi = spell.days
    length = lo + int(draw(seed, borrower_id, what, "length") * (hi - lo + 1))
    return first <= day < first + timedelta(days=length)


Reaction = Literal["complaint", "dispute", "plan"]


def react(
    model: BehaviourModel,
    seed: int,
    borrower_id: str,
    behaviour: str,
    day: date,
    attempt: int,
    overdue: int,
) -> Reaction | None:
    """What a borrower who answered a call does besides paying or promising: complain about
    the call, dispute the amount, or ask for installments (only with something overdue); at
    most one of them on a call. The scenario's promiser does none of them."""
    if behaviour == PROMISER:
        return None
    r, when = model.reactions, day.isoformat()
    if draw(seed, borrower_id, when, attempt, "complain") < r.complaint_rate:
        return "complaint"
    if overdue > 0 and draw(seed, borrower_id, when, attempt, "dispute") < r.dispute_rate:
        return "dispute"
    plan_rate = r.plan_rate.get(behaviour, 0.0)
    if overdue > 0 and draw(seed, borrower_id, when, attempt, "plan") < plan_rate:
        return "plan"
    return None


def complains_of_contact_call(
    model: BehaviourModel, seed: int, borrower_id: str, day: date, attempt: int
) -> bool:
    """Whether the borrower complains that one of their emergency contacts was reached."""
    u = draw(seed, borrower_id, day.isoformat(), attempt, "third-party-complaint")
    return u < model.reactions.third_party_complaint_rate


def keeps_installment(
    model: BehaviourModel, seed: int, borrower_id: str, plan_id: int, n: int
) -> bool:
    """Whether the borrower pays installment ``n`` of their plan (as a promise is kept)."""
    return draw(seed, borrower_id, plan_id, n, "installment") < model.keep_rate
