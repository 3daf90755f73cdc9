"""Reading releve.yaml: YAML → interpolation → validation, with key paths in errors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from releve.errors import ConfigError

from ._interpolate import interpolate
from ._models import Config


def load_config(path: str | Path, environ: Mapping[str, str]) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (give one with --config)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from None
    return parse_config(text, environ, source=str(path))


def parse_config(text: str, environ: Mapping[str, str], *, source: str = "releve.yaml") -> Config:
    try:
        tree = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(tree, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    return config_from_mapping(interpolate(tree, environ), source=source)


def config_from_mapping(tree: Mapping[str, Any], *, source: str = "releve.yaml") -> Config:
    try:
        return Config.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(f"{source} is invalid:\n{_describe(exc)}") from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check its spelling and indentation)"
        elif error["type"] == "missing":
            message = "required key is missing"
        lines.append(f"  {path}: {message}" if path else f"  {message}")
    return "\n".join(lines)
