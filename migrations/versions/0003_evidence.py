"""evidence: custody format v2, anchors, trusted timestamps, purge

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 15:50:00

Existing custody entries are never rewritten: they keep format 1 and verify as written.
``custody_head.v2_from_seq`` records where format 2 starts (the next entry to be appended).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("custody_entry", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("format", sa.SmallInteger(), nullable=False, server_default="1")
        )
        batch_op.add_column(sa.Column("body_digest", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_custody_entry_action"), ["action"], unique=False)
    with op.batch_alter_table("custody_head", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("v2_from_seq", sa.BigInteger(), nullable=False, server_default="1")
        )
    op.execute("UPDATE custody_head SET v2_from_seq = seq + 1")
    with op.batch_alter_table("tip", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "anchor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("message_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anchor")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "timestamp_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("anchor_id", sa.Integer(), nullable=False),
        sa.Column("tsa_url", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("token", sa.LargeBinary(), nullable=True),
        sa.Column("certificates", sa.Text(), nullable=True),
        sa.Column("gen_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["anchor_id"], ["anchor.id"], name=op.f("fk_timestamp_token_anchor_id_anchor")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timestamp_token")),
        sa.UniqueConstraint("anchor_id", "tsa_url", name=op.f("uq_timestamp_token_anchor_id")),
    )
    with op.batch_alter_table("timestamp_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_timestamp_token_anchor_id"), ["anchor_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("timestamp_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timestamp_token_anchor_id"))
    op.drop_table("timestamp_token")
    op.drop_table("anchor")
    with op.batch_alter_table("tip", schema=None) as batch_op:
        batch_op.drop_column("purged_at")
    with op.batch_alter_table("custody_head", schema=None) as batch_op:
        batch_op.drop_column("v2_from_seq")
    with op.batch_alter_table("custody_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custody_entry_action"))
        batch_op.drop_column("body_digest")
        batch_op.drop_column("format")
