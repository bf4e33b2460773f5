"""Settings: documented defaults, and one clear line for every bad value."""

from pathlib import Path

import pytest

from bot.settings import ConfigError, load_settings

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"


def settings(**values: object):
    return load_settings(_env_file=None, **values)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "MEDIA_DIR", "TELEGRAM_API_URL", "ADMIN_IDS"):
        monkeypatch.delenv(name, raising=False)
    s = settings(telegram_bot_token=TOKEN)
    assert s.database_url == "sqlite+aiosqlite:///./data/tipbot.db"
    assert s.media_dir == Path("./data/media")
    assert s.telegram_api_url == "https://api.telegram.org"
    assert s.telegram_local_mode is False
    assert s.download_limit_bytes == 20 * 1024 * 1024
    assert s.admin_ids == []
    assert s.tipbot_max_files_per_report == 30
    assert s.tipbot_max_reports_per_day == 10
    assert s.tipbot_max_updates_per_minute == 30
    assert str(s.tipbot_earliest_incident_date) == "2014-02-20"


def test_environment_variables_are_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_LOCAL_MODE", "true")
    monkeypatch.setenv("ADMIN_IDS", "1, 2,3")
    monkeypatch.setenv("MODERATOR_CHAT_ID", "-1001234567890")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/tips")
    monkeypatch.setenv("TIPBOT_CATEGORIES", "strike,killing,other")
    s = settings()
    assert s.token() == TOKEN
    assert s.download_limit_bytes == 2000 * 1024 * 1024
    assert s.admin_ids == [1, 2, 3]
    assert s.moderator_chat_id == -1001234567890
    assert s.database_url == "postgresql+asyncpg://u:p@db:5432/tips"
    assert s.tipbot_categories == ["strike", "killing", "other"]


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"telegram_bot_token": "nonsense"}, "TELEGRAM_BOT_TOKEN"),
        ({"moderator_chat_id": "abc"}, "MODERATOR_CHAT_ID"),
        ({"admin_ids": "1,x"}, "ADMIN_IDS"),
        ({"database_url": "mysql://x/y"}, "DATABASE_URL"),
        ({"telegram_api_url": "ftp://x"}, "TELEGRAM_API_URL"),
        ({"tipbot_secret_key": "short"}, "TIPBOT_SECRET_KEY"),
        ({"tipbot_categories": "strike,nonsense"}, "TIPBOT_CATEGORIES"),
        ({"tipbot_max_files_per_report": "0"}, "TIPBOT_MAX_FILES_PER_REPORT"),
        ({"telegram_local_mode": "maybe"}, "TELEGRAM_LOCAL_MODE"),
    ],
)
def test_bad_values_give_one_line_naming_the_variable(values: dict, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(**{"telegram_bot_token": TOKEN, **values})
    message = str(caught.value)
    assert named in message
    assert "\n" not in message


def test_secrets_are_not_echoed_in_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        settings(telegram_bot_token="999:tooshort-but-secret")
    assert "tooshort-but-secret" not in str(caught.value)


def test_missing_token_is_reported_when_it_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    s = settings()
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN is required"):
        s.token()


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_chat_id_means_unset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    """``MODERATOR_CHAT_ID=`` as left in a copied .env, or in the environment."""
    monkeypatch.setenv("MODERATOR_CHAT_ID", value)
    monkeypatch.setenv("ANCHOR_CHAT_ID", value)
    s = settings(telegram_bot_token=TOKEN)
    assert (s.moderator_chat_id, s.anchor_chat_id) == (None, None)
    monkeypatch.delenv("MODERATOR_CHAT_ID")
    monkeypatch.delenv("ANCHOR_CHAT_ID")
    env_file = tmp_path / ".env"
    env_file.write_text(f"MODERATOR_CHAT_ID={value}\nANCHOR_CHAT_ID={value}\n")
    s = load_settings(_env_file=env_file, telegram_bot_token=TOKEN)
    assert (s.moderator_chat_id, s.anchor_chat_id) == (None, None)


def test_the_org_name_is_unset_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIPBOT_ORG_NAME", raising=False)
    s = settings(telegram_bot_token=TOKEN)
    assert s.tipbot_org_name is None
    assert s.org_label == "not configured"  # what bundles record as Source-Organization
    monkeypatch.setenv("TIPBOT_ORG_NAME", "   ")
    assert settings(telegram_bot_token=TOKEN).tipbot_org_name is None
    monkeypatch.setenv("TIPBOT_ORG_NAME", " Truth Hounds ")
    s = settings(telegram_bot_token=TOKEN)
    assert (s.tipbot_org_name, s.org_label) == ("Truth Hounds", "Truth Hounds")
