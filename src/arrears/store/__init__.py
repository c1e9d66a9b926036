"""Storage: SQLAlchemy 2 Core tables, engines, migrations and repositories."""
