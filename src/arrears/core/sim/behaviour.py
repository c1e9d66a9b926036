"""How simulated borrowers answer the collection engine: calls, visits and promises.

Pure and deterministic: every draw is a hash of (seed, borrower, day, what), so a simulation
replays exactly and one borrower's luck does not depend on who else is in the portfolio.
The payment side of behaviour (who pays when) comes from the generator's payment plan; this
module adds the responses a payment plan cannot know in advance, and the payments that follow
a promise.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

CallResult = Literal["no_answer", "busy", "reached", "promise_to_pay", "refused"]

# Chance that a call is answered, by behaviour. A never-payer does not pick up: the seed's
# borrower who "cannot be reached", which is what sends the engine to emergency contacts.
ANSWER_RATE: dict[str, float] = {
    "on_time": 0.8,
    "late": 0.6,
    "cured": 0.6,
    "chronic": 0.4,
    "never": 0.0,
    "promiser": 1.0,
}
PROMISE_RATE: dict[str, float] = {
    "on_time": 0.7,
    "late": 0.6,
    "cured": 0.8,
    "chronic": 0.3,
    "never": 0.0,
    "promiser": 1.0,
}
PROMISE_DAYS = 2  # a promise is for the day after tomorrow


def draw(seed: int, *parts: object) -> float:
    """A uniform number in [0, 1) fixed by the seed and the parts."""
    h = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


@dataclass(frozen=True, slots=True)
class CallAnswer:
    result: CallResult
    promise_on: date | None = None
    promise_amount: int = 0  # fen


def answer_call(
    seed: int, borrower_id: str, behaviour: str, day: date, attempt: int, overdue: int
) -> CallAnswer:
    """What happens when the engine calls this borrower on ``day`` (the ``attempt``-th call)."""
    u = draw(seed, borrower_id, day.isoformat(), attempt, "answer")
    if u >= ANSWER_RATE.get(behaviour, 0.5):
        busy = draw(seed, borrower_id, day.isoformat(), attempt, "busy") < 0.15
        return CallAnswer("busy" if busy else "no_answer")
    if overdue > 0 and draw(seed, borrower_id, day.isoformat(), attempt, "promise") < (
        PROMISE_RATE.get(behaviour, 0.5)
    ):
        return CallAnswer("promise_to_pay", day + timedelta(days=PROMISE_DAYS), overdue)
    return CallAnswer("reached")


def keeps_promise(seed: int, borrower_id: str, behaviour: str, promised_on: date) -> bool:
    """Whether the borrower pays what was promised on the promised date."""
    if behaviour == "promiser":
        return True
    if behaviour == "never":
        return False
    return draw(seed, borrower_id, promised_on.isoformat(), "keep") < 0.7
