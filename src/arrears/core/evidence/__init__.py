"""The evidence log: an append-only, hash-chained record of every contact, per borrower.

``chain`` is the pure core (records, canonical JSON, hashing, verification, the daily Merkle
root); ``table`` names the tables; ``log`` is the database shell; ``verify_export`` is a
standalone, standard-library-only verifier a borrower can run on an exported chain.

This package ``__init__`` deliberately imports nothing: ``arrears.store`` imports
``arrears.store.evidence_tables`` to register the tables, and a heavier ``__init__`` would make
that a circular import.
"""
