"""Relève: a continuity platform for businesses that depend on AI providers."""

from __future__ import annotations

from typing import Any

__all__ = ["__version__"]


def __getattr__(name: str) -> Any:
    # Read lazily so that importing the package touches no metadata files.
    if name == "__version__":
        from importlib.metadata import version

        return version("releve")
    raise AttributeError(name)
