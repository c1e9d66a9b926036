"""The collection close: one business day from accrual to gated, enqueued contacts and a report.

Composes the pure parts (the columnar kernel in ``close``, the policy in ``strategy``, the
compliance gate) with the stores (cases, outbox, evidence log). Nothing here is imported by the
domain packages.
"""
