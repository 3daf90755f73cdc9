"""`${VAR}` and `${VAR:-default}` in releve.yaml string values.

Done on the parsed YAML tree, before validation, so a missing variable is
reported with the key path that needs it. `$${` writes a literal `${`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from releve.errors import ConfigError

_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(tree: Any, environ: Mapping[str, str], path: str = "") -> Any:
    if isinstance(tree, dict):
        return {key: interpolate(value, environ, _join(path, key)) for key, value in tree.items()}
    if isinstance(tree, list):
        return [interpolate(value, environ, _join(path, index)) for index, value in enumerate(tree)]
    if isinstance(tree, str) and "$" in tree:
        return _substitute(tree, environ, path)
    return tree


def _substitute(text: str, environ: Mapping[str, str], path: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match[0] == "$${":
            return "${"
        name, default = match[1], match[2]
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise ConfigError(
            f"{path}: environment variable {name} is not set "
            f"(set it, or give a default with ${{{name}:-value}})"
        )

    return _VAR.sub(replace, text)


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)
