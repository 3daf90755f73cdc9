"""A switch that makes some store methods fail as an unreachable PostgreSQL would."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from releve.errors import StoreError
from releve.store import Store


class Outage:
    """While `down`, the patched store methods raise `StoreError` without touching the database; `calls` counts
    every attempt, failed or not."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self._store = store
        self._monkeypatch = monkeypatch
        self.down = False
        self.calls: Counter[str] = Counter()

    def patch(self, *names: str) -> Outage:
        for name in names:
            self._monkeypatch.setattr(self._store, name, self._wrap(name, getattr(self._store, name)))
        return self

    def _wrap(self, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            if self.down:
                raise StoreError("postgresql://db/releve: connection refused")
            return real(*args, **kwargs)
        return call
