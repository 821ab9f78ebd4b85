"""A record link says which kind of QBO record its QBO id names (a HubSpot payment is recorded
as a Payment or as a SalesReceipt, and QBO ids of different entities can be equal).

Revision ID: 0005_i9a_link_kind
Revises: 0002_users_roles
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_i9a_link_kind"
down_revision = "0002_users_roles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # "" is the object type's own QBO entity (Invoice, Payment, Customer, Item...).
    with op.batch_alter_table("record_links") as batch:
        batch.add_column(
            sa.Column("qbo_kind", sa.String(length=32), nullable=False, server_default="")
        )
        batch.drop_constraint("uq_record_links_connection_id_object_type_qbo_id", type_="unique")
        batch.create_unique_constraint(
            "uq_record_links_connection_id_object_type_qbo_kind_qbo_id",
            ["connection_id", "object_type", "qbo_kind", "qbo_id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("record_links") as batch:
        batch.drop_constraint(
            "uq_record_links_connection_id_object_type_qbo_kind_qbo_id", type_="unique"
        )
        batch.create_unique_constraint(
            "uq_record_links_connection_id_object_type_qbo_id",
            ["connection_id", "object_type", "qbo_id"],
        )
        batch.drop_column("qbo_kind")
