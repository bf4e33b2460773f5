"""update store: updates kept from their arrival until they are processed

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-20 10:00:00

``inbound_update``: every update from Telegram, written before Telegram is told it arrived
(bot/updates.py), idempotent on ``update_id``; leased to the process that has it in hand,
marked done in its handler's commit, emptied once done and deleted after two days.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_update",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("chat_key", sa.String(length=32), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("lease_owner", sa.String(length=96), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_inbound_update")),
    )
    op.create_index(
        "ix_inbound_update_pending",
        "inbound_update",
        ["update_id"],
        unique=False,
        postgresql_where=sa.text("done_at IS NULL"),
        sqlite_where=sa.text("done_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_inbound_update_pending", table_name="inbound_update")
    op.drop_table("inbound_update")
