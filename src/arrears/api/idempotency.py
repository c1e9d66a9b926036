"""Requests that create or move something carry an ``Idempotency-Key``: a retry with the same
key and body gets the first answer again and changes nothing more; the same key with another
body is refused. Keys are per caller. Only answers that did something are kept: a refused
request changed nothing, so it may be retried with the key once corrected.

The key is claimed before the work, in the request's own transaction: a second request with
the same key, sent while the first is still at work (a client that retries on a timeout), waits
on the claim (PostgreSQL holds the unique key until the first commits; SQLite writes one at a
time) and then gets the first answer rather than doing the work twice."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Connection, bindparam, select, update

from arrears.api.problems import ProblemError, status_of
from arrears.core.problem import Problem, Result
from arrears.store.api_tables import idempotency_keys
from arrears.store.insert_once import InsertOnce

K = idempotency_keys


def request_hash(method: str, path: str, body: Any) -> str:
    text = json.dumps([method, path, body], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def once(
    conn: Connection,
    subject: str,
    key: str | None,
    method: str,
    path: str,
    body: Any,
    run: Callable[[], tuple[int, Any]],
) -> tuple[int, Any]:
    """``run()``'s (status, JSON body), or the stored answer to the same request."""
    if key is None or not key.strip() or len(key) > 200:
        raise ProblemError(
            400,
            [Problem("request", "Idempotency-Key", "this request needs a key of 1-200 characters")],
        )
    digest = request_hash(method, path, body)
    claim = {
        "subject": subject,
        "key": key,
        "method": method,
        "path": path,
        "request_sha256": digest,
        "status": 0,  # claimed, at work
        "response": "",
        "created_at": datetime.now(UTC),
    }
    if not _claimed(conn, claim):
        # The key is someone's already: a first request that committed (an insert that met
        # one still at work waited for it to end), whose answer this one gets.
        prior = conn.execute(select(K).where(K.c.subject == subject, K.c.key == key)).first()
        assert prior is not None, "a claim that clashed is committed"
        if prior.request_sha256 != digest:
            raise ProblemError(
                422,
                [Problem("request", "Idempotency-Key", "already used for a different request")],
            )
        return int(prior.status), json.loads(prior.response)
    status, answer = run()
    text = json.dumps(answer, ensure_ascii=False, default=str)
    conn.execute(
        _ANSWER, {"b_subject": subject, "b_key": key, "b_status": status, "b_response": text}
    )
    return status, answer


# Built once: every request that creates or moves something keeps its answer.
_ANSWER = (
    update(K)
    .where(K.c.subject == bindparam("b_subject"), K.c.key == bindparam("b_key"))
    .values(status=bindparam("b_status"), response=bindparam("b_response"))
)


# The key claimed unless it is someone's already. On PostgreSQL an insert that meets a claim
# still at work waits for its transaction, then skips the row if that committed, or inserts
# it if that rolled back (a refused request keeps nothing).
_claimed = InsertOnce(K, ["subject", "key"])


def answer_once(
    conn: Connection,
    subject: str,
    key: str | None,
    path: str,
    body: BaseModel,
    make: Callable[[], Result[Any]],
    status: int = 200,
) -> JSONResponse:
    """POST ``path``: ``make()``, a service call whose value has ``as_dict``, once per key; a
    problem it answers is raised as problem details (and nothing is kept)."""

    def run() -> tuple[int, Any]:
        found, problems = make()
        if found is None:
            raise ProblemError(status_of(problems), problems)
        return status, found.as_dict()

    code, answer = once(conn, subject, key, "POST", path, body.model_dump(mode="json"), run)
    return JSONResponse(answer, status_code=code)
