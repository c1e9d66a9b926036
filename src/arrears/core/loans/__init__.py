"""Loan products, their settings and repayment schedules (pure)."""
