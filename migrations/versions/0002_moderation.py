"""moderation: statuses, cards, bans, duplicates, notes, topics

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 22:29:39.156107

Columns added to tables that already hold rows get server defaults (existing media came
with reports; existing tips are not urgent).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "group_message",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tip.id"], name=op.f("fk_group_message_tip_id_tip"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("chat_id", "message_id", name=op.f("pk_group_message")),
    )
    with op.batch_alter_table("group_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_message_tip_id"), ["tip_id"], unique=False)

    op.create_table(
        "forum_topic",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_forum_topic")),
    )
    op.create_table(
        "tip_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("other_tip_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["other_tip_id"],
            ["tip.id"],
            name=op.f("fk_tip_link_other_tip_id_tip"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tip.id"], name=op.f("fk_tip_link_tip_id_tip"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_link")),
        sa.UniqueConstraint("tip_id", "other_tip_id", "kind", name=op.f("uq_tip_link_tip_id")),
    )
    with op.batch_alter_table("tip_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tip_link_tip_id"), ["tip_id"], unique=False)

    op.create_table(
        "tip_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("media_id", sa.Integer(), nullable=True),
        sa.Column("moderator_id", sa.BigInteger(), nullable=True),
        sa.Column("moderator_name", sa.String(length=160), nullable=True),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("reporter_message_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_tip_note_media_id_media"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tip.id"], name=op.f("fk_tip_note_tip_id_tip"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_note")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("tip_note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tip_note_tip_id"), ["tip_id"], unique=False)

    # The rebuilt tables must keep AUTOINCREMENT on SQLite: tip and media ids are never reused.
    keep_ids = {"sqlite_autoincrement": True}
    with op.batch_alter_table("media", schema=None, table_kwargs=keep_ids) as batch_op:
        batch_op.add_column(sa.Column("phash", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column(
                "origin", sa.String(length=16), nullable=False, server_default=sa.text("'report'")
            )
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("reporter", schema=None) as batch_op:
        batch_op.add_column(sa.Column("banned_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("banned_by", sa.String(length=160), nullable=True))
        batch_op.add_column(sa.Column("adding_to_tip_id", sa.Integer(), nullable=True))

    with op.batch_alter_table("tip", schema=None, table_kwargs=keep_ids) as batch_op:
        batch_op.add_column(
            sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("assignee_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("assignee_name", sa.String(length=160), nullable=True))
        batch_op.add_column(sa.Column("reject_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("duplicate_of_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_action", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("last_actor_name", sa.String(length=160), nullable=True))
        batch_op.add_column(sa.Column("last_action_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("card_chat_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("card_message_id", sa.BigInteger(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_tip_duplicate_of_id_tip"), "tip", ["duplicate_of_id"], ["id"]
        )


def downgrade() -> None:
    keep_ids = {"sqlite_autoincrement": True}
    with op.batch_alter_table("group_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_message_tip_id"))
    op.drop_table("group_message")
    with op.batch_alter_table("tip", schema=None, table_kwargs=keep_ids) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_tip_duplicate_of_id_tip"), type_="foreignkey")
        batch_op.drop_column("card_message_id")
        batch_op.drop_column("card_chat_id")
        batch_op.drop_column("last_action_at")
        batch_op.drop_column("last_actor_name")
        batch_op.drop_column("last_action")
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("duplicate_of_id")
        batch_op.drop_column("reject_reason")
        batch_op.drop_column("assignee_name")
        batch_op.drop_column("assignee_id")
        batch_op.drop_column("urgent")

    with op.batch_alter_table("reporter", schema=None) as batch_op:
        batch_op.drop_column("adding_to_tip_id")
        batch_op.drop_column("banned_by")
        batch_op.drop_column("banned_at")

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("lease_until")

    with op.batch_alter_table("media", schema=None, table_kwargs=keep_ids) as batch_op:
        batch_op.drop_column("origin")
        batch_op.drop_column("phash")

    with op.batch_alter_table("tip_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tip_note_tip_id"))

    op.drop_table("tip_note")
    with op.batch_alter_table("tip_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tip_link_tip_id"))

    op.drop_table("tip_link")
    op.drop_table("forum_topic")
