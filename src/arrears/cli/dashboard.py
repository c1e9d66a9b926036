"""``arrears dashboard``: the portfolio over time as an HTML page with charts, or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from arrears.cli.common import (
    EXIT_BAD_INPUT,
    DbOption,
    JsonOption,
    SettingsOption,
    fail,
    lender_settings,
    open_db,
    parse_date,
    print_json,
)
from arrears.services.dashboards import dashboard, dashboard_data, render_dashboard


def dashboard_cmd(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the dashboard as an HTML page")
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="The page's language: zh-CN or en")] = "en",
    since: Annotated[str | None, typer.Option("--since", help="First closed day shown")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Last closed day shown")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
    settings_file: SettingsOption = None,
) -> None:
    """Buckets, roll rates, cure curves by month opened, promises kept, contacts by policy,
    contacts blocked by rule and the close's phase times, over the closed days."""
    if lang not in ("zh-CN", "en"):
        fail(f"--lang: {lang!r} is not a page language: use zh-CN or en", EXIT_BAD_INPUT)
    if out is not None and out.suffix.lower() not in (".html", ".htm"):
        fail(f"--out: {out} is not an .html file", EXIT_BAD_INPUT)
    if out is None and not json_out:
        fail("give --out FILE.html for the page, or --json for the data", EXIT_BAD_INPUT)
    first = parse_date(since, "since") if since else None
    last = parse_date(until, "until") if until else None
    if first and last and first > last:
        fail(f"--since {first} is after --until {last}", EXIT_BAD_INPUT)
    lender = lender_settings(settings_file).lender
    with open_db(db).connect() as conn:
        d = dashboard(conn, first, last)
    if out is not None:
        out.write_text(render_dashboard(d, lang, lender.name.get(lang)), encoding="utf-8")
    if json_out:
        print_json(dashboard_data(d))
    else:
        typer.echo(f"wrote {out}: {len(d.trends.dates)} closed days")
