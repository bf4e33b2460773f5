"""What may reach the logs: no tokens, and no exception messages (they may quote input)."""

import io
import logging

from bot.logs import configure_logging, redact


def test_tokens_are_masked_anywhere() -> None:
    line = "POST https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0/getMe"
    assert "AAHdq" not in redact(line)
    assert "<token>" in redact(line)


def test_exception_messages_are_dropped_but_types_and_frames_kept() -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    try:
        int("secret words a reporter typed")
    except ValueError:
        logging.getLogger("tipbot.test").exception("parsing failed")
    output = stream.getvalue()
    assert "secret words" not in output
    assert "builtins.ValueError" in output
    assert "test_exception_messages_are_dropped" in output


def test_chatty_libraries_stay_quiet_even_at_debug() -> None:
    configure_logging("DEBUG", stream=io.StringIO())
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("telegram").getEffectiveLevel() >= logging.INFO
    assert logging.getLogger("tipbot").getEffectiveLevel() == logging.DEBUG
