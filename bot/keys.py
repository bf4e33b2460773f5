"""The secret key kept outside the database, and what it protects.

A reporter is known to the database only by a keyed pseudonym (HMAC-SHA256 of the Telegram
user id): a plain hash of an integer id could be reversed by trying every id. The chat id
needed for follow-up messages is stored encrypted (Fernet: AES-128-CBC with HMAC-SHA256);
file names and metadata are sealed with a key of their own (:mod:`db.crypto`). Every key is
derived from one secret with HKDF, so no use weakens another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

KEY_FILE_NAME = "secret.key"


class SecretKeyError(Exception):
    """The secret key cannot be read or created."""


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


@dataclass(frozen=True, slots=True)
class SecretKey:
    """The raw secret and where it came from (for the start-up log, never the value)."""

    value: bytes
    source: str
    created: bool = False


def load_or_create_secret(configured: str | None, data_dir: Path) -> SecretKey:
    """Return the secret: ``TIPBOT_SECRET_KEY`` if set, else ``<data_dir>/secret.key``.

    On first run the file is created with 32 random bytes (URL-safe text) and mode 0600, and
    ``created`` is true so the caller can warn the operator to back it up.
    """
    if configured:
        return SecretKey(configured.encode(), "TIPBOT_SECRET_KEY")
    path = data_dir / KEY_FILE_NAME
    return _read_key_file(path) or _create_key_file(data_dir, path)


def _read_key_file(path: Path) -> SecretKey | None:
    """The key in ``path``, or None if there is no such file or it is empty."""
    text = _key_file_text(path)
    if not text:
        return None
    if len(text) < 32:
        raise SecretKeyError(f"{path} holds a key shorter than 32 characters")
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("secret key file %s is readable by other users (mode %o)", path, mode)
    return SecretKey(text.encode(), str(path))


def _key_file_text(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretKeyError(f"cannot read {path}: {exc.__class__.__name__}") from None


def _create_key_file(data_dir: Path, path: Path) -> SecretKey:
    """A new random key written to ``path`` (mode 0600), or the one another process wrote."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        new = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(new + "\n")
    except FileExistsError:  # another process created it a moment ago
        return load_or_create_secret(None, data_dir)
    except OSError as exc:
        raise SecretKeyError(f"cannot create {path}: {exc.strerror}") from None
    return SecretKey(new.encode(), str(path), created=True)


class Keyring:
    """Pseudonyms and chat-id encryption derived from the one secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._lookup_key = _derive(secret, b"tipbot/reporter-lookup/v2")
        self._legacy_key = _derive(secret, b"tipbot/reporter-pseudonym/v1")
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret, b"tipbot/chat-id/v1")))

    def pseudonym(self, telegram_user_id: int) -> str:
        """Stable, keyed, one-way name for a Telegram user (64 hex characters): the key a
        reporter's row is found by (``Reporter.lookup``), never written to the custody log."""
        message = f"telegram-user:{int(telegram_user_id)}".encode()
        return hmac.new(self._lookup_key, message, hashlib.sha256).hexdigest()

    def legacy_pseudonym(self, telegram_user_id: int) -> str:
        """The name installations before migration 0004 found reporters by *and* wrote in
        the custody log; only used to find such a reporter once and move them to
        :meth:`pseudonym`, so that after "Delete my data" no stored key equals it."""
        message = f"telegram-user:{int(telegram_user_id)}".encode()
        return hmac.new(self._legacy_key, message, hashlib.sha256).hexdigest()

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key of its own for ``purpose`` (e.g. ``"tipbot/media-fields/v1"``),
        derived from the secret with HKDF like every other key here."""
        return _derive(self._secret, purpose.encode())

    def encrypt_chat_id(self, chat_id: int) -> str:
        return self._fernet.encrypt(str(int(chat_id)).encode()).decode("ascii")

    def decrypt_chat_id(self, token: str) -> int | None:
        """The chat id, or None when the token was made with another key or is damaged."""
        try:
            return int(self._fernet.decrypt(token.encode("ascii")))
        except (InvalidToken, ValueError):
            return None
