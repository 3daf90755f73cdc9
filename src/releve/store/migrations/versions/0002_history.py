"""History for cost reports: requests per route and minute by outcome, and every component status change.

Components that exist already get their first change (their current status, since their `updated_at`),
so their history has a start like that of components added later.

Written by hand and frozen: later changes go in new revisions, never here.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def _count(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Integer(), nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "traffic_minutes",
        sa.Column("route", sa.String(255), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        _count("served"),
        _count("fallback"),
        _count("degraded"),
        _count("failed"),
        sa.PrimaryKeyConstraint("route", "minute", name="pk_traffic_minutes"),
    )
    op.create_table(
        "status_changes",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("component_id", sa.String(255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_status_changes"),
    )
    op.create_index("ix_status_changes_component_at", "status_changes", ["component_id", "at"])
    op.execute("INSERT INTO status_changes (component_id, at, status) SELECT id, updated_at, status FROM components")


def downgrade() -> None:
    for table in ("status_changes", "traffic_minutes"):
        op.drop_table(table)
