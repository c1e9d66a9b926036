"""A borrower's rights and where to get help, from the rule pack that governs their loans."""

from __future__ import annotations

import functools
from importlib import resources

import yaml
from sqlalchemy import Connection, select

from arrears.core.borrower.rights import Rights, RightsData, parse_rights, rights_for
from arrears.core.compliance.packs import PACKS
from arrears.core.lender.settings import Lender
from arrears.core.problem import Problem, Result, expect, fail, not_found
from arrears.services.settings import default_settings
from arrears.store import tables
from arrears.store.profile_tables import borrower_profiles

RIGHTS_FILE = "rights.yaml"
HELP_FILE = "help.yaml"


@functools.cache
def default_rights_data() -> RightsData:
    """The sentences and help lines shipped in ``data/borrower`` (tested against every pack)."""
    folder = resources.files("arrears") / "data" / "borrower"
    rights = yaml.safe_load((folder / RIGHTS_FILE).read_text(encoding="utf-8"))
    help_lines = yaml.safe_load((folder / HELP_FILE).read_text(encoding="utf-8"))
    return expect(parse_rights(rights, help_lines, RIGHTS_FILE))


def pack_rights(pack_id: str, language: str, lender: Lender | None = None) -> Result[Rights]:
    """The rights under pack ``pack_id`` in ``language``, naming the lender's hotline."""
    pack = PACKS.get(pack_id)
    if pack is None:
        return fail(Problem("rights", "pack", f"{pack_id!r} is not one of {', '.join(PACKS)}"))
    lender = lender or default_settings().lender
    return rights_for(
        pack, default_rights_data(), language, lender.name.get(language), lender.hotline
    )


def borrower_rights(
    conn: Connection, borrower_id: str, language: str | None = None, lender: Lender | None = None
) -> Result[Rights]:
    """The rights of borrower ``borrower_id`` under their own pack, in their language unless
    ``language`` is given."""
    if (
        conn.execute(
            select(tables.borrowers.c.borrower_id).where(
                tables.borrowers.c.borrower_id == borrower_id
            )
        ).first()
        is None
    ):
        return fail(not_found(f"borrower {borrower_id}", "no such borrower", "borrower_id"))
    row = conn.execute(
        select(borrower_profiles.c.rule_pack, borrower_profiles.c.language).where(
            borrower_profiles.c.borrower_id == borrower_id
        )
    ).first()
    pack_id, own_language = (row[0], row[1]) if row is not None else ("cn", "zh-CN")
    return pack_rights(pack_id, language or own_language, lender)
