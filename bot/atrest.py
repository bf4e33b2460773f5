"""Privacy at rest: the key that seals file names and file metadata (:mod:`db.crypto`).

The key is derived from the instance's secret through :class:`bot.keys.Keyring`, so it is
the secret the bot already keeps outside the database (``TIPBOT_SECRET_KEY`` or
``data/secret.key``): whoever has the database alone reads neither file names nor EXIF.
The bot binds it to its engine when it is built (:func:`install`) and then seals, in the
background and in batches, the values stored clear before sealing existed
(:func:`seal_clear_media`); the commands that read them (``tipbot bundle``) bind it to
theirs (:func:`bind_from_settings`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Integer, Text, and_, bindparam, cast, column, or_, select, table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.keys import KEY_FILE_NAME, Keyring, load_or_create_secret
from bot.settings import Settings
from db.crypto import PREFIX, FieldCipher, bind_cipher, cipher_for, is_sealed

log = logging.getLogger(__name__)

# The purpose the sealing key is derived for (Keyring.derive). tests/db/test_privacy_at_rest.py
# pins the result, so a change of the derivation that would lose the key fails there first.
PURPOSE = "tipbot/media-fields/v1"
BATCH = 500


def field_cipher(keyring: Keyring) -> FieldCipher:
    return FieldCipher(keyring.derive(PURPOSE))


def install(engine: AsyncEngine, keyring: Keyring) -> None:
    """Seal and open ``engine``'s file names and metadata with the instance key."""
    bind_cipher(engine, field_cipher(keyring))


def keyring_from_settings(settings: Settings) -> Keyring | None:
    """The instance's keyring for a command: ``TIPBOT_SECRET_KEY`` or ``data/secret.key``;
    None when neither exists (a command never creates the key, ``tipbot run`` does)."""
    configured = settings.tipbot_secret_key
    value = configured.get_secret_value() if configured else None
    if value is None and not (settings.tipbot_data_dir / KEY_FILE_NAME).exists():
        return None
    return Keyring(load_or_create_secret(value, settings.tipbot_data_dir).value)


def bind_from_settings(engine: AsyncEngine, settings: Settings) -> bool:
    """Bind the instance key to a command's engine; False when there is no key to bind."""
    keyring = keyring_from_settings(settings)
    if keyring is not None:
        install(engine, keyring)
    return keyring is not None


# The columns as stored, without the sealing types: what the one-time pass reads and writes.
_media = table(
    "media",
    column("id", Integer),
    column("file_name", Text),
    column("metadata", JSON),
)
_SEALED_NAME = _media.c.file_name.startswith(PREFIX)
_CLEAR_NAME = and_(_media.c.file_name.is_not(None), ~_SEALED_NAME)
# A sealed value is a JSON string; None may be stored as SQL NULL or as JSON null.
_SEALED_METADATA = cast(_media.c.metadata, Text).startswith('"' + PREFIX)
_CLEAR_METADATA = and_(
    _media.c.metadata.is_not(None), cast(_media.c.metadata, Text) != "null", ~_SEALED_METADATA
)


async def has_sealed(engine: AsyncEngine) -> bool:
    """Whether any file name or metadata is stored sealed (unreadable without the key)."""
    async with engine.connect() as connection:
        found = await connection.execute(
            select(_media.c.id).where(or_(_SEALED_NAME, _SEALED_METADATA)).limit(1)
        )
        return found.first() is not None


async def seal_clear_media(engine: AsyncEngine, *, batch: int = BATCH) -> int:
    """Seal the file names and metadata still stored clear, ``batch`` rows per transaction;
    how many rows were sealed. Rows are never changed after they are written, so sealing
    one that a purge deletes meanwhile changes nothing."""
    cipher = cipher_for(engine.dialect)
    if cipher is None:
        return 0
    sealed = 0
    after = 0
    while True:
        async with engine.begin() as connection:
            rows = (
                await connection.execute(
                    select(_media.c.id, _media.c.file_name, _media.c.metadata)
                    .where(_media.c.id > after, or_(_CLEAR_NAME, _CLEAR_METADATA))
                    .order_by(_media.c.id)
                    .limit(batch)
                )
            ).all()
            if not rows:
                return sealed
            await _seal_rows(connection, cipher, rows)
        after = rows[-1].id
        sealed += len(rows)


async def _seal_rows(connection: AsyncConnection, cipher: FieldCipher, rows: Sequence[Any]) -> None:
    """Seal, in the caller's transaction, whichever of each row's two values is clear."""
    names = [(row.id, row.file_name) for row in rows]
    metadata = [(row.id, _json_text(row.metadata)) for row in rows]
    for name, values in (("file_name", names), ("metadata", metadata)):
        sealed = [
            {"row": row, "value": cipher.seal(value, name)}
            for row, value in values
            if value is not None and not is_sealed(value)
        ]
        if sealed:
            statement = (
                _media.update()
                .where(_media.c.id == bindparam("row"))
                .values({name: bindparam("value")})
            )
            await connection.execute(statement, sealed)


def _json_text(value: Any) -> str | None:
    """Clear metadata as the JSON text to seal; a sealed value (a string) as it is."""
    if value is None or is_sealed(value):
        return value  # type: ignore[no-any-return]
    return json.dumps(value, ensure_ascii=False)


async def seal_clear_media_logged(engine: AsyncEngine) -> None:
    """:func:`seal_clear_media` for the bot's start: one log line with the count."""
    try:
        count = await seal_clear_media(engine)
    except Exception as exc:
        # The class only: a traceback may carry stored values.
        log.warning(
            "sealing stored file names and metadata stopped (%s); it goes on at the next start",
            type(exc).__name__,
        )
        return
    if count:
        log.info("sealed the file names and metadata of %d stored files", count)
