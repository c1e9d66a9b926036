"""The rule packs, by the id used on the command line."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from arrears.core.compliance.pack import Pack
from arrears.core.compliance.packs import cn, uk_conc, us_reg_f

PACKS: Mapping[str, Pack] = MappingProxyType(
    {p.id: p for p in (cn.PACK, us_reg_f.PACK, uk_conc.PACK)}
)


def get_pack(pack_id: str) -> Pack | None:
    return PACKS.get(pack_id)
