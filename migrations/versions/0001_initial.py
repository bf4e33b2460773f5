"""initial schema: reporters, tips, media, custody log, outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-24 21:15:57.249917
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "custody_entry",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_custody_entry")),
        sa.UniqueConstraint("hash", name=op.f("uq_custody_entry_hash")),
    )
    with op.batch_alter_table("custody_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_custody_entry_tip_id"), ["tip_id"], unique=False)

    op.create_table(
        "custody_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custody_head")),
    )
    # The chain's genesis: the first entry links to sixty-four zeros.
    op.bulk_insert(
        sa.table("custody_head", sa.column("id"), sa.column("seq"), sa.column("hash")),
        [{"id": 1, "seq": 0, "hash": "0" * 64}],
    )
    op.create_table(
        "reporter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("chat_id_enc", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("privacy_version", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data_deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_checkpoint_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporter")),
        sa.UniqueConstraint("pseudonym", name=op.f("uq_reporter_pseudonym")),
    )
    op.create_table(
        "chat_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["reporter_id"],
            ["reporter.id"],
            name=op.f("fk_chat_message_reporter_id_reporter"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_message")),
    )
    with op.batch_alter_table("chat_message", schema=None) as batch_op:
        batch_op.create_index(
            "ix_chat_message_reporter_sent", ["reporter_id", "sent_at"], unique=False
        )

    op.create_table(
        "tip",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=True),
        sa.Column("return_to_review", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("incident_date", sa.Date(), nullable=True),
        sa.Column("incident_date_precision", sa.String(length=8), nullable=True),
        sa.Column("incident_time", sa.Time(), nullable=True),
        sa.Column("location_source", sa.String(length=16), nullable=True),
        sa.Column("location_precision", sa.String(length=16), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("place_text", sa.Text(), nullable=True),
        sa.Column("settlement", sa.String(length=128), nullable=True),
        sa.Column("settlement_id", sa.Integer(), nullable=True),
        sa.Column("settlement_distance_km", sa.Float(), nullable=True),
        sa.Column("oblast", sa.String(length=4), nullable=True),
        sa.Column("perpetrator", sa.String(length=32), nullable=True),
        sa.Column("perpetrator_text", sa.Text(), nullable=True),
        sa.Column("contact_allowed", sa.Boolean(), nullable=False),
        sa.Column("originals_hint_sent", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["reporter.id"], name=op.f("fk_tip_reporter_id_reporter")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip")),
        sa.UniqueConstraint("reference", name=op.f("uq_tip_reference")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("tip", schema=None) as batch_op:
        batch_op.create_index("ix_tip_reporter_status", ["reporter_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_tip_status"), ["status"], unique=False)

    op.create_table(
        "media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("file_id", sa.String(length=255), nullable=False),
        sa.Column("file_unique_id", sa.String(length=64), nullable=False),
        sa.Column("media_group_id", sa.String(length=64), nullable=True),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("declared_mime", sa.String(length=128), nullable=True),
        sa.Column("detected_mime", sa.String(length=128), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("storage_key", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure_reason", sa.String(length=200), nullable=True),
        sa.Column("recompressed", sa.Boolean(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration", sa.Integer(), nullable=True),
        sa.Column("caption", sa.Text(), nullable=True),
        sa.Column("forward_origin", sa.JSON(), nullable=True),
        sa.Column("telegram_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tip.id"], name=op.f("fk_media_tip_id_tip"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_media_file_unique_id"), ["file_unique_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_media_sha256"), ["sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_media_tip_id"), ["tip_id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("tip_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("telegram_message_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tip.id"], name=op.f("fk_outbox_tip_id_tip"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_status_next", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_next")

    op.drop_table("outbox")
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_tip_id"))
        batch_op.drop_index(batch_op.f("ix_media_sha256"))
        batch_op.drop_index(batch_op.f("ix_media_file_unique_id"))

    op.drop_table("media")
    with op.batch_alter_table("tip", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tip_status"))
        batch_op.drop_index("ix_tip_reporter_status")

    op.drop_table("tip")
    with op.batch_alter_table("chat_message", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_message_reporter_sent")

    op.drop_table("chat_message")
    op.drop_table("reporter")
    op.drop_table("custody_head")
    with op.batch_alter_table("custody_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custody_entry_tip_id"))

    op.drop_table("custody_entry")
