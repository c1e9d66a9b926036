"""Values made ready for JSON: dates and instants as ISO 8601, tuples as lists."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
