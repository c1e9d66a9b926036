"""One JSON line per request, with its request id, and nothing personal in it.

A line names the route as declared (``/api/v1/loans/{loan_id}``, not the path with the id), the
status, the time taken and the kind of caller; never the query string, a body, a token, a phone
number or an address. The request id is the caller's ``X-Request-ID`` when it is a short plain
token, else a new one, and is sent back in the answer's ``X-Request-ID`` so a complaint can be
traced to its line.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOGGER = "arrears.api"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object: time, level, logger, message and its ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = record.exc_info[0].__name__  # the type only: a message may hold data
        return json.dumps(line, ensure_ascii=False)


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = bytes(value).decode("latin-1")
            if _REQUEST_ID.match(text):
                return text
    return uuid.uuid4().hex


def _route_of(scope: Scope) -> str:
    """The declared route with its router's prefix: FastAPI matches an included router as a
    router of its own, whose route knows only its part (``/loans/{loan_id}``); the prefix is
    the leading segments of the path that the template does not cover."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not template:
        return "(no route)"
    segments = str(scope.get("path", "")).strip("/").split("/")
    own = str(template).strip("/").split("/")
    prefix = segments[: max(0, len(segments) - len(own))]
    return "/" + "/".join([*prefix, *own]) if prefix else str(template)


class RequestLog:
    """ASGI middleware: the request id in and out, and the request's line when it ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = logging.getLogger(LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            fields = {
                "request_id": rid,
                "method": scope.get("method", ""),
                "route": _route_of(scope),
                "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 2),
            }
            level = logging.ERROR if status >= 500 else logging.INFO
            self.log.log(level, "request", extra={"fields": fields})


def configure_json_logs(level: int = logging.INFO) -> None:
    """Send the API's lines, and uvicorn's own messages, to stderr as JSON."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    for name in (LOGGER, "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
