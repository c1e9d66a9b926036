"""``arrears serve``: the REST API over HTTP (uvicorn)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from arrears.cli.common import DbOption

if TYPE_CHECKING:
    from arrears.api.deps import ApiConfig

GRACE_SECONDS = 30
WORKER_HEALTHCHECK_SECONDS = 60


def serve_cmd(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    db: DbOption = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (each one Python, so about one core)")
    ] = 1,
) -> None:
    """Serve the API at http://HOST:PORT/api/v1 (OpenAPI at /openapi.json, docs at /docs).
    In development (ARREARS_ENV unset or "development") borrowers' sign-in codes are also
    printed here, as the SMS would carry them. Logs are JSON lines on stderr, one a request;
    on SIGTERM or Ctrl-C the server stops taking requests and answers those in flight (up to
    30 seconds) before it exits. With --workers N, N processes share the port; each takes up
    to 16 requests at once (more are answered 503 with Retry-After) and keeps its own pool of
    database connections, so the database sees up to 20 a worker."""
    from arrears.api.app import default_config
    from arrears.api.logs import configure_json_logs
    from arrears.store.engine import ENV_DB

    configure_json_logs()
    # Here first, in one process: the migration, and the key files where the environment has
    # no keys, so the workers find both done and agree on the keys.
    config = default_config(db)
    typer.echo(f"serving on http://{host}:{port}/api/v1 (docs: http://{host}:{port}/docs)")
    if workers == 1:
        run(config, host, port)
        return
    config.engine.dispose()
    if db is not None:
        os.environ[ENV_DB] = db  # the workers inherit the environment
    run_workers(host, port, workers)


def _options() -> dict[str, Any]:
    return {
        "log_config": None,  # ours: JSON lines
        "access_log": False,  # its lines carry the raw path and the client's address
        "timeout_graceful_shutdown": GRACE_SECONDS,
    }


def run(config: ApiConfig, host: str, port: int) -> None:
    """The site (pages and API) on ``config`` until SIGTERM or Ctrl-C."""
    import uvicorn

    from arrears.web.site import create_site

    uvicorn.run(create_site(config), host=host, port=port, **_options())


def run_workers(host: str, port: int, workers: int) -> None:
    """The site in ``workers`` processes, each building it from the environment (uvicorn
    starts a worker from an import string, not from an app object); on SIGTERM each answers
    the requests it has in flight before it exits."""
    import uvicorn

    from arrears.web.site import FACTORY

    uvicorn.run(
        FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # uvicorn kills and restarts a worker that does not answer its health check in time
        # (5 s by default): a fresh interpreter importing the site took longer on this
        # machine at load average 19, and the workers were restarted over and over, never
        # serving. A worker that hangs for good is still restarted, a minute later.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        **_options(),
    )
