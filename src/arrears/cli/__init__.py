"""The ``arrears`` command line (Typer): one module per command group, each calling services."""
