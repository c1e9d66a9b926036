"""The double-entry journal and the loan account that drives it (pure)."""
