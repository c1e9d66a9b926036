"""Services: the imperative shell between the pure domain and the database, CLI and API."""
