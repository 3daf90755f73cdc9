"""Several `Store`s on one database, working at once, as several processes or replicas would."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from releve.store import Store

__all__ = ["in_threads"]

R = TypeVar("R")


def in_threads(database_url: str, count: int, work: Callable[[Store], R]) -> list[R]:
    """`work` run by `count` stores on the same database (each its own pool), started at once; their results."""
    stores = [Store(database_url) for _ in range(count)]
    for store in stores:
        store.open()
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(stores[index])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []
    return results
