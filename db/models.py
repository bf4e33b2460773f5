"""Typed SQLAlchemy models.

The schema is created and changed only by Alembic migrations (``migrations/``); these models
describe it. All timestamps are timezone-aware UTC (stored naive-UTC on SQLite). No column
holds a raw Telegram user id of a reporter, a name, a username or a phone number.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from db.crypto import SealedJSON, SealedText

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back timezone-aware in UTC, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        date: Date(),
        time: Time(),
        dict[str, Any]: JSON(),
    }


# Tip statuses. Moderation adds its own; these are the ones intake writes.
TIP_DRAFT = "draft"
TIP_SUBMITTED = "submitted"
TIP_WITHDRAWN = "withdrawn"
# Moderation statuses.
TIP_IN_REVIEW = "in_review"
TIP_NEEDS_INFO = "needs_info"
TIP_VERIFIED = "verified"
TIP_REJECTED = "rejected"
TIP_DUPLICATE = "duplicate"
TIP_QUARANTINED = "quarantined"

# Media statuses.
MEDIA_STORED = "stored"
MEDIA_TOO_LARGE = "too_large"
MEDIA_FAILED = "failed"

# Anchor and timestamp statuses.
ANCHOR_PENDING = "pending"  # the head is chosen; its message is waiting in the outbox
ANCHOR_POSTED = "posted"  # published: the message's id and date are recorded
TIMESTAMP_PENDING = "pending"  # an authority has not answered yet (retried with backoff)
TIMESTAMP_OK = "ok"  # a verified token is stored

# Custody entry formats (docs/custody.md).
CUSTODY_V1 = 1  # the hash covers the whole entry
CUSTODY_V2 = 2  # the hash covers a digest of the body: entries can be redacted in exports


class DatePrecision(StrEnum):
    """How precisely a reporter gave the incident's date (``tip.incident_date_precision``)."""

    DAY = "day"
    MONTH = "month"
    UNKNOWN = "unknown"


class LocationSource(StrEnum):
    """Where a tip's place came from (``tip.location_source``)."""

    SHARED_POINT = "shared_point"
    TYPED_PLACE = "typed_place"
    NONE = "none"


class LocationPrecision(StrEnum):
    """What a tip's place is (``tip.location_precision``): a shared map point, a matched
    settlement, typed words not matched, or nothing."""

    POINT = "point"
    SETTLEMENT = "settlement"
    TEXT = "text"
    NONE = "none"


# Outbox statuses.
OUTBOX_PENDING = "pending"
OUTBOX_SENT = "sent"
OUTBOX_CANCELLED = "cancelled"
OUTBOX_FAILED = "failed"  # refused by Telegram for good (or its reader is gone): never retried


class Reporter(Base):
    """A person who reports, known only by a keyed lookup key and a pseudonym."""

    __tablename__ = "reporter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The name the custody log, cards and exports show: random (rows from before migration
    # 0004 keep their keyed hash). Never derived from the Telegram id, so it cannot be found
    # again from it once the row is detached.
    pseudonym: Mapped[str] = mapped_column(String(64), unique=True)
    # How the bot finds the reporter: HMAC-SHA256 of the Telegram user id (bot.keys).
    # "Delete my data" clears it: the row (and the reports kept on it) then belongs to no
    # one, and the person's next /start creates a new reporter.
    lookup: Mapped[str | None] = mapped_column(String(64), unique=True)
    chat_id_enc: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    consented_at: Mapped[datetime | None]
    privacy_version: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    data_deleted_at: Mapped[datetime | None]
    # When the last erase checkpoint (chat_message row) was written.
    last_checkpoint_at: Mapped[datetime | None]
    # Moderation: a banned reporter is not told; their new tips are quarantined.
    banned_at: Mapped[datetime | None]
    banned_by: Mapped[str | None] = mapped_column(String(160))
    # "Add information" from My reports: the tip the reporter's next messages go to.
    adding_to_tip_id: Mapped[int | None] = mapped_column(Integer)

    tips: Mapped[list[Tip]] = relationship(back_populates="reporter")


class Tip(Base):
    """A report: a draft while the reporter fills it in, then submitted (or withdrawn)."""

    __tablename__ = "tip"
    # AUTOINCREMENT: SQLite must never reuse a deleted draft's id, or custody entries of
    # two different tips would share it.
    __table_args__ = (
        Index("ix_tip_reporter_status", "reporter_id", "status"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("reporter.id"))
    status: Mapped[str] = mapped_column(String(16), default=TIP_DRAFT, index=True)
    step: Mapped[str | None] = mapped_column(String(16))
    return_to_review: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(8))

    category: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    incident_date: Mapped[date | None]
    # "day", "month" or "unknown"; None while the reporter has not answered.
    incident_date_precision: Mapped[str | None] = mapped_column(String(8))
    incident_time: Mapped[time | None]
    # "shared_point", "typed_place" or "none"; None while not answered.
    location_source: Mapped[str | None] = mapped_column(String(16))
    # "point" (a shared map point), "settlement", "text" (typed, not matched) or "none".
    location_precision: Mapped[str | None] = mapped_column(String(16))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    place_text: Mapped[str | None] = mapped_column(Text)
    settlement: Mapped[str | None] = mapped_column(String(128))
    settlement_id: Mapped[int | None] = mapped_column(Integer)
    settlement_distance_km: Mapped[float | None] = mapped_column(Float)
    oblast: Mapped[str | None] = mapped_column(String(4))
    # "unknown", a party code, or "other"; None while not answered.
    perpetrator: Mapped[str | None] = mapped_column(String(32))
    perpetrator_text: Mapped[str | None] = mapped_column(Text)
    contact_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The reporter asked for one message when the report has been reviewed (opt-in).
    notify_reviewed: Mapped[bool] = mapped_column(Boolean, default=False)
    originals_hint_sent: Mapped[bool] = mapped_column(Boolean, default=False)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None]
    # Bumped by every moderator action: a card's buttons carry the version they were drawn
    # with, so a press on an outdated card is refused (see bot.moderation.check_version).
    version: Mapped[int] = mapped_column(Integer, default=1)

    # Moderation.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    assignee_id: Mapped[int | None] = mapped_column(BigInteger)
    assignee_name: Mapped[str | None] = mapped_column(String(160))
    reject_reason: Mapped[str | None] = mapped_column(String(32))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("tip.id"))
    reviewed_at: Mapped[datetime | None]
    last_action: Mapped[str | None] = mapped_column(String(32))
    last_actor_name: Mapped[str | None] = mapped_column(String(160))
    last_action_at: Mapped[datetime | None]
    card_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # Retention: when ``tipbot purge`` erased the content and originals (custody stays).
    purged_at: Mapped[datetime | None]

    reporter: Mapped[Reporter] = relationship(back_populates="tips")
    media: Mapped[list[Media]] = relationship(
        back_populates="tip", order_by="Media.id", cascade="all, delete-orphan"
    )
    notes: Mapped[list[TipNote]] = relationship(
        back_populates="tip", order_by="TipNote.id", cascade="all, delete-orphan"
    )


class Media(Base):
    """One file a reporter sent, with what investigators need to trust it."""

    __tablename__ = "media"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    file_id: Mapped[str] = mapped_column(String(255))
    file_unique_id: Mapped[str] = mapped_column(String(64), index=True)
    media_group_id: Mapped[str | None] = mapped_column(String(64))
    # Sealed with the instance key (db.crypto): the name can identify the reporter.
    file_name: Mapped[str | None] = mapped_column(SealedText("file_name"))
    declared_mime: Mapped[str | None] = mapped_column(String(128))
    detected_mime: Mapped[str | None] = mapped_column(String(128))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    storage_key: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(String(200))
    recompressed: Mapped[bool] = mapped_column(Boolean, default=False)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[int | None] = mapped_column(Integer)
    caption: Mapped[str | None] = mapped_column(Text)
    forward_origin: Mapped[dict[str, Any] | None]
    telegram_date: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # EXIF/XMP read from the file (names, serial numbers, GPS): sealed like file_name.
    file_metadata: Mapped[dict[str, Any] | None] = mapped_column("metadata", SealedJSON("metadata"))
    # Perceptual hash (pHash, 16 hex digits) of an image, to suggest near-duplicates.
    phash: Mapped[str | None] = mapped_column(String(16))
    # "report" (sent with the report), "answer" (to a moderator's question), "addition".
    origin: Mapped[str] = mapped_column(String(16), default="report")

    tip: Mapped[Tip] = relationship(back_populates="media")


class CustodyEntry(Base):
    """One link of the append-only, hash-chained chain-of-custody log."""

    __tablename__ = "custody_entry"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40), index=True)
    tip_id: Mapped[int | None] = mapped_column(Integer, index=True)  # no FK: rows outlive tips
    details: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # CUSTODY_V1 or CUSTODY_V2; v2 entries also store the digest their hash commits to.
    format: Mapped[int] = mapped_column(SmallInteger, default=CUSTODY_V1)
    body_digest: Mapped[str | None] = mapped_column(String(64))


class CustodyHead(Base):
    """The single row holding the chain's last sequence and hash; locked on every append."""

    __tablename__ = "custody_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    # The first sequence number written in format v2 (set by the migration that added it).
    v2_from_seq: Mapped[int] = mapped_column(BigInteger, default=1)


class Anchor(Base):
    """A custody head published outside the database (a message in ``ANCHOR_CHAT_ID``).

    The row is written with the head it publishes; once the message is posted its id and
    date are recorded here and in an ``anchored`` custody entry. ``tipbot verify`` checks
    that every anchored head is still in the chain."""

    __tablename__ = "anchor"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=ANCHOR_PENDING)
    # "interval", "entries" or "command": what made it due.
    reason: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    message_date: Mapped[datetime | None]
    posted_at: Mapped[datetime | None]


class TimestampToken(Base):
    """An RFC 3161 token from one authority over one anchored head (its SHA-256 hash)."""

    __tablename__ = "timestamp_token"
    __table_args__ = (UniqueConstraint("anchor_id", "tsa_url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    anchor_id: Mapped[int] = mapped_column(ForeignKey("anchor.id"), index=True)
    tsa_url: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default=TIMESTAMP_PENDING)
    # The DER TimeStampResp as received (what `openssl ts -verify -in` reads), and the
    # authority's certificate chain (PEM: signing certificate, intermediates, trusted root).
    token: Mapped[bytes | None] = mapped_column(LargeBinary)
    certificates: Mapped[str | None] = mapped_column(Text)
    gen_time: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """A message waiting to go to the moderators, written in the transaction that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    tip_id: Mapped[int | None] = mapped_column(ForeignKey("tip.id", ondelete="SET NULL"))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default=OUTBOX_PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # A worker that took the row owns it until then (several processes may drain).
    lease_until: Mapped[datetime | None]


class ChatMessage(Base):
    """An erase checkpoint: a message id of a reporter's chat and its time, kept only so the
    conversation can be erased within Telegram's 48-hour window."""

    __tablename__ = "chat_message"
    __table_args__ = (Index("ix_chat_message_reporter_sent", "reporter_id", "sent_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("reporter.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(BigInteger)
    sent_at: Mapped[datetime]


class TipLink(Base):
    """Two tips that may report the same thing: ``same_file`` (identical bytes or Telegram
    file), ``similar_image`` (perceptual hash within a distance) or ``similar_context``
    (same category and oblast, close dates). Only a moderator confirms a duplicate."""

    __tablename__ = "tip_link"
    __table_args__ = (UniqueConstraint("tip_id", "other_tip_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id", ondelete="CASCADE"), index=True)
    other_tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    distance: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TipNote(Base):
    """A moderator's question to the reporter, the reporter's answer, or information the
    reporter added later."""

    __tablename__ = "tip_note"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # question, pending, answer, addition
    text: Mapped[str | None] = mapped_column(Text)
    media_id: Mapped[int | None] = mapped_column(ForeignKey("media.id", ondelete="SET NULL"))
    moderator_id: Mapped[int | None] = mapped_column(BigInteger)
    moderator_name: Mapped[str | None] = mapped_column(String(160))
    # For questions: open until answered; the relayed message's id in the reporter's chat.
    is_open: Mapped[bool] = mapped_column(Boolean, default=False)
    reporter_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tip: Mapped[Tip] = relationship(back_populates="notes")


class ForumTopic(Base):
    """A topic of the moderators' forum group, created on first use (one per category)."""

    __tablename__ = "forum_topic"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    thread_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GroupMessage(Base):
    """A message the bot posted in the moderators' group about a tip (a card, a digest, a
    question prompt, a relayed answer), so a moderator's reply to it finds the tip."""

    __tablename__ = "group_message"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tip.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PendingErasure(Base):
    """An original whose erasure is owed: written in the transaction that deletes its last
    media rows, removed once the file is gone (or is referenced again). A file that could
    not be unlinked stays here and is retried with backoff until it is gone."""

    __tablename__ = "pending_erasure"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    storage_key: Mapped[str] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundUpdate(Base):
    """An update from Telegram, stored before Telegram is told it arrived and processed from
    here (bot/updates.py), idempotent on ``update_id``. ``chat_key`` (a keyed digest of the
    chat, or chat and member in a group) keeps one chat's updates in order; ``payload`` is
    the update's JSON sealed with the instance key. A lease (``lease_owner`` until
    ``lease_until``) says which process has it in hand. Once done, payload and chat key are
    emptied; the row stays two days so that a redelivery is recognised."""

    __tablename__ = "inbound_update"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_key: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(96))
    lease_until: Mapped[datetime | None]
    done_at: Mapped[datetime | None]


# The pending updates, in order (claims read them; done rows leave the index).
Index(
    "ix_inbound_update_pending",
    InboundUpdate.update_id,
    postgresql_where=InboundUpdate.done_at.is_(None),
    sqlite_where=InboundUpdate.done_at.is_(None),
)
