"""What every request body and parameter must be beyond its own schema: text without NUL
characters (PostgreSQL cannot store them, and no person types one), refused with the field's
name before anything reaches the database."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, field_validator

from arrears.api.problems import ProblemError
from arrears.core.problem import Problem

NUL = "\x00"


class Body(BaseModel):
    """The base of every request body: unknown fields are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and NUL in t for t in texts):
            raise ValueError("must not contain a NUL character")
        return value


async def no_nul_in_parameters(request: Request) -> None:
    """An app-wide dependency: path and query values without NUL characters (``async``: no
    I/O, so it runs on the event loop, not handed to a worker thread for every request)."""
    for where, values in (("path", request.path_params), ("query", request.query_params)):
        for name, text in values.items():
            if isinstance(text, str) and NUL in text:
                raise ProblemError(
                    422, [Problem("request", name, f"{where} value must not contain NUL")]
                )
