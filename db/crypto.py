"""Columns stored encrypted with the instance key ("privacy at rest").

A file's name and the metadata read from it (EXIF/XMP: camera and owner names, serial
numbers, GPS) can identify the reporter, so :class:`db.models.Media` keeps them sealed with
AES-256-GCM: ``enc1:`` followed by the URL-safe Base64 of a random 12-byte nonce and the
ciphertext with its tag. The column's name is the associated data, so a value cannot be
moved to another column unnoticed. The types encrypt on write and decrypt on read, so every
reader of ``Media.file_name`` and ``Media.file_metadata`` sees the clear values as before.

The key belongs to an engine, not to the process: :func:`bind_cipher` gives it to one
engine (``bot.atrest`` derives it from the instance's secret key). An engine without a key
writes clear values (tests and benchmarks that never load a secret) and reads a sealed
value as None. Values written before this existed are clear, and are read as they are
(``bot.atrest.seal_clear_media`` seals them when the bot starts).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from typing import Any
from weakref import WeakKeyDictionary

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import JSON, Dialect, Text, TypeDecorator
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

PREFIX = "enc1:"
_NONCE = 12


class FieldCipher:
    """AES-256-GCM over text, with the column's name as associated data."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plain: str, column: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, plain.encode(), column.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, token: str, column: str) -> str | None:
        """The clear text, or None when the token was made with another key or is damaged."""
        try:
            raw = base64.urlsafe_b64decode(token[len(PREFIX) :])
            return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], column.encode()).decode()
        except (InvalidTag, ValueError, binascii.Error):
            return None


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


_ciphers: WeakKeyDictionary[Dialect, FieldCipher] = WeakKeyDictionary()


def bind_cipher(engine: AsyncEngine | Engine, cipher: FieldCipher | None) -> None:
    """Seal and open this engine's sealed columns with ``cipher`` (None: no key)."""
    dialect = engine.dialect
    if cipher is None:
        _ciphers.pop(dialect, None)
    else:
        _ciphers[dialect] = cipher


def cipher_for(dialect: Dialect) -> FieldCipher | None:
    return _ciphers.get(dialect)


_warned: set[str] = set()


def _opened(token: str, column: str, dialect: Dialect) -> str | None:
    """The clear text of a sealed value; None without a key (a command that does not read
    these columns binds none) or when the key is not the one it was sealed with."""
    cipher = cipher_for(dialect)
    if cipher is None:
        return None
    plain = cipher.open(token, column)
    if plain is None and column not in _warned:
        # Once per column, and never the value.
        _warned.add(column)
        log.warning("sealed %s values cannot be decrypted: not sealed with this key", column)
    return plain


class SealedText(TypeDecorator[str]):
    """Text stored sealed (:class:`FieldCipher`) under the column's name ``column``."""

    impl = Text
    cache_ok = True

    def __init__(self, column: str) -> None:
        super().__init__()
        self.column = column

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        cipher = cipher_for(dialect)
        if value is None or cipher is None:
            return value
        return cipher.seal(value, self.column)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or not is_sealed(value):
            return value  # stored clear, before sealing or by an engine without a key
        return _opened(value, self.column, dialect)


class SealedJSON(TypeDecorator[dict[str, Any]]):
    """A JSON object stored as a sealed JSON string (still valid JSON for the column)."""

    impl = JSON
    cache_ok = True

    def __init__(self, column: str) -> None:
        super().__init__()
        self.column = column

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        cipher = cipher_for(dialect)
        if value is None or cipher is None:
            return value
        return cipher.seal(json.dumps(value, ensure_ascii=False), self.column)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if not is_sealed(value):
            return value
        plain = _opened(value, self.column, dialect)
        return None if plain is None else json.loads(plain)
