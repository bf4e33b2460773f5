"""reporter safety: a lookup key apart from the pseudonym, "reviewed" notices opt-in

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08 10:00:00

``reporter.lookup`` is the keyed hash of the Telegram user id the bot finds a reporter by;
``reporter.pseudonym`` becomes the name the custody log, cards and exports show (random for
reporters created from now on). Splitting the two lets "Delete my data" detach a reporter's
row from the person (``lookup`` cleared) so that their next /start is a new reporter under a
new pseudonym. Existing rows keep their pseudonym as their lookup key; rows whose data was
already deleted are detached now (no lookup key, a random pseudonym), as deletion does today.

``tip.notify_reviewed``: whether the reporter asked to be told when the report has been
reviewed (off for every existing tip: no unprompted messages unless asked for).
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# SQLite rebuilds the tip table for a column with a server default: the rebuilt table must
# keep AUTOINCREMENT (tip ids are never reused, custody entries refer to them).
KEEP_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table("reporter", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lookup", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_reporter_lookup"), ["lookup"])
    with op.batch_alter_table("tip", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(
            sa.Column("notify_reviewed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    connection = op.get_bind()
    connection.execute(
        sa.text(
            "UPDATE reporter SET lookup = pseudonym"
            " WHERE data_deleted_at IS NULL OR consented_at IS NOT NULL"
        )
    )
    detached = connection.execute(
        sa.text("SELECT id FROM reporter WHERE lookup IS NULL ORDER BY id")
    ).scalars()
    for reporter_id in list(detached):
        connection.execute(
            sa.text("UPDATE reporter SET pseudonym = :pseudonym WHERE id = :id"),
            {"pseudonym": secrets.token_hex(32), "id": reporter_id},
        )


def downgrade() -> None:
    # Before 0004 the pseudonym was the lookup key: give it back to the rows that have one.
    # Detached rows keep their random pseudonym (no Telegram id maps to it any more).
    op.execute("UPDATE reporter SET pseudonym = lookup WHERE lookup IS NOT NULL")
    with op.batch_alter_table("tip", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_column("notify_reviewed")
    with op.batch_alter_table("reporter", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_reporter_lookup"), type_="unique")
        batch_op.drop_column("lookup")
