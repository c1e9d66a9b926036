"""The process's reference key (``ARREARS_REFERENCE_KEY``, else a development key generated on
first use and said so on stderr), and the references made with it (``core.people.references``).
Read once a process: every worker of one deployment reads the same key."""

from __future__ import annotations

import functools
import os
import sys

from arrears.core.people.references import keyed_ref
from arrears.core.problem import expect
from arrears.services.verification_keys import reference_key


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@functools.cache
def process_reference_key() -> bytes:
    return expect(reference_key(os.environ, _say))


def recipient_ref(recipient: str) -> str:
    """The keyed reference of a phone number or an address, as records carry it."""
    return keyed_ref(process_reference_key(), recipient)
