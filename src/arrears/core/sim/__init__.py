"""Synthetic portfolios and borrower behaviour, deterministic for a seed."""
