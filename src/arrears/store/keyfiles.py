"""Secrets from the environment or, in development, from files made on first use outside any
repository: the one place that knows the key directory and how a key file is made.

The key directory is ``ARREARS_KEY_DIR``, else ``$XDG_CONFIG_HOME/arrears``, else
``~/.config/arrears``; its files are readable by the owner only. A deployment sets the
variables and never relies on the files. Here in the store (not the services) because the
store's sealed columns need the data key, and the store imports nothing above it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

from arrears.core.problem import Problem, Result, fail, ok

KEY_DIR_ENV = "ARREARS_KEY_DIR"
MIN_SECRET = 32

Notice = Callable[[str], None]


def key_dir(env: Mapping[str, str]) -> Path:
    if env.get(KEY_DIR_ENV):
        return Path(env[KEY_DIR_ENV])
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "arrears"


def write_private(path: Path, data: bytes) -> None:
    """Create ``path`` (owner-only) whole or not at all: written aside, then linked into
    place, so a process that finds the file never reads it half-written. FileExistsError when
    another process linked theirs first."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.link(aside, path)
    finally:
        aside.unlink()


def secret(
    env: Mapping[str, str], notice: Notice, env_name: str, file_name: str, what: str
) -> Result[bytes]:
    """The secret in ``env_name`` (at least ``MIN_SECRET`` characters), else the development
    one in the key directory's ``file_name``, made on first use (``notice`` is told then)."""
    given = env.get(env_name)
    if given is not None:
        if len(given) < MIN_SECRET:
            return fail(Problem("environment", env_name, f"must be at least {MIN_SECRET} chars"))
        return ok(given.encode())
    path = key_dir(env) / file_name
    if not path.exists():
        try:
            write_private(path, secrets.token_urlsafe(48).encode())
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            notice(
                f"generated a development secret for {what} in {path}; set {env_name} in production"
            )
    return ok(path.read_bytes().strip())
