"""Check an exported evidence chain from the command line: standard library only.

Usage, where arrears is installed::

    python -m arrears.cli.check_export chain.jsonl [--root HEX]

Without arrears (a borrower's own computer, any Python 3.11+): copy this file and
``arrears/core/evidence/verify_export.py`` (the pure check) into one folder and run::

    python check_export.py chain.jsonl [--root HEX]

This file only reads the export and prints the verdict; the rules are in ``verify_export``.
Exit status: 0 intact, 1 tampered (the first bad record is named), 2 the file cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    from arrears.core.evidence.verify_export import Bad, verify_lines
except ModuleNotFoundError:  # the two files copied into one folder, arrears not installed
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from verify_export import Bad, verify_lines  # type: ignore[import-not-found,no-redef]


def read_lines(path: str) -> list[str]:
    # Split on "\n" only: str.splitlines() would also split inside strings holding U+2028,
    # U+0085 and the like, which canonical JSON writes literally.
    with open(path, encoding="utf-8", newline="") as export:
        return export.read().split("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify an exported arrears evidence chain.")
    parser.add_argument("file", help="the exported chain (JSON lines)")
    parser.add_argument("--root", help="the root value the lender published, to compare")
    args = parser.parse_args(argv)
    try:
        lines = read_lines(args.file)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    try:
        print(verify_lines(lines, args.root))
    except Bad as exc:
        print(f"TAMPERED: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
