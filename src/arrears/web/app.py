"""The pages added to the API's FastAPI app: routers, the stylesheet, and what a browser sees
when a page is refused (the sign-in page, or an error page in the visitor's language; the API
keeps its problem+json)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from arrears.web import (
    pages_borrower,
    pages_console,
    pages_oversight,
    pages_pay,
    pages_plan,
    pages_portal,
    pages_records,
    pages_signin,
)
from arrears.web.pages import PageRefused, SignInFirst, Visitor, language_of, page
from arrears.web.render import static_folder

API_PREFIXES = ("/api/", "/openapi.json", "/docs", "/health", "/ready")
# Every router of pages (tests/web/test_every_page.py visits each of their pages).
ROUTERS = (
    pages_signin.router,
    pages_borrower.router,
    pages_portal.router,
    pages_pay.router,
    pages_plan.router,
    pages_records.router,
    pages_console.router,
    pages_oversight.router,
)
# Routers of files to download (not pages: no frame, no language).
FILES = (pages_records.files,)


def mount(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(static_folder())), name="static")
    for router in (*ROUTERS, *FILES):
        app.include_router(router)

    @app.exception_handler(SignInFirst)
    async def _sign_in_first(_: Request, exc: SignInFirst) -> Response:
        return RedirectResponse(exc.location, status_code=303)

    @app.exception_handler(PageRefused)
    async def _refused(request: Request, exc: PageRefused) -> Response:
        return _error(request, exc.status, exc.reason)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith(API_PREFIXES):
            from fastapi.exception_handlers import http_exception_handler

            return await http_exception_handler(request, exc)
        return _error(request, exc.status_code, "not_found" if exc.status_code == 404 else "")


def _error(request: Request, status: int, reason: str) -> Response:
    visitor = Visitor(language_of(request), None, "", "")
    return page(request, visitor, "error", {"status": status, "reason": reason}, status=status)
