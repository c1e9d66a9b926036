"""The whole site: the API under ``/api/v1`` and the pages beside it, in one app on one
service layer (``arrears serve`` serves this)."""

from __future__ import annotations

from fastapi import FastAPI

from arrears.api.app import ApiConfig, create_app
from arrears.web.app import mount

# The import string of ``site_from_environment``, for uvicorn's worker processes.
FACTORY = "arrears.web.site:site_from_environment"


def create_site(config: ApiConfig) -> FastAPI:
    app = create_app(config)
    mount(app)
    return app


def site_from_environment() -> FastAPI:
    """The site as a worker process builds it for itself (``arrears serve --workers N``,
    or ``uvicorn --factory`` with this module's ``FACTORY``): a worker is a fresh interpreter,
    so everything comes from the environment, as ``default_config`` reads it: the database
    from ARREARS_DB, the keys from ARREARS_SECRET_KEY and ARREARS_SIGNING_KEY (else the key
    directory's files, made once, so every worker reads the same), ARREARS_ENV. Logs are the
    JSON lines here too."""
    from arrears.api.app import default_config
    from arrears.api.logs import configure_json_logs

    configure_json_logs()
    return create_site(default_config())
