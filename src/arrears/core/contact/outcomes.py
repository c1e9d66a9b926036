"""What an agent records after a contact, and what each outcome means for the gate's history.

The compliance gate counts connected calls and conversations (CN: conversations per day and
unanswered attempts per number; Reg F: calls that connected, and the quiet period after a
conversation), so every outcome fixes both flags:

* a conversation (a person was spoken with): reached, promise_to_pay, refused, dispute,
  hardship, paid;
* connected without conversation (it rang, or voicemail): no_answer;
* not connected: busy, wrong_number.

``refused`` is recorded with the gate's ``REFUSED`` outcome, which stops further contact with
a third party (the gate's refusal rules); for the debtor it is kept as a fact.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from arrears.core.compliance.model import REFUSED


class Outcome(StrEnum):
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    REACHED = "reached"
    PROMISE_TO_PAY = "promise_to_pay"
    REFUSED = "refused"
    WRONG_NUMBER = "wrong_number"
    DISPUTE = "dispute"
    HARDSHIP = "hardship"
    PAID = "paid"


assert Outcome.REFUSED.value == REFUSED  # the gate reads this exact string


@dataclass(frozen=True, slots=True)
class Effect:
    connected: bool
    conversation: bool
    case_flag: str | None = None  # "dispute" | "hardship": set on the borrower's open case


_CONVERSATION = Effect(connected=True, conversation=True)

EFFECTS: dict[Outcome, Effect] = {
    Outcome.NO_ANSWER: Effect(connected=True, conversation=False),
    Outcome.BUSY: Effect(connected=False, conversation=False),
    Outcome.WRONG_NUMBER: Effect(connected=False, conversation=False),
    Outcome.REACHED: _CONVERSATION,
    Outcome.PROMISE_TO_PAY: _CONVERSATION,
    Outcome.REFUSED: _CONVERSATION,
    Outcome.PAID: _CONVERSATION,
    Outcome.DISPUTE: Effect(connected=True, conversation=True, case_flag="dispute"),
    Outcome.HARDSHIP: Effect(connected=True, conversation=True, case_flag="hardship"),
}


def parse_outcome(text: str) -> Outcome | None:
    try:
        return Outcome(text)
    except ValueError:
        return None
