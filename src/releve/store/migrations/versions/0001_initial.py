"""The first schema: components, uptime, incidents and their updates, the notification outbox.

Written by hand and frozen: later changes go in new revisions, never here.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _when(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "components",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name_fr", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("description_fr", sa.Text(), nullable=True),
        sa.Column("description_en", sa.Text(), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        _when("updated_at", nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_components"),
    )
    op.create_table(
        "uptime_days",
        sa.Column("component_id", sa.String(255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("component_id", "day", "status", name="pk_uptime_days"),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(12), nullable=False),
        sa.Column("name_fr", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("impact", sa.String(16), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("components", sa.Text(), nullable=False),
        _when("created_at", nullable=False),
        _when("updated_at", nullable=False),
        _when("started_at", nullable=True),
        _when("recovered_at", nullable=True),
        _when("resolved_at", nullable=True),
        _when("scheduled_for", nullable=True),
        _when("scheduled_until", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_created_at", "incidents", ["created_at"])
    op.create_table(
        "incident_updates",
        sa.Column("id", sa.String(12), nullable=False),
        sa.Column("incident_id", sa.String(12), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("body_fr", sa.Text(), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        _when("created_at", nullable=False),
        sa.Column("affected", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_incident_updates"),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name="fk_incident_updates_incident"),
        sa.UniqueConstraint("incident_id", "seq", name="uq_incident_updates_seq"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("incident_id", sa.String(12), nullable=False),
        sa.Column("update_id", sa.String(12), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("dedup_key", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("created_at", nullable=False),
        _when("next_attempt_at", nullable=False),
        _when("lease_until", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _when("sent_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name="fk_outbox_incident"),
        sa.ForeignKeyConstraint(["update_id"], ["incident_updates.id"], name="fk_outbox_update"),
        sa.UniqueConstraint("dedup_key", name="uq_outbox_dedup_key"),
    )
    op.create_index("ix_outbox_due", "outbox", ["state", "next_attempt_at"])
    op.create_index("ix_outbox_incident_id", "outbox", ["incident_id"])


def downgrade() -> None:
    for table in ("outbox", "incident_updates", "incidents", "uptime_days", "components"):
        op.drop_table(table)
