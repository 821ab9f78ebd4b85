"""Reconciliation runs and what each found.

Revision ID: 0003_reconcile
Revises: 0002_diverged
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_reconcile"
down_revision = "0002_diverged"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reconcile_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dry_run", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("in_sync", sa.Integer(), nullable=False),
        sa.Column("repaired", sa.Integer(), nullable=False),
        sa.Column("diverged", sa.Integer(), nullable=False),
        sa.Column("orphans", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("api_calls", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_reconcile_runs_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_runs")),
    )
    op.create_index(
        "ix_reconcile_runs_connection_started", "reconcile_runs", ["connection_id", "started_at"]
    )
    op.create_table(
        "reconcile_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("hubspot_id", sa.String(length=400), nullable=True),
        sa.Column("qbo_id", sa.String(length=400), nullable=True),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("hubspot_value", sa.Text(), nullable=True),
        sa.Column("qbo_value", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reconcile_runs.id"],
            name=op.f("fk_reconcile_findings_run_id_reconcile_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_findings")),
    )
    op.create_index(
        op.f("ix_reconcile_findings_run_id"), "reconcile_findings", ["run_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_reconcile_findings_run_id"), table_name="reconcile_findings")
    op.drop_table("reconcile_findings")
    op.drop_index("ix_reconcile_runs_connection_started", table_name="reconcile_runs")
    op.drop_table("reconcile_runs")
