"""durability: erasures of originals owed until the file is gone

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-15 10:00:00

``pending_erasure``: an original whose last media row was deleted. The row is written in
the erasing transaction and removed once the file has been unlinked (or a new media row
references the same content again); an unlink that failed is retried with backoff.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_erasure",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=128), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_pending_erasure")),
    )
    with op.batch_alter_table("pending_erasure", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pending_erasure_next_attempt_at"), ["next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("pending_erasure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_erasure_next_attempt_at"))
    op.drop_table("pending_erasure")
