"""The ``tipbot`` command: migrate and run on SQLite and PostgreSQL, one clear line for a bad
setting, and a real ``tipbot run`` process talking to the fake Telegram server."""

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from db.models import Tip
from tests.conftest import PG_URL, SECRET, _create_pg_database, _drop_pg_database
from tests.e2e.flows import label, t
from tests.fakebot import FakeTelegram
from tests.harness import BotHarness

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
WRONG_TOKEN = "987654321:WrongTokenWrongTokenWrongToken00"


def clean_env(**values: str) -> dict[str, str]:
    """The environment of a fresh shell: no settings leaking in from the developer's."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(values)
    return env


def tipbot(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own program
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_migrate_on_sqlite_creates_the_schema_from_defaults(tmp_path: Path) -> None:
    result = tipbot("migrate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    database = tmp_path / "data" / "tipbot.db"
    tables = {
        row[0]
        for row in sqlite3.connect(database).execute(
            "SELECT name FROM sqlite_master WHERE type='table'"
        )
    }
    assert {
        "reporter",
        "tip",
        "media",
        "custody_entry",
        "custody_head",
        "outbox",
        "chat_message",
        "alembic_version",
    } <= tables
    again = tipbot("migrate", cwd=tmp_path)
    assert again.returncode == 0, again.stderr


@pytest.mark.postgres
def test_migrate_on_postgresql(tmp_path: Path) -> None:
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests are skipped")
    name = f"tipbot_cli_{os.getpid()}"
    url = asyncio.run(_create_pg_database(name))
    try:
        # The command must work on an empty database too: drop what the fixture made.
        async def reset() -> None:
            engine = create_async_engine(url)
            async with engine.begin() as connection:
                await connection.execute(text("DROP SCHEMA public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
            await engine.dispose()

        asyncio.run(reset())
        plain_url = url.replace("postgresql+asyncpg://", "postgresql://")
        result = tipbot("migrate", cwd=tmp_path, DATABASE_URL=plain_url)
        assert result.returncode == 0, result.stderr

        async def tables() -> set[str]:
            engine = create_async_engine(url)
            async with engine.connect() as connection:
                rows = await connection.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname='public'")
                )
                found = {row[0] for row in rows}
            await engine.dispose()
            return found

        assert {"tip", "media", "custody_entry", "outbox"} <= asyncio.run(tables())
        verify = tipbot("verify-custody", cwd=tmp_path, DATABASE_URL=plain_url)
        assert verify.returncode == 0
        assert "intact: 0 entries" in verify.stdout
    finally:
        asyncio.run(_drop_pg_database(name))


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_BOT_TOKEN": "not-a-token"}, "TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "MODERATOR_CHAT_ID": "abc"}, "MODERATOR_CHAT_ID"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_LOCAL_MODE": "perhaps"}, "TELEGRAM_LOCAL_MODE"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "TIPBOT_SECRET_KEY": "short"}, "TIPBOT_SECRET_KEY"),
    ],
)
def test_a_bad_setting_gives_one_clear_line(
    tmp_path: Path, env: dict[str, str], named: str
) -> None:
    result = tipbot("run", cwd=tmp_path, **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data" / "secret.key").exists(), "nothing is created on a bad start"


def test_an_unreachable_database_gives_one_clear_line(tmp_path: Path) -> None:
    result = tipbot(
        "migrate", cwd=tmp_path, DATABASE_URL="postgresql://postgres:hunter2@127.0.0.1:9/none"
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "127.0.0.1:9" in lines[0]
    assert "hunter2" not in result.stderr


async def test_a_rejected_token_gives_one_clear_line(fake: FakeTelegram, tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run",
        cwd=tmp_path,
        env=clean_env(TELEGRAM_BOT_TOKEN=WRONG_TOKEN, TELEGRAM_API_URL=fake.url),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    errors = [line for line in stderr.decode().splitlines() if line.startswith("tipbot:")]
    assert errors == ["tipbot: Telegram rejected the bot token (TELEGRAM_BOT_TOKEN)"]
    assert "Traceback" not in stderr.decode()
    assert "WrongToken" not in stderr.decode()


def test_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("tipbot ")


async def test_run_then_restart_into_another_process(
    fake: FakeTelegram, tmp_path: Path, database_url: str, engine
) -> None:  # type: ignore[no-untyped-def]
    """``tipbot run`` as a real process: it migrates, answers, stops on SIGTERM; then a new
    process on the same database continues the reporter's draft."""
    env = clean_env(
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_API_URL=fake.url,
        DATABASE_URL=database_url,
        MEDIA_DIR=str(tmp_path / "media"),
        TIPBOT_SECRET_KEY=SECRET,
        TIPBOT_ACK_DELAY_SECONDS="0.05",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await fake.wait_for_call("setMyCommands", timeout=30)
        user = fake.user()
        await user.send_command("/start")
        await user.wait_for_message(lambda m: "English" in str(m.inline_buttons), timeout=15)
        await user.press(re.compile(r"^(• )?English$"))
        await user.wait_for_message(
            lambda m: label("en", "intro-agree") in str(m.inline_buttons), new_only=False
        )
        await user.press(label("en", "intro-agree"))
        await user.wait_for_message(
            lambda m: t("en", "menu-text") in (m.text or ""), new_only=False
        )
        await user.press(label("en", "menu-new"))
        await user.wait_for_message(
            lambda m: label("en", "category-strike") in str(m.inline_buttons), new_only=False
        )
        await user.press(label("en", "category-bodies"))
        await user.wait_for_message(lambda m: "Step 2 of 8" in (m.text or ""), new_only=False)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()[-2000:]
    log = stderr.decode()
    assert "update=" in log
    assert "Traceback" not in log

    settings = __import__("tests.conftest", fromlist=["make_settings"]).make_settings(
        fake, database_url, tmp_path
    )
    harness = BotHarness(fake, settings, engine, SECRET.encode())
    await harness.start()
    try:
        await user.send_text("We found a grave in the forest north of the village.")
        tip = (await harness.all(Tip))[0]
        assert (tip.category, tip.step) == ("bodies", "description")
        assert tip.description.startswith("We found a grave")
    finally:
        await harness.stop()


NO_DATABASE = (
    "tipbot: no database at ./data/tipbot.db "
    "(run `tipbot migrate` or `tipbot run` first, or set DATABASE_URL)"
)


@pytest.mark.parametrize(
    "command",
    [
        ["verify-custody"],
        ["verify"],
        ["export", "--format", "csv"],
        ["bundle", "--out", "bundle.zip"],
        ["purge", "--older-than", "365d", "--yes"],
        ["anchor"],
    ],
)
@pytest.mark.parametrize("data_folder", [True, False])
def test_a_command_in_a_folder_without_a_database_says_so(
    tmp_path: Path, command: list[str], data_folder: bool
) -> None:
    if data_folder:
        (tmp_path / "data").mkdir()
    result = tipbot(*command, cwd=tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, ANCHOR_CHAT_ID="-100123")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [NO_DATABASE]
    assert not (tmp_path / "data" / "tipbot.db").exists(), "no empty database is created"
    assert not list(tmp_path.glob("bundle*")), "no output either"


def test_the_missing_database_named_is_the_configured_one(tmp_path: Path) -> None:
    result = tipbot("verify-custody", cwd=tmp_path, DATABASE_URL="sqlite:///elsewhere/tips.db")
    assert result.returncode == 1
    assert result.stderr.startswith("tipbot: no database at elsewhere/tips.db ")
    assert not (tmp_path / "elsewhere").exists()


def test_migrate_creates_the_database_the_other_commands_then_read(tmp_path: Path) -> None:
    assert tipbot("migrate", cwd=tmp_path).returncode == 0
    result = tipbot("verify-custody", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "intact: 0 entries" in result.stdout


def test_verify_bundle_needs_no_database(tmp_path: Path) -> None:
    result = tipbot("verify-bundle", "nothing-here.zip", cwd=tmp_path)
    assert "no database" not in result.stderr
    assert not (tmp_path / "data").exists()


async def start_against(fake: FakeTelegram, tmp_path: Path, **env: str) -> tuple[int, str]:
    """``tipbot run`` as a process against the fake server; its exit status and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run",
        cwd=tmp_path,
        env=clean_env(TELEGRAM_BOT_TOKEN=fake.token, TELEGRAM_API_URL=fake.url, **env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, stderr.decode()


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("MODERATOR_CHAT_ID", "123456789", "group ids are negative, e.g. -100"),
        ("MODERATOR_CHAT_ID", "-1009999999999", "there is no group -1009999999999"),
        ("MODERATOR_CHAT_ID", "left", "the bot is not a member of -100"),
        ("ANCHOR_CHAT_ID", "-1009999999999", "there is no group -1009999999999"),
    ],
)
async def test_run_stops_on_a_chat_id_the_bot_cannot_use(
    fake: FakeTelegram, tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    if value == "left":
        group = fake.group(title="Old moderators")
        group.set_bot_status("left")
        value = str(group.id)
    status, stderr = await start_against(fake, tmp_path, **{variable: value})
    assert status == 2, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("tipbot:")]
    assert len(errors) == 1, stderr
    assert errors[0].startswith(f"tipbot: configuration error: {variable}: ")
    assert expected in errors[0]
    assert "Traceback" not in stderr
    assert not (tmp_path / "data" / "tipbot.db").exists(), "nothing is created on a bad start"
    assert fake.calls_to("getChat") or value == "123456789"


async def test_run_accepts_an_empty_moderator_chat_id_as_unset(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    """``MODERATOR_CHAT_ID=`` (as left in a copied .env) is no group, not an error."""
    (tmp_path / ".env").write_text("MODERATOR_CHAT_ID=\nANCHOR_CHAT_ID=\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run",
        cwd=tmp_path,
        env=clean_env(
            TELEGRAM_BOT_TOKEN=fake.token,
            TELEGRAM_API_URL=fake.url,
            TIPBOT_SECRET_KEY=SECRET,
        ),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await fake.wait_for_call("setMyCommands", timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    log = stderr.decode()
    assert process.returncode == 0, log[-2000:]
    assert "MODERATOR_CHAT_ID is not set" in log
    assert "TIPBOT_ORG_NAME is not set" in log
    assert not fake.calls_to("getChat")
