"""Each package's public surface is exactly what its `__all__` says."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ["releve.config", "releve.gateway", "releve.gateway.providers", "releve.gateway.translate", "releve.sim",
            "releve.store", "releve.notify", "releve.monitor", "releve.status", "releve.impact",
            "releve.jobs", "releve.batches", "releve.protect",
            "releve.recovery", "releve.cluster"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_every_public_name_sorted(name: str) -> None:
    """__all__ is sorted, has no duplicates, and each name exists."""
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(set(exported)), f"{name}.__all__ must be sorted and unique"
    for attr in exported:
        assert hasattr(module, attr), f"{name}.{attr} is listed but missing"


@pytest.mark.parametrize("name", PACKAGES)
def test_public_names_are_all_exported(name: str) -> None:
    """Every public object defined in the package appears in __all__."""
    module = importlib.import_module(name)
    public = {attr for attr, value in vars(module).items()
              if not attr.startswith("_") and getattr(value, "__module__", "").startswith(name)
              and callable(value)}
    assert public <= set(module.__all__)
