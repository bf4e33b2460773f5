"""Reusable pieces of conversation for the end-to-end tests."""

from __future__ import annotations

import re

from bot.i18n import Catalog
from tests.fakebot import FakeUser

CATALOG = Catalog.load()
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + bytes(range(256)) * 8
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def t(lang: str, key: str, **args: object) -> str:
    """A catalog message as the user sees it (tags stripped, entities decoded)."""
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", CATALOG.t(lang, key, **args)))


def label(lang: str, key: str) -> str:
    return t(lang, key)


async def onboard(user: FakeUser, lang: str = "en") -> None:
    """/start, choose the language, agree: the reporter reaches the menu."""
    from bot.i18n import LANGUAGE_NAMES

    await user.send_command("/start")
    await user.press(re.compile(rf"^(• )?{re.escape(LANGUAGE_NAMES[lang])}$"))
    await user.press(label(lang, "intro-agree"))
    assert t(lang, "menu-text") in user.last_bot_message().text


async def file_complete_report(
    user: FakeUser, lang: str = "en", *, with_files: bool = True, place: str = "Буча"
) -> str:
    """A whole report through every step; returns the reference code shown."""
    if label(lang, "menu-new") in user.buttons():
        await user.press(label(lang, "menu-new"))
    else:
        await user.send_command("/report")
    await user.press(label(lang, "category-strike"))
    await user.send_text("A missile hit the apartment block on the corner at dawn.")
    await user.press(label(lang, "nav-next"))
    await user.send_text("24.02.2022")
    await user.send_text(place)
    await user.press(re.compile(r"^(Буча|Bucha),"))
    await user.press(label(lang, "party-unknown"))
    if with_files:
        await user.send_document(PDF, file_name="statement.pdf", mime_type="application/pdf")
        await user.send_photo(content=JPEG)
        await user.wait_for_message(lambda m: "2" in (m.text or ""), timeout=5)
        await user.press(label(lang, "evidence-done"))
    else:
        await user.press(label(lang, "evidence-none"))
    await user.press(label(lang, "contact-yes"))
    await user.press(label(lang, "review-submit"))
    text = user.last_bot_message().text or ""
    match = re.search(r"[2-9A-Z]{4}-[2-9A-Z]{4}", text)
    assert match, text
    return match.group(0)
