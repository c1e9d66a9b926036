"""Errors as RFC 9457 problem details (``application/problem+json``), naming the field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.responses import JSONResponse

from arrears.core.problem import Problem

MEDIA = "application/problem+json"
STATUS = {"not_found": 404, "conflict": 409, "unauthorized": 401, "rate_limited": 429}
TITLES = {
    400: "Bad request",
    401: "Not signed in",
    404: "Not found",
    409: "Conflict",
    422: "The request cannot be carried out as it stands",
    429: "Too many requests",
}


def status_of(problems: Sequence[Problem]) -> int:
    return STATUS.get(problems[0].code, 422) if problems else 422


def problem_response(
    status: int, problems: Sequence[Problem] = (), detail: str = ""
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail or (str(problems[0]) if problems else TITLES.get(status, "")),
        "errors": [{"record": p.record, "field": p.field, "reason": p.reason} for p in problems],
    }
    return JSONResponse(body, status_code=status, media_type=MEDIA)


class ProblemError(Exception):
    """Raised inside a route to answer with problem details."""

    def __init__(self, status: int, problems: Sequence[Problem] = (), detail: str = "") -> None:
        super().__init__(detail or (str(problems[0]) if problems else ""))
        self.status, self.problems, self.detail = status, tuple(problems), detail
