"""Small rule functions shared by the packs. Each reads a `Situation` and yields details.

Packs bind them to ids, sources and messages; parameters that differ by pack are passed when
the pack is built, numbers come from the (possibly tightened) `Limits`.
"""
