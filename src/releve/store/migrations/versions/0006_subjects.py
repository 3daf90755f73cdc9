"""Data subjects (GDPR): a `subject` column on every table that keeps request or answer content, indexed.

A request tagged `x-releve-subject: <id>` writes its id on the job, idempotency record, file or batch it
leaves behind (a batch's lines belong to their batch's subject), so that everything stored about one
person can be found for an access or portability request, and erased for an erasure request, without
reading every body. Rows written before this revision, and untagged requests, keep NULL.

Written by hand and frozen: later changes go in new revisions, never here.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

_TABLES = ("jobs", "idempotency", "files", "batches")


def upgrade() -> None:
    for table in _TABLES:
        op.add_column(table, sa.Column("subject", sa.String(255), nullable=True))
        op.create_index(f"ix_{table}_subject", table, ["subject"])


def downgrade() -> None:
    for table in _TABLES:
        op.drop_index(f"ix_{table}_subject", table_name=table)
        # batch_alter_table: SQLite before 3.35 cannot drop a column in place.
        with op.batch_alter_table(table) as batch:
            batch.drop_column("subject")
