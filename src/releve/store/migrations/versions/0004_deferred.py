"""Deferred requests in the cost history: a `deferred` count per route and minute, beside served, fallback,
degraded and failed.

A deferred request was answered `202 Accepted` with a job (the client accepted a late answer); reports
count it apart so that they tell served, degraded, deferred and failed requests apart. Rows written before
this revision keep 0.

Written by hand and frozen: later changes go in new revisions, never here.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("traffic_minutes", sa.Column("deferred", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    # batch_alter_table: SQLite before 3.35 cannot drop a column in place.
    with op.batch_alter_table("traffic_minutes") as batch:
        batch.drop_column("deferred")
