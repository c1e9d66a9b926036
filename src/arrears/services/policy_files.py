"""Policy files on disk, and the policies shipped with arrears: read here, parsed by the core.

The parsing (and every error about a file's content) is :mod:`arrears.core.strategy.load`;
this module only reads the bytes and names the file when it cannot be read.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from arrears.core.problem import Problem
from arrears.core.strategy.load import (
    parse_policy,
    parse_policy_set,
    parse_yaml,
)
from arrears.core.strategy.model import Policy, PolicySet


def read_yaml(path: Path) -> Any | Problem:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return Problem(str(path), "", f"cannot read ({err.__class__.__name__}: {err})")
    return parse_yaml(text, str(path))


def load_policy(path: Path) -> Policy | tuple[Problem, ...]:
    data = read_yaml(path)
    if isinstance(data, Problem):
        return (data,)
    return parse_policy(data, str(path))


def load_policy_set(path: Path) -> PolicySet | tuple[Problem, ...]:
    """A policy-set file (`policies: [{file, share}]`) or a single policy file (share 100)."""
    data = read_yaml(path)
    if isinstance(data, Problem):
        return (data,)
    return parse_policy_set(data, str(path), lambda member: load_policy(path.parent / member))


def bundled_policy_path(name: str = "default") -> Path:
    """A policy shipped with arrears (`default`, `gentle`, `split`)."""
    return Path(str(resources.files("arrears") / "data" / "policies" / f"{name}.yaml"))


def default_policy_set() -> PolicySet:
    loaded = load_policy_set(bundled_policy_path("default"))
    if isinstance(loaded, tuple):  # the shipped file is tested; this is a packaging bug
        raise RuntimeError("; ".join(map(str, loaded)))
    return loaded
