"""Initial schema: connections, record links, sync states, dirty keys, write intents, cursors,
audit log, users.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 23:19:40.885165
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("hubspot_portal_id", sa.String(length=64), nullable=True),
        sa.Column("hubspot_auth_kind", sa.String(length=20), nullable=False),
        sa.Column("hubspot_base_url", sa.String(length=500), nullable=False),
        sa.Column("qbo_realm_id", sa.String(length=64), nullable=True),
        sa.Column("qbo_base_url", sa.String(length=500), nullable=False),
        sa.Column("hubspot_tokens", sa.Text(), nullable=True),
        sa.Column("qbo_tokens", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
        sa.UniqueConstraint("name", name=op.f("uq_connections_name")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("record", sa.String(length=200), nullable=False),
        sa.Column("field", sa.String(length=100), nullable=False),
        sa.Column("old", sa.Text(), nullable=True),
        sa.Column("new", sa.Text(), nullable=True),
        sa.Column("winner", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_audit_log_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_connection_at", "audit_log", ["connection_id", "at"])
    op.create_index("ix_audit_log_record", "audit_log", ["connection_id", "object_type", "record"])
    op.create_table(
        "cursors",
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("feed", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_cursors_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", "feed", name=op.f("pk_cursors")),
    )
    op.create_table(
        "dirty_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("claimed_generation", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_dirty_keys_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dirty_keys")),
        sa.UniqueConstraint(
            "connection_id",
            "object_type",
            "side",
            "source_id",
            name=op.f("uq_dirty_keys_connection_id_object_type_side_source_id"),
        ),
    )
    op.create_index("ix_dirty_keys_connection_marked", "dirty_keys", ["connection_id", "marked_at"])
    op.create_table(
        "record_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("hubspot_id", sa.String(length=200), nullable=True),
        sa.Column("qbo_id", sa.String(length=200), nullable=True),
        sa.Column("base", sa.JSON(), nullable=True),
        sa.Column("hubspot_version", sa.String(length=64), nullable=True),
        sa.Column("qbo_version", sa.String(length=64), nullable=True),
        sa.Column("hubspot_hash", sa.String(length=128), nullable=True),
        sa.Column("qbo_hash", sa.String(length=128), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_record_links_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_links")),
        sa.UniqueConstraint(
            "connection_id",
            "object_type",
            "hubspot_id",
            name=op.f("uq_record_links_connection_id_object_type_hubspot_id"),
        ),
        sa.UniqueConstraint(
            "connection_id",
            "object_type",
            "qbo_id",
            name=op.f("uq_record_links_connection_id_object_type_qbo_id"),
        ),
    )
    op.create_table(
        "sync_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("hint", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("blocked_on", sa.String(length=400), nullable=True),
        sa.Column("counterpart_id", sa.String(length=200), nullable=True),
        sa.Column("counterpart_number", sa.String(length=64), nullable=True),
        sa.Column("label", sa.String(length=300), nullable=True),
        sa.Column("amount", sa.String(length=40), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_sync_states_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_states")),
        sa.UniqueConstraint(
            "connection_id",
            "object_type",
            "side",
            "source_id",
            name=op.f("uq_sync_states_connection_id_object_type_side_source_id"),
        ),
    )
    op.create_index("ix_sync_states_blocked_on", "sync_states", ["blocked_on"])
    op.create_index(
        "ix_sync_states_connection_status_updated",
        "sync_states",
        ["connection_id", "status", "updated_at"],
    )
    op.create_table(
        "write_intents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("result_id", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_write_intents_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_write_intents")),
        sa.UniqueConstraint("key", name=op.f("uq_write_intents_key")),
    )
    op.create_index(op.f("ix_write_intents_connection_id"), "write_intents", ["connection_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_write_intents_connection_id"), table_name="write_intents")
    op.drop_table("write_intents")
    op.drop_index("ix_sync_states_connection_status_updated", table_name="sync_states")
    op.drop_index("ix_sync_states_blocked_on", table_name="sync_states")
    op.drop_table("sync_states")
    op.drop_table("record_links")
    op.drop_index("ix_dirty_keys_connection_marked", table_name="dirty_keys")
    op.drop_table("dirty_keys")
    op.drop_table("cursors")
    op.drop_index("ix_audit_log_record", table_name="audit_log")
    op.drop_index("ix_audit_log_connection_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("users")
    op.drop_table("connections")
