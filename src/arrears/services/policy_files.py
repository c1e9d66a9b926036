"""Policy files on disk, and the policies shipped with arrears: read here, parsed by the core.

The parsing (and every error about a file's content) is :mod:`arrears.core.strategy.load`;
this module only reads the bytes and names the file when it cannot be read.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from arrears.core.compliance.packs import PACKS
from arrears.core.problem import Problem, Problems, Result, expect, fail
from arrears.core.strategy.load import (
    parse_policy,
    parse_policy_set,
    parse_yaml,
)
from arrears.core.strategy.model import Policy, PolicySet, PolicyWarning
from arrears.core.strategy.validate import validate


def read_yaml(path: Path) -> Result[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return fail(Problem(str(path), "", f"cannot read ({err.__class__.__name__}: {err})"))
    return parse_yaml(text, str(path))


def load_policy(path: Path) -> Result[Policy]:
    data, problems = read_yaml(path)
    if problems:
        return None, problems
    return parse_policy(data, str(path))


def load_policy_set(path: Path) -> Result[PolicySet]:
    """A policy-set file (`policies: [{file, share}]`) or a single policy file (share 100)."""
    data, problems = read_yaml(path)
    if problems:
        return None, problems
    return parse_policy_set(data, str(path), lambda member: load_policy(path.parent / member))


@dataclass(frozen=True, slots=True)
class CheckedFile:
    """A policy file that parsed, and the steps each rule pack would mostly block."""

    file: str
    policies: PolicySet
    warnings: tuple[tuple[str, PolicyWarning], ...]  # (pack id, warning)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "policies": [
                {"name": m.policy.name, "share": m.share, "of": self.policies.total}
                for m in self.policies.members
            ],
            "warnings": [
                {
                    "pack": p,
                    "policy": w.policy,
                    "step": w.step,
                    "code": w.code,
                    "message": w.message,
                }
                for p, w in self.warnings
            ],
        }


@dataclass(frozen=True, slots=True)
class PolicyCheck:
    errors: Problems  # the files that did not parse, every problem in them
    files: tuple[CheckedFile, ...]

    @property
    def valid(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "errors": [
                {"file": e.record, "path": e.field, "reason": e.reason} for e in self.errors
            ],
            "files": [f.as_dict() for f in self.files],
        }


def _packs_for(policy: Policy, pack: str | None) -> tuple[str, ...]:
    """The packs a policy answers to: the one asked for, else its own, else every pack."""
    if pack is not None:
        return (pack,)
    return (policy.rule_pack,) if policy.rule_pack else tuple(PACKS)


def policy_warnings(
    policies: PolicySet, pack: str | None = None
) -> list[tuple[str, PolicyWarning]]:
    out: list[tuple[str, PolicyWarning]] = []
    for pack_id in PACKS:
        found = validate(policies, PACKS[pack_id])
        out.extend(
            (pack_id, w) for w in found if pack_id in _packs_for(policies.get(w.policy), pack)
        )
    return out


def check_policy_files(paths: list[Path], pack: str | None = None) -> PolicyCheck:
    """Parse each file and check it against its rule pack (``pack`` overrides): a file with
    errors is reported by its errors; one that parses, by its policies and warnings."""
    errors: list[Problem] = []
    files: list[CheckedFile] = []
    for path in paths:
        loaded, problems = load_policy_set(path)
        errors.extend(problems)
        if loaded is not None:
            warns = tuple(policy_warnings(loaded, pack))
            files.append(CheckedFile(str(path), loaded, warns))
    return PolicyCheck(tuple(errors), tuple(files))


def bundled_policy_path(name: str = "default") -> Path:
    """A policy shipped with arrears (`default`, `gentle`, `split`)."""
    return Path(str(resources.files("arrears") / "data" / "policies" / f"{name}.yaml"))


def default_policy_set() -> PolicySet:
    return expect(load_policy_set(bundled_policy_path("default")))  # shipped, so tested
