"""Pseudonyms and chat-id encryption: stable, keyed, one-way, and never the raw id."""

import stat
from pathlib import Path

import pytest

from bot.keys import Keyring, SecretKeyError, load_or_create_secret

USER_ID = 700000123


def test_pseudonym_is_stable_keyed_and_not_the_raw_id() -> None:
    ring = Keyring(b"k" * 40)
    first = ring.pseudonym(USER_ID)
    assert first == Keyring(b"k" * 40).pseudonym(USER_ID)
    assert first != Keyring(b"j" * 40).pseudonym(USER_ID)
    assert first != ring.pseudonym(USER_ID + 1)
    assert str(USER_ID) not in first
    assert len(first) == 64


def test_pseudonym_is_not_a_plain_hash_of_the_id() -> None:
    import hashlib

    pseudonym = Keyring(b"k" * 40).pseudonym(USER_ID)
    for candidate in (str(USER_ID), f"telegram-user:{USER_ID}"):
        assert pseudonym != hashlib.sha256(candidate.encode()).hexdigest()


def test_chat_id_round_trips_only_with_the_same_key() -> None:
    ring = Keyring(b"k" * 40)
    token = ring.encrypt_chat_id(USER_ID)
    assert str(USER_ID) not in token
    assert ring.decrypt_chat_id(token) == USER_ID
    assert Keyring(b"j" * 40).decrypt_chat_id(token) is None
    assert ring.decrypt_chat_id("garbage") is None
    assert ring.encrypt_chat_id(USER_ID) != token  # random IV each time


def test_secret_is_generated_once_with_private_permissions(tmp_path: Path) -> None:
    created = load_or_create_secret(None, tmp_path / "data")
    assert created.created
    path = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_or_create_secret(None, tmp_path / "data")
    assert not again.created
    assert again.value == created.value
    assert len(created.value) >= 32


def test_configured_secret_wins_and_short_file_is_refused(tmp_path: Path) -> None:
    assert load_or_create_secret("x" * 40, tmp_path).value == b"x" * 40
    assert not (tmp_path / "secret.key").exists()
    (tmp_path / "secret.key").write_text("short")
    with pytest.raises(SecretKeyError):
        load_or_create_secret(None, tmp_path)
