"""Credit reporting: monthly PBOC-style statuses from the ledger, notices before negative
reporting, retention, disputes, bureau files (jsonl, Metro 2) and the borrower's view.

The domain modules (``codes``, ``walk``, ``history``, ``notices``, ``retention``, ``disputes``,
``metro2``, ``view``) are pure; ``service`` and ``cli`` hold the database and the command line.
"""
