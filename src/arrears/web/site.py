"""The whole site: the API under ``/api/v1`` and the pages beside it, in one app on one
service layer (``arrears serve`` serves this)."""

from __future__ import annotations

from fastapi import FastAPI

from arrears.api.app import ApiConfig, create_app
from arrears.web.app import mount


def create_site(config: ApiConfig) -> FastAPI:
    app = create_app(config)
    mount(app)
    return app
