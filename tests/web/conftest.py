from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from web.site import SIZES, Site, chromium_path, demo_site


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with demo_site(tmp_path_factory.mktemp("site")) as found:
        yield found


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(params=sorted(SIZES))
def size(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def tab(browser: Browser, size: str, site: Site) -> Iterator[Page]:
    """A fresh browser context (no cookies) at phone or desktop size, in Chinese."""
    context = browser.new_context(
        base_url=site.url,
        viewport=SIZES[size],  # type: ignore[arg-type]
        is_mobile=size == "phone",
        has_touch=size == "phone",
        locale="zh-CN",
    )
    page = context.new_page()
    yield page
    context.close()
