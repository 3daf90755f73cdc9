"""Taking rows that several processes (replicas, workers) may want at once: jobs, callbacks, batches, the outbox.

A claim must give each row to exactly one claimer, and claimers must not queue behind each other.

- PostgreSQL: the candidates are selected `FOR UPDATE SKIP LOCKED` (in order, limited), then updated by
  one statement. A row another transaction is claiming is skipped, not waited for, and a row changed by
  a transaction that committed meanwhile is re-checked against the condition by PostgreSQL itself.
- SQLite: one writer at a time (its write lock), and SQLAlchemy drops FOR UPDATE there anyway. Each
  candidate is taken by an `UPDATE … WHERE` the condition still holds, so a row another process took
  between our SELECT and our UPDATE is left alone; the rows lost that way are replaced by the next ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, select, update
from sqlalchemy.engine import Connection

__all__ = ["take"]


def take(connection: Connection, table: Table, condition: ColumnElement[bool], values: dict[str, Any], *,
         order: Sequence[Any], limit: int | None) -> list[Any]:
    """Apply `values` to at most `limit` rows of `table` meeting `condition` (all of them: None), in `order`.

    Returns the ids (primary key `id`) this call changed, in `order`. Everyone takes rows in one order, so
    concurrent claimers never wait on each other in a cycle.
    """
    candidates = select(table.c.id).where(condition).order_by(*order)
    if connection.dialect.name == "postgresql":
        ids = list(connection.execute(candidates.limit(limit).with_for_update(skip_locked=True)).scalars())
        if ids:
            # Locked by this transaction since the SELECT: the condition still holds for every one.
            connection.execute(update(table).where(table.c.id.in_(ids)).values(values))
        return ids
    taken: list[Any] = []
    while True:
        wanted = None if limit is None else limit - len(taken)
        ids = list(connection.execute(candidates.limit(wanted)).scalars())
        won = [row_id for row_id in ids
               if connection.execute(update(table).where(table.c.id == row_id, condition).values(values)).rowcount]
        taken += won
        # Done unless rows were lost to another process and there may be more; after our first UPDATE this
        # transaction holds SQLite's write lock, so a second round loses none and the loop ends.
        if len(won) == len(ids) or wanted is None or len(ids) < wanted:
            return taken
