"""Reading the lender's settings file: an explicit path, else ``$ARREARS_SETTINGS``, else the
bundled default (``arrears/data/lender.yaml``), checked by ``arrears.core.lender.settings``."""

from __future__ import annotations

import functools
import os
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from arrears.core.lender.settings import Settings, parse_settings
from arrears.core.problem import Problem

ENV = "ARREARS_SETTINGS"
BUNDLED = "lender.yaml"


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice in one mapping (PyYAML keeps the last silently, so
    an edit that repeats a key would change the settings without anyone seeing it)."""


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is given twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse_text(text: str, source: str) -> tuple[Settings | None, list[Problem]]:
    """Settings from YAML text; ``source`` names it in problems."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        return None, [Problem(source, "", f"not valid YAML: {reason}")]
    return parse_settings(data, source)


def load_settings(path: str | Path | None = None) -> tuple[Settings | None, list[Problem]]:
    """The settings at ``path``, else at ``$ARREARS_SETTINGS``, else the bundled default."""
    chosen = path if path is not None else os.environ.get(ENV) or None
    if chosen is None:
        return bundled_settings()
    file = Path(chosen)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Problem(str(file), "", "settings file not found", "not_found")]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(str(file), "", f"cannot be read: {exc}")]
    return parse_text(text, str(file))


def bundled_settings() -> tuple[Settings | None, list[Problem]]:
    """The default settings shipped with arrears."""
    settings, problems = _bundled()
    return settings, list(problems)


@functools.cache
def _bundled() -> tuple[Settings | None, tuple[Problem, ...]]:
    text = (resources.files("arrears") / "data" / BUNDLED).read_text(encoding="utf-8")
    settings, problems = parse_text(text, BUNDLED)
    return settings, tuple(problems)


def default_settings() -> Settings:
    """The bundled default; it is part of the package, so a problem in it is a bug."""
    settings, problems = bundled_settings()
    assert settings is not None, [str(p) for p in problems]
    return settings
