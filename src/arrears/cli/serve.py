"""``arrears serve``: the REST API over HTTP (uvicorn)."""

from __future__ import annotations

from typing import Annotated

import typer

from arrears.cli.common import DbOption


def serve_cmd(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    db: DbOption = None,
) -> None:
    """Serve the API at http://HOST:PORT/api/v1 (OpenAPI at /openapi.json, docs at /docs).
    In development (ARREARS_ENV unset or "development") borrowers' sign-in codes are also
    printed here, as the SMS would carry them."""
    import uvicorn

    from arrears.api.app import create_app, default_config

    config = default_config(db)
    typer.echo(f"serving on http://{host}:{port}/api/v1 (docs: http://{host}:{port}/docs)")
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")
