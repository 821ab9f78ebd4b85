"""Sync states carry the fields that differ when a record is diverged.

Revision ID: 0002_diverged
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_diverged"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # JSON list of FieldDifference objects (engine/ports.py); NULL for every status but diverged.
    op.add_column("sync_states", sa.Column("differences", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("sync_states", "differences")
