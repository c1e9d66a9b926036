"""Admission: past the limit of requests in flight the server answers 503 with Retry-After
at once, and takes requests again as soon as one in flight is answered."""

from __future__ import annotations

import threading

import httpx
from sqlalchemy import Engine

from api.serving import serving
from arrears.api.app import ApiConfig, create_app
from arrears.services.close.day import CloseConfig
from arrears.services.policy_files import default_policy_set
from arrears.services.settings import default_settings

WAIT = 60  # seconds: only a bound, so that a broken server fails the test instead of hanging it


def test_past_the_limit_a_request_is_refused_with_retry_after(engine: Engine) -> None:
    config = ApiConfig(
        engine,
        b"x" * 32,
        default_settings().lender,
        CloseConfig(default_policy_set()),
        max_in_flight=2,
    )
    app = create_app(config)
    arrived = threading.Semaphore(0)
    release = threading.Event()

    @app.get("/api/v1/held")
    def held() -> dict[str, str]:  # in flight until the test lets it go
        arrived.release()
        assert release.wait(WAIT)
        return {"status": "done"}

    answers: list[int] = []
    with serving(app) as url, httpx.Client(base_url=url, timeout=WAIT) as http:

        def hold() -> None:
            answers.append(httpx.get(f"{url}/api/v1/held", timeout=WAIT).status_code)

        holders = [threading.Thread(target=hold) for _ in range(2)]
        for t in holders:
            t.start()
        assert arrived.acquire(timeout=WAIT) and arrived.acquire(timeout=WAIT)  # both in flight
        refused = http.get("/api/v1/held")
        probe = http.get("/health")  # a probe is not counted
        release.set()
        for t in holders:
            t.join(WAIT)
        again = http.get("/api/v1/held")  # the limit frees as requests are answered

    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in refused.json()["errors"]] == ["in_flight"]
    assert probe.status_code == 200
    assert answers == [200, 200]
    assert again.status_code == 200
