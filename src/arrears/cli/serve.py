"""``arrears serve``: the REST API over HTTP (uvicorn)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from arrears.cli.common import DbOption

if TYPE_CHECKING:
    from arrears.api.deps import ApiConfig

GRACE_SECONDS = 30


def serve_cmd(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    db: DbOption = None,
) -> None:
    """Serve the API at http://HOST:PORT/api/v1 (OpenAPI at /openapi.json, docs at /docs).
    In development (ARREARS_ENV unset or "development") borrowers' sign-in codes are also
    printed here, as the SMS would carry them. Logs are JSON lines on stderr, one a request;
    on SIGTERM or Ctrl-C the server stops taking requests and answers those in flight (up to
    30 seconds) before it exits."""
    from arrears.api.app import default_config
    from arrears.api.logs import configure_json_logs

    configure_json_logs()
    config = default_config(db)
    typer.echo(f"serving on http://{host}:{port}/api/v1 (docs: http://{host}:{port}/docs)")
    run(config, host, port)


def run(config: ApiConfig, host: str, port: int) -> None:
    """The site (pages and API) on ``config`` until SIGTERM or Ctrl-C."""
    import uvicorn

    from arrears.web.site import create_site

    uvicorn.run(
        create_site(config),
        host=host,
        port=port,
        log_config=None,  # ours: JSON lines
        access_log=False,  # its lines carry the raw path and the client's address
        timeout_graceful_shutdown=GRACE_SECONDS,
    )
