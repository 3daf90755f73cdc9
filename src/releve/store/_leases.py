"""Leases: one holder at a time for work that must run once across processes and replicas.

A lease is a row (name, holder, token, expires_at). Taking or renewing it is one conditional
UPDATE (free, expired, or already ours), so two processes can never both succeed; a new lease
row is an INSERT … ON CONFLICT DO NOTHING for the same reason. The token grows by one each time
the lease changes hands: it is the fencing token a holder shows with its writes, so a holder
that was paused past its lease (and replaced) is refused instead of writing beside the new one.

Times come from the callers' wall clocks (the store never reads a clock): replicas are expected
to be NTP-synchronised, a skew far below the lease's length (15 s by default).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import case, select, text, update
from sqlalchemy.engine import Connection

from ..errors import StoreError
from ._rows import insert_for
from ._schema import leases

__all__ = ["Fenced", "Leases"]

_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


class Fenced(StoreError):
    """The write was refused: the lease it was made under has passed to another holder."""


class Leases:
    if TYPE_CHECKING:
        def _begin(self) -> AbstractContextManager[Connection]: ...

    def acquire_lease(self, name: str, holder: str, *, at: datetime, ttl: float) -> int | None:
        """Take or renew lease `name` for `ttl` seconds from `at`: its fencing token, or None (someone else's)."""
        expires_at = at + timedelta(seconds=ttl)
        ours_or_free = (leases.c.name == name) & ((leases.c.holder == holder) | (leases.c.expires_at < at))
        with self._begin() as connection:
            taken = connection.execute(update(leases).where(ours_or_free).values(
                # Renewing keeps the token; taking it over from someone else makes a new one.
                token=case((leases.c.holder == holder, leases.c.token), else_=leases.c.token + 1),
                holder=holder, expires_at=expires_at))
            if taken.rowcount == 1:
                token: int = connection.execute(select(leases.c.token).where(leases.c.name == name)).scalar_one()
                return token
            # RETURNING, not rowcount: psycopg reports -1 for an INSERT run through SQLAlchemy's insertmanyvalues.
            created = connection.execute(insert_for(connection, leases).values(
                name=name, holder=holder, token=1, expires_at=expires_at).on_conflict_do_nothing(
                index_elements=["name"]).returning(leases.c.token)).first()
            return None if created is None else 1

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up now (a clean shutdown): another process takes it at its next try."""
        with self._begin() as connection:
            connection.execute(update(leases).where(leases.c.name == name, leases.c.holder == holder)
                               .values(expires_at=_LONG_AGO))

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (None before the first migration)."""
        with self._begin() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def lease_holder(self, name: str) -> tuple[str, int, datetime] | None:
        """(holder, token, expires_at) of lease `name`, or None if it was never taken."""
        with self._begin() as connection:
            row = connection.execute(select(leases.c.holder, leases.c.token, leases.c.expires_at)
                                     .where(leases.c.name == name)).first()
        return None if row is None else (row.holder, row.token, row.expires_at)


def check_fence(connection: Connection, name: str, token: int) -> None:
    """Inside a write's transaction: raise `Fenced` unless lease `name` still carries `token`.

    On PostgreSQL the row is read FOR SHARE, so the lease cannot change hands before the write commits.
    """
    query = select(leases.c.token).where(leases.c.name == name)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    current = connection.execute(query).scalar()
    if current != token:
        raise Fenced(f"lease {name!r} is now held under token {current}, not {token}: write refused")
