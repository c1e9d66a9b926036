"""Requests that create or move something carry an ``Idempotency-Key``: a retry with the same
key and body gets the first answer again and changes nothing more; the same key with another
body is refused. Keys are per caller. Only answers that did something are kept: a refused
request changed nothing, so it may be retried with the key once corrected."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from arrears.api.problems import ProblemError
from arrears.core.problem import Problem
from arrears.store.api_tables import idempotency_keys

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
    prior = conn.execute(select(K).where(K.c.subject == subject, K.c.key == key)).first()
    if prior is not None:
        if prior.request_sha256 != digest:
            raise ProblemError(
                422,
                [Problem("request", "Idempotency-Key", "already used for a different request")],
            )
        return int(prior.status), json.loads(prior.response)
    status, answer = run()
    conn.execute(
        insert(K).values(
            subject=subject,
            key=key,
            method=method,
            path=path,
            request_sha256=digest,
            status=status,
            response=json.dumps(answer, ensure_ascii=False, default=str),
            created_at=datetime.now(UTC),
        )
    )
    return status, answer
