"""Reading the simulated borrowers' parameters (``data/sim/behaviour.yaml`` or the user's)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import yaml

from arrears.core.problem import Problem, Result, fail
from arrears.core.sim.model import BehaviourModel, parse_model


def bundled_behaviour_path() -> Path:
    return Path(str(resources.files("arrears") / "data" / "sim" / "behaviour.yaml"))


def load_behaviour(path: Path | None = None) -> Result[BehaviourModel]:
    """The model in ``path`` (default: the bundled one), or the problems naming each bad key."""
    path = path or bundled_behaviour_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        return fail(Problem(str(path), "", f"cannot read the file: {e.strerror}"))
    except yaml.YAMLError as e:
        return fail(Problem(str(path), "", f"not valid YAML: {e}"))
    model, problems = parse_model(data)
    return model, tuple(Problem(str(path), p.field, p.reason, p.code) for p in problems)


@cache
def bundled_behaviour() -> BehaviourModel:
    """The bundled model; a bad bundled file is a bug, not bad input."""
    model, problems = load_behaviour()
    assert model is not None, problems
    return model
