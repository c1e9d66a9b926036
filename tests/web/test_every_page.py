"""Every page of the web app, in both languages and at both sizes: it answers 200, shows no
untranslated word (no English sentence of the catalogs on a Chinese page, no Chinese one on an
English page, no format placeholder left), does not scroll sideways on a phone, and every
form control has a label.

The pages are read off the app's routes, so a new page is visited without being listed here;
a page nobody here knows how to visit (a new prefix, or a path parameter without an example)
fails the test until it is given a visitor below."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.routing import APIRoute
from playwright.sync_api import Browser

from arrears.api.deps import SESSION_COOKIE
from arrears.core.contact.templates import LANGUAGES
from arrears.services.collection.queue import next_item
from arrears.web.app import ROUTERS
from arrears.web.pages import LANGUAGE_COOKIE
from arrears.web.render import web_texts
from web.portal import a_payment_page, a_plan_page
from web.site import SIZES, STAFF, Site

# Who visits the pages under each prefix (the longest prefix wins): "borrower" is the demo's
# borrower who never pays, a role name is that role's demo user, "" is no one signed in.
VISITOR_OF: dict[str, str] = {
    "/signin": "",
    "/staff/signin": "",
    "/my": "borrower",
    "/console": "agent",
    "/console/approvals": "supervisor",
    "/console/visits": "field_collector",
    "/dashboards": "supervisor",
    "/compliance": "compliance",
}
# Pages that only redirect (they have tests of their own).
REDIRECTS = {"/", "/language/{language}"}


def _held_call(site: Site) -> str:
    """The call the demo's agent holds (taken from the queue if they hold none)."""
    with site.engine.begin() as db:
        item = next_item(db, STAFF["agent"], datetime.now(UTC))
    assert item is not None, "the test site puts calls due now on the queue"
    return f"/console/calls/{item.item_id}"


# A concrete address for each page with a path parameter.
EXAMPLES: dict[str, Callable[[Site], str]] = {
    "/console/calls/{item_id}": _held_call,
    "/console/cases/{borrower_id}": lambda site: (
        f"/console/cases/{site.desk.assigned[STAFF['agent']][0]}"
    ),
    "/console/visits/{visit_id}": lambda site: f"/console/visits/{site.visits[0]}",
    "/my/pay/{attempt}": a_payment_page,
    "/my/plan/{plan_id}": a_plan_page,
}

UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden' && e.type !== 'submit' && e.type !== 'button')
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
               && !e.getAttribute('aria-labelledby') && !e.title)
  .map(e => e.outerHTML.slice(0, 120))"""
UNNAMED_BUTTONS = """() => [...document.querySelectorAll('button, a')]
  .filter(e => !(e.innerText || '').trim() && !e.getAttribute('aria-label'))
  .map(e => e.outerHTML.slice(0, 120))"""
# The page's text, less what is marked as another language on purpose (lang="..."): the call
# script an agent reads out is in the borrower's language, whatever the agent's page is in.
PAGE_TEXT = """() => {
  const lang = document.documentElement.lang, body = document.body.cloneNode(true);
  body.querySelectorAll('[lang]').forEach(e => e.getAttribute('lang') !== lang && e.remove());
  return body.textContent; }"""
SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def _pages() -> list[str]:
    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    return sorted(r.path for r in routes if "GET" in r.methods and r.path not in REDIRECTS)


def _visitor(path: str) -> str:
    best = max(
        (p for p in VISITOR_OF if path == p or path.startswith(p + "/")), key=len, default=None
    )
    assert best is not None, f"{path}: no visitor for this page; add its prefix to VISITOR_OF"
    return VISITOR_OF[best]


def _address(site: Site, path: str) -> str:
    if "{" not in path:
        return path
    assert path in EXAMPLES, f"{path}: a page with a path parameter needs an entry in EXAMPLES"
    return EXAMPLES[path](site)


def _foreign_words(language: str) -> list[str]:
    """Catalog texts of the other language that must not appear on a page in ``language``."""
    strings = web_texts().strings
    other = "en" if language == "zh-CN" else "zh-CN"
    mine = set(strings[language].values())
    words = [w for w in strings[other].values() if w not in mine]
    if language == "zh-CN":  # an English sentence, not a code or a name
        return [w for w in words if " " in w and len(w) >= 12]
    return [w for w in words if len(w) >= 4 and re.search("[\u4e00-\u9fff]", w)]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("size", sorted(SIZES))
def test_every_page_in_every_language_and_size(
    browser: Browser, site: Site, language: str, size: str
) -> None:
    pages = _pages()
    assert {"/my", "/signin", "/staff/signin"} <= set(pages)
    by_visitor: dict[str, list[str]] = {}
    for path in pages:
        by_visitor.setdefault(_visitor(path), []).append(path)
    foreign = _foreign_words(language)
    problems: list[str] = []
    host = site.url.removeprefix("http://").split(":")[0]
    for who, paths in sorted(by_visitor.items()):
        context = browser.new_context(
            base_url=site.url,
            viewport=SIZES[size],
            is_mobile=size == "phone",  # type: ignore[arg-type]
        )
        context.add_cookies(
            [{"name": LANGUAGE_COOKIE, "value": language, "domain": host, "path": "/"}]
        )
        if who == "borrower":
            site.session_cookies(context, "borrower", site.run.never_borrower)
        elif who:
            site.session_cookies(context, "staff", STAFF[who])
        tab = context.new_page()
        for path in paths:
            address = _address(site, path)
            answer = tab.goto(address)
            where = f"{address} as {who or 'anyone'} ({language}, {size})"
            if answer is None or answer.status != 200:
                problems.append(f"{where}: status {answer.status if answer else None}")
                continue
            if who and SESSION_COOKIE not in {c["name"] for c in context.cookies()}:
                problems.append(f"{where}: signed out")
            text = tab.evaluate(PAGE_TEXT)
            problems += [f"{where}: untranslated {w!r}" for w in foreign if w in text]
            if "%(" in text or "{{" in text:
                problems.append(f"{where}: a placeholder left in the text")
            if size == "phone" and (wider := tab.evaluate(SIDEWAYS)) > 0:
                problems.append(f"{where}: scrolls sideways by {wider}px")
            problems += [f"{where}: control without a label: {c}" for c in tab.evaluate(UNLABELLED)]
            problems += [
                f"{where}: button or link without a name: {c}"
                for c in tab.evaluate(UNNAMED_BUTTONS)
            ]
        context.close()
    assert not problems, "\n".join(problems)
