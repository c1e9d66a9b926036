"""Errors as RFC 9457 problem details (``application/problem+json``), naming the field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

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
    403: "Not allowed for this role",
    503: "Not available",
}


class ProblemField(BaseModel):
    record: str
    field: str
    reason: str


class ProblemOut(BaseModel):
    """RFC 9457 problem details, with the list of what was wrong."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[ProblemField]


def document_problems(spec: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with every operation's error answers as they are sent: problem
    details (FastAPI documents its own validation-error shape, which we replace)."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["ProblemField"] = ProblemField.model_json_schema()
    schemas["ProblemOut"] = ProblemOut.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    schemas["ProblemOut"].pop("$defs", None)
    ref = {"$ref": "#/components/schemas/ProblemOut"}
    for ops in spec.get("paths", {}).values():
        for op in ops.values():
            responses = op.setdefault("responses", {})
            for status, title in TITLES.items():
                responses[str(status)] = {
                    "description": title,
                    "content": {MEDIA: {"schema": ref}},
                }
    return spec


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
