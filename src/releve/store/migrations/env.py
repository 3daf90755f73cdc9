"""Alembic's entry point; it only runs inside `Store.open()`, which passes its connection and holds the lock.

No logging configuration (the application owns logging) and no offline mode (SQL scripts are not shipped).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection


def _run() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("Relève's migrations run from Store.open(), which passes a connection")
    context.configure(connection=connection, target_metadata=None)
    # Store.open() has already begun the transaction (and taken the lock): this joins it.
    with context.begin_transaction():
        context.run_migrations()


_run()
