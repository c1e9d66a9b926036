"""Admission: at most ``limit`` requests in flight; the next is answered 503 at once.

Past the limit a request would only queue: for one of the worker threads (anyio's 40), then
for one of the database pool's connections, and wait there until a timeout (30 s) fails it
after it has held its place all along. Answering 503 with ``Retry-After`` straight away keeps
the requests admitted fast and tells a client (or a proxy) when to come back. The default
limit is the PostgreSQL pool's size (``store.engine.POOL_SIZE``): each admitted request holds
at most one connection, so an admitted request never waits for the pool.

``/health`` and ``/ready`` are not counted: a probe must learn that the process is up even
while it is busy, or the orchestrator restarts a server that is only loaded.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from arrears.api.problems import problem_response
from arrears.core.problem import Problem

RETRY_AFTER_SECONDS = 1
NOT_COUNTED = frozenset({"/health", "/ready"})


class Admission:
    """ASGI middleware. The count needs no lock: the event loop runs one callback at a time,
    and the check and the increment have no ``await`` between them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"the admission limit must be at least 1, not {limit}")
        self.app, self.limit, self.in_flight = app, limit, 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in NOT_COUNTED:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            refused = problem_response(
                503,
                [Problem("server", "in_flight", f"at capacity ({self.limit} requests in flight)")],
            )
            refused.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            await refused(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
