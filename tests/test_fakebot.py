"""Tests of the fake Telegram Bot API server (tests/fakebot) through real clients."""

from __future__ import annotations

import asyncio
import datetime as dtm
import hashlib
import json
import re
import time
import tracemalloc
import warnings
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    TypeHandler,
)

from tests.fakebot import (
    AlbumItem,
    ApiCall,
    ChatMessage,
    FakeFile,
    FakeGroup,
    FakeTelegram,
    FakeUser,
    parse_html,
)
from tests.fakebot.files import sample_jpeg

MB = 1024 * 1024


def kb(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    """Inline keyboard from rows of (text, callback_data)."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


def texts(updates: tuple[Update, ...]) -> list[str | None]:
    """Texts of the messages of ``updates``."""
    return [u.message.text if u.message else None for u in updates]


def ci(text: str, *, regex: bool = False) -> re.Pattern[str]:
    """Case-insensitive pattern (PTB capitalises error descriptions)."""
    return re.compile(text if regex else re.escape(text), re.IGNORECASE)


def retry_seconds(err: RetryAfter) -> float:
    """``RetryAfter.retry_after`` in seconds (PTB returns int or timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = err.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with fake.make_bot() as client:
        yield client


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def user(fake: FakeTelegram) -> FakeUser:
    olena = fake.user(first_name="Olena", username="olena_k", language_code="uk")
    await olena.send_command("/start")
    return olena


async def raw(
    http: aiohttp.ClientSession, fake: FakeTelegram, method: str, **params: Any
) -> tuple[int, dict[str, Any]]:
    """POST a JSON body to the fake; returns (status, body)."""
    async with http.post(f"{fake.base_url}{fake.token}/{method}", json=params) as response:
        return response.status, await response.json()


# ============================================================================ protocol basics


async def test_get_me_and_routing(
    fake: FakeTelegram, bot: Bot, http: aiohttp.ClientSession
) -> None:
    me = await bot.get_me()
    assert me.id == fake.bot_id
    assert me.is_bot
    assert me.username == "tipbot_test_bot"

    async with http.get(f"{fake.base_url}{fake.token}/GETME") as response:
        assert response.status == 200
        assert (await response.json())["result"]["id"] == fake.bot_id
    async with http.get(f"{fake.base_url}999:wrong/getMe") as response:
        assert response.status == 401
        assert await response.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }
    async with http.post(f"{fake.base_url}{fake.token}/noSuchMethod") as response:
        assert response.status == 404
        assert (await response.json())["description"] == "Not Found"
    # Bot.initialize(), get_me(), GETME, wrong token
    assert [c.status for c in fake.calls_to("getme")] == [200, 200, 200, 401]
    assert fake.calls[-1].method == "noSuchMethod"
    assert fake.calls[-1].status == 404


async def test_parameter_encodings(
    fake: FakeTelegram, user: FakeUser, http: aiohttp.ClientSession
) -> None:
    group = fake.group(username="tipbot_mods")
    markup = json.dumps({"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]})
    base = f"{fake.base_url}{fake.token}/sendMessage"
    # query string: "123"-like text stays a string, chat_id is decoded
    async with http.get(base, params={"chat_id": str(user.id), "text": "123"}) as response:
        body = await response.json()
        assert body["result"]["text"] == "123"
    # urlencoded form with JSON-encoded reply_markup
    form = {"chat_id": str(user.id), "text": "true", "reply_markup": markup}
    async with http.post(base, data=form) as response:
        assert (await response.json())["result"]["reply_markup"]["inline_keyboard"][0][0] == {
            "text": "A",
            "callback_data": "a",
        }
    # multipart form without files
    multipart = aiohttp.FormData(
        {"chat_id": "@tipbot_mods", "text": "null"}, default_to_multipart=True
    )
    multipart.add_field("disable_notification", "true")
    async with http.post(base, data=multipart()) as response:
        result = (await response.json())["result"]
        assert result["chat"]["id"] == group.id
        assert result["text"] == "null"
    # JSON body
    status, body = await raw(http, fake, "sendMessage", chat_id=user.id, text=42)
    assert status == 200
    assert body["result"]["text"] == "42"
    params = [call.params for call in fake.calls_to("sendMessage")]
    assert params[1]["reply_markup"] == json.loads(markup)
    assert params[2]["disable_notification"] is True
    assert params[2]["chat_id"] == "@tipbot_mods"


async def test_long_poll_wakes_on_update_and_times_out(
    fake: FakeTelegram, bot: Bot, http: aiohttp.ClientSession
) -> None:
    olena = fake.user()
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    assert not poll.done()
    pushed = await olena.send_text("hello")
    updates = await poll
    assert time.monotonic() - started < 2
    assert [u.update_id for u in updates] == [pushed["update_id"]]
    assert texts(updates) == ["hello"]
    assert updates[0].effective_chat is not None
    assert updates[0].effective_chat.id == olena.id

    started = time.monotonic()
    status, body = await raw(http, fake, "getUpdates", offset=pushed["update_id"] + 1, timeout=0.3)
    elapsed = time.monotonic() - started
    assert status == 200
    assert body["result"] == []
    assert 0.25 <= elapsed < 1.5


async def test_get_updates_offset_limit_and_allowed_updates(fake: FakeTelegram, bot: Bot) -> None:
    olena = fake.user()
    first = await olena.send_text("one")
    await olena.send_text("two")
    third = await olena.send_text("three")
    updates = await bot.get_updates()
    assert texts(updates) == ["one", "two", "three"]
    # not confirmed: delivered again
    assert len(await bot.get_updates(limit=2)) == 2
    # offset confirms everything below it
    updates = await bot.get_updates(offset=first["update_id"] + 1)
    assert texts(updates) == ["two", "three"]
    assert await bot.get_updates(offset=third["update_id"] + 1) == ()
    assert fake.pending_updates == []
    # negative offset keeps only the last updates
    await olena.send_text("a")
    await olena.send_text("b")
    assert texts(await bot.get_updates(offset=-1)) == ["b"]
    # allowed_updates drops updates of other types
    await bot.send_message(olena.id, "pick", reply_markup=kb([("x", "x")]))
    await olena.press("x")
    last = await olena.send_text("c")
    updates = await bot.get_updates(allowed_updates=["message"])
    assert texts(updates) == ["b", "c"]
    assert [u["update_id"] for u in fake.pending_updates][-1] == last["update_id"]


async def test_webhook_and_conflict(fake: FakeTelegram, bot: Bot) -> None:
    olena = fake.user()
    await olena.send_text("queued")
    assert await bot.set_webhook("https://example.org/hook", secret_token="s3cret")
    info = await bot.get_webhook_info()
    assert info.url == "https://example.org/hook"
    assert info.pending_update_count == 1
    with pytest.raises(Conflict, match=ci("webhook is active")):
        await bot.get_updates()
    with pytest.raises(BadRequest, match=ci("HTTPS URL must be provided")):
        await bot.set_webhook("http://example.org/hook")
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert (await bot.get_webhook_info()).pending_update_count == 0
    assert await bot.get_updates() == ()
    assert await bot.log_out()
    assert await bot.close()


# ============================================================================ messages


async def test_send_html_keyboard_edit_and_user_view(
    fake: FakeTelegram, bot: Bot, user: FakeUser
) -> None:
    sent = await bot.send_message(
        user.id,
        "<b>Report</b> &lt;draft&gt; &#8470;1",
        parse_mode="HTML",
        reply_markup=kb([("Yes", "yes"), ("No", "no")]),
    )
    assert sent.text == "Report <draft> №1"
    assert sent.from_user is not None
    assert sent.from_user.id == fake.bot_id
    assert sent.chat.first_name == "Olena"
    assert sent.entities[0].type == "bold"
    assert sent.text_html == "<b>Report</b> &lt;draft&gt; №1"
    view = user.last_bot_message()
    assert view is not None
    assert view.text == "Report <draft> №1"
    assert view.html == "<b>Report</b> &lt;draft&gt; &#8470;1"
    assert view.inline_buttons == ((("Yes", "yes"), ("No", "no")),)
    assert user.buttons() == ["Yes", "No"]

    edited = await bot.edit_message_text(
        "Report <i>saved</i>",
        chat_id=user.id,
        message_id=sent.message_id,
        parse_mode="HTML",
        reply_markup=kb([("Undo", "undo")]),
    )
    assert isinstance(edited, type(sent))
    assert edited.text == "Report saved"
    assert edited.edit_date is not None
    view = user.message(sent.message_id)
    assert view.edited
    assert view.previous_texts == ("Report <draft> №1",)
    assert view.button_texts == ["Undo"]
    # same text and markup -> not modified
    with pytest.raises(BadRequest, match=ci("message is not modified")):
        await bot.edit_message_text(
            "Report <i>saved</i>",
            chat_id=user.id,
            message_id=sent.message_id,
            parse_mode="HTML",
            reply_markup=kb([("Undo", "undo")]),
        )
    # editing without reply_markup removes the inline keyboard (as in Telegram)
    await bot.edit_message_text("Report saved.", chat_id=user.id, message_id=sent.message_id)
    assert user.message(sent.message_id).inline_buttons == ()
    await bot.edit_message_reply_markup(
        chat_id=user.id, message_id=sent.message_id, reply_markup=kb([("Again", "again")])
    )
    assert user.buttons() == ["Again"]
    with pytest.raises(BadRequest, match=ci("message is not modified")):
        await bot.edit_message_reply_markup(
            chat_id=user.id, message_id=sent.message_id, reply_markup=kb([("Again", "again")])
        )
    assert [m.text for m in user.messages] == ["/start", "Report saved."]


async def test_validation_errors(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    cid = user.id
    cases: list[tuple[str, Any]] = [
        ("message text is empty", bot.send_message(cid, "   ")),
        ("message text is empty", bot.send_message(cid, "<b></b>", parse_mode="HTML")),
        ("message is too long", bot.send_message(cid, "x" * 4097)),
        ("BUTTON_DATA_INVALID", bot.send_message(cid, "t", reply_markup=kb([("a", "x" * 65)]))),
        ("BUTTON_DATA_INVALID", bot.send_message(cid, "t", reply_markup=kb([("a", "ї" * 33)]))),
        (
            'can\'t parse entities: Unsupported start tag "div" at byte offset 0',
            bot.send_message(cid, "<div>x</div>", parse_mode="HTML"),
        ),
        (
            "can't parse entities: Unsupported start tag",
            bot.send_message(cid, "1 < 2", parse_mode="HTML"),
        ),
        (
            'Can\'t find end tag corresponding to start tag "b"',
            bot.send_message(cid, "<b>bold", parse_mode="HTML"),
        ),
        (
            'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"',
            bot.send_message(cid, "<b><i>x</b></i>", parse_mode="HTML"),
        ),
        (
            "Character '.' is reserved",
            bot.send_message(cid, "Done.", parse_mode="MarkdownV2"),
        ),
        ("chat not found", bot.send_message(-1009999, "hi")),
        ("message to edit not found", bot.edit_message_text("x", chat_id=cid, message_id=999)),
        ("message can't be edited", bot.edit_message_text("x", chat_id=cid, message_id=1)),
        ("message to delete not found", bot.delete_message(cid, 999)),
        (
            "query is too old and response timeout expired or query ID is invalid",
            bot.answer_callback_query("123456"),
        ),
        ("wrong file identifier/HTTP URL specified", bot.send_photo(cid, "AgACnope")),
        ("message to be replied not found", bot.send_message(cid, "r", reply_to_message_id=99)),
        ("message identifiers are not specified", bot.delete_messages(cid, [])),
        ("too many message identifiers specified", bot.delete_messages(cid, list(range(101)))),
        ("BOT_COMMAND_INVALID", bot.set_my_commands([BotCommand("Start", "Begin")])),
        ("wrong parameter action", bot.send_chat_action(cid, "dancing")),
    ]
    for reason, call in cases:
        with pytest.raises(BadRequest) as caught:
            await call
        assert reason.lower() in caught.value.message.lower(), (reason, caught.value.message)
    # limits are inclusive: 4096 visible characters (tags don't count), 64-byte data
    long_html = "<b>" + "x" * 4096 + "</b>"
    assert (await bot.send_message(cid, long_html, parse_mode="HTML")).text == "x" * 4096
    await bot.send_message(cid, "ok", reply_markup=kb([("a", "ї" * 32)]))
    # captions
    photo = await user.send_photo()
    file_id = photo["message"]["photo"][-1]["file_id"]
    with pytest.raises(BadRequest, match=ci("message caption is too long")):
        await bot.send_photo(cid, file_id, caption="c" * 1025)
    assert (await bot.send_photo(cid, file_id, caption="c" * 1024)).caption == "c" * 1024
    document = await user.send_document(b"doc")
    with pytest.raises(BadRequest, match=ci("can't use file of type Document as Photo")):
        await bot.send_photo(cid, document["message"]["document"]["file_id"])
    # answering twice
    await bot.send_message(cid, "pick", reply_markup=kb([("A", "a")]))
    press = await user.press("A")
    assert await bot.answer_callback_query(press["callback_query"]["id"], text="ok")
    with pytest.raises(BadRequest, match=ci("query is too old")):
        await bot.answer_callback_query(press["callback_query"]["id"])
    # a user who never wrote to the bot, and one who blocked it
    stranger = fake.user()
    with pytest.raises(BadRequest, match=ci("chat not found")):
        await bot.send_message(stranger.id, "hi")
    group = fake.group()
    group.add_member(stranger)
    await stranger.send_command("/help", chat=group)
    with pytest.raises(Forbidden, match=ci("bot can't initiate conversation with a user")):
        await bot.send_message(stranger.id, "hi")
    await user.block()
    with pytest.raises(Forbidden, match=ci("bot was blocked by the user")):
        await bot.send_message(cid, "hi")
    assert not fake.internal_errors


def test_html_parser_details() -> None:
    parsed = parse_html(
        'a <a href="https://x.org/?a=1&amp;b=2">link</a> <tg-spoiler>s</tg-spoiler> '
        '<pre><code class="language-python">x = 1</code></pre> &nbsp; &#x1F600;'
    )
    assert parsed.text == "a link s x = 1 &nbsp; 😀"
    assert parsed.entities == [
        {"type": "text_link", "offset": 2, "length": 4, "url": "https://x.org/?a=1&b=2"},
        {"type": "spoiler", "offset": 7, "length": 1},
        {"type": "pre", "offset": 9, "length": 5, "language": "python"},
    ]


async def test_press_and_callback_answers(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    first = await bot.send_message(user.id, "Category?", reply_markup=kb([("Shelling", "cat:1")]))
    await bot.send_message(
        user.id, "Confirm?", reply_markup=kb([("✅ Send", "send"), ("❌ Cancel", "cancel")])
    )
    update = await user.press(re.compile("Send"))
    query = update["callback_query"]
    assert query["data"] == "send"
    assert query["message"]["text"] == "Confirm?"
    assert query["from"]["id"] == user.id
    parsed = Update.de_json(update, bot)
    assert parsed is not None
    assert parsed.callback_query is not None
    assert parsed.callback_query.message is not None
    # an older message is searched when the latest has no such button
    older = await user.press("Shelling")
    assert older["callback_query"]["message"]["message_id"] == first.message_id
    again = await user.press("Shelling", message=first.message_id)
    await bot.answer_callback_query(again["callback_query"]["id"], "Saved", show_alert=True)
    answer = user.last_callback_answer
    assert answer is not None
    assert answer.text == "Saved"
    assert answer.show_alert
    with pytest.raises(
        LookupError, match=ci(r"available buttons: \['✅ Send', '❌ Cancel'", regex=True)
    ):
        await user.press("Nope")


async def test_message_ids_are_shared_per_chat(fake: FakeTelegram, bot: Bot) -> None:
    olena = fake.user()
    taras = fake.user()
    assert olena.id != taras.id
    assert olena.id > 700_000_000
    start = await olena.send_command("/start", "ref42")
    assert start["message"]["message_id"] == 1
    assert start["message"]["text"] == "/start ref42"
    assert (await bot.send_message(olena.id, "hi")).message_id == 2
    assert (await olena.send_text("report"))["message"]["message_id"] == 3
    assert (await bot.send_message(olena.id, "thanks")).message_id == 4
    assert (await taras.send_text("x"))["message"]["message_id"] == 1
    group = fake.group()
    assert group.id < -1_000_000_000_000
    group.add_member(olena)
    assert (await bot.send_message(group.id, "g")).message_id == 1
    assert (await olena.send_text("in group", chat=group))["message"]["message_id"] == 2
    assert [m.message_id for m in olena.messages] == [1, 2, 3, 4]
    assert [m.from_bot for m in olena.messages] == [False, True, False, True]
    assert olena.messages[1].date == fake.clock.now()


async def test_delete_messages_and_48_hour_rule(
    fake: FakeTelegram, bot: Bot, user: FakeUser
) -> None:
    a = await bot.send_message(user.id, "a")
    b = await bot.send_message(user.id, "b")
    c = await bot.send_message(user.id, "c")
    assert await bot.delete_message(user.id, a.message_id)
    assert await bot.delete_messages(user.id, [b.message_id, 777])
    assert [m.text for m in user.messages] == ["/start", "c"]
    assert [m.deleted for m in user.history] == [False, True, True, False]
    with pytest.raises(BadRequest, match=ci("message to delete not found")):
        await bot.delete_message(user.id, a.message_id)

    fake.advance(49 * 3600)
    fresh = await bot.send_message(user.id, "fresh")
    with pytest.raises(BadRequest, match=ci("message can't be deleted for everyone")):
        await bot.delete_message(user.id, c.message_id)
    assert await bot.delete_messages(user.id, [1, c.message_id, fresh.message_id])
    assert [m.text for m in user.messages] == ["/start", "c"]
    assert fresh.date.timestamp() >= time.time() + 48 * 3600


# ============================================================================ files


async def test_get_file_and_download_bytes(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    content = b"%PDF-1.4 evidence" * 100
    update = await user.send_document(
        content, file_name="evidence.pdf", mime_type="application/pdf"
    )
    document = update["message"]["document"]
    assert document["file_name"] == "evidence.pdf"
    assert document["file_size"] == len(content)
    file = await bot.get_file(document["file_id"])
    assert re.fullmatch(r".*/documents/file_\d+\.pdf", file.file_path or "")
    assert bytes(await file.download_as_bytearray()) == content
    fake_file = fake.files.get(document["file_id"])
    assert fake_file is not None
    assert fake_file.sha256 == hashlib.sha256(content).hexdigest()
    assert fake_file.downloads == 1

    photo = (await user.send_photo(caption="ruins"))["message"]
    sizes = photo["photo"]
    assert [(s["width"], s["height"]) for s in sizes] == [(90, 67), (320, 240), (1280, 960)]
    assert len({s["file_id"] for s in sizes}) == 3
    assert len({s["file_unique_id"] for s in sizes}) == 3
    largest = await bot.get_file(sizes[-1]["file_id"])
    data = bytes(await largest.download_as_bytearray())
    assert data[:3] == b"\xff\xd8\xff"
    assert len(data) == sizes[-1]["file_size"]


async def test_download_requires_get_file(
    fake: FakeTelegram, user: FakeUser, http: aiohttp.ClientSession
) -> None:
    update = await user.send_voice()
    voice = fake.files.get(update["message"]["voice"]["file_id"])
    assert voice is not None
    async with http.get(fake.file_url(voice)) as response:
        assert response.status == 404
    async with http.get(f"{fake.base_file_url}1:bad/{voice.file_path}") as response:
        assert response.status == 401


async def test_virtual_50mb_file_streams_with_flat_memory(
    http: aiohttp.ClientSession,
) -> None:
    async with FakeTelegram(local_mode=True) as fake:
        olena = fake.user()
        update = await olena.send_document(size=50 * MB, file_name="video.mov")
        document = update["message"]["document"]
        assert document["file_size"] == 50 * MB
        fake_file = fake.files.get(document["file_id"])
        assert fake_file is not None
        assert fake_file.is_virtual
        async with fake.make_bot() as bot:
            file = await bot.get_file(document["file_id"])
        assert file.file_size == 50 * MB
        tracemalloc.start()
        try:
            digest = hashlib.sha256()
            total = 0
            async with http.get(file.file_path or "") as response:
                assert response.status == 200
                assert response.content_length == 50 * MB
                async for chunk in response.content.iter_chunked(256 * 1024):
                    digest.update(chunk)
                    total += len(chunk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert total == 50 * MB
        assert digest.hexdigest() == fake_file.sha256
        assert peak < 12 * MB, f"peak traced memory {peak / MB:.1f} MB"


async def test_file_too_big_in_cloud_mode_allowed_in_local_mode() -> None:
    for local_mode, allowed in ((False, False), (True, True)):
        async with FakeTelegram(local_mode=local_mode) as fake:
            big = fake.add_file(size=21 * MB, file_name="big.mp4", mime_type="video/mp4")
            small = fake.add_file(b"x" * 1000)
            async with fake.make_bot() as bot:
                assert (await bot.get_file(small.file_id)).file_size == 1000
                if allowed:
                    assert (await bot.get_file(big.file_id)).file_size == 21 * MB
                else:
                    with pytest.raises(BadRequest, match=ci("file is too big")):
                        await bot.get_file(big.file_id)
                with pytest.raises(BadRequest, match=ci("wrong file_id")):
                    await bot.get_file("BQACnope")


async def test_multipart_uploads_from_ptb(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    message = await bot.send_document(user.id, document=b"report body", filename="report.txt")
    assert message.document is not None
    assert message.document.file_name == "report.txt"
    call = fake.calls_to("sendDocument")[-1]
    assert set(call.uploads) == {"document"}
    assert call.uploads["document"].read_bytes() == b"report body"
    file = await bot.get_file(message.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"report body"
    assert user.last_bot_message() is not None
    assert user.last_bot_message().media_kind == "document"  # type: ignore[union-attr]

    jpeg = sample_jpeg(640, 480, seed=1)
    photo = await bot.send_photo(user.id, photo=jpeg, caption="<b>map</b>", parse_mode="HTML")
    assert photo.photo[-1].width == 640
    with pytest.raises(BadRequest, match=ci("IMAGE_PROCESS_FAILED")):
        await bot.send_photo(user.id, photo=b"%PDF-1.4 not an image")
    assert photo.caption == "map"
    album = await bot.send_media_group(
        user.id,
        [
            InputMediaPhoto(jpeg, caption="one"),
            InputMediaPhoto(photo.photo[-1].file_id, has_spoiler=True),
        ],
    )
    assert album[1].has_media_spoiler
    assert album[1].photo[-1].file_id == photo.photo[-1].file_id
    assert len(fake.calls_to("sendMediaGroup")[-1].uploads) == 1  # keyed by attach:// name
    assert len(album) == 2
    assert album[0].media_group_id == album[1].media_group_id is not None
    with pytest.raises(BadRequest, match=ci("document can't be mixed")):
        await bot.send_media_group(
            user.id,
            [InputMediaPhoto(photo.photo[-1].file_id), InputMediaDocument(b"d", filename="d")],
        )
    assert [m.media_kind for m in user.bot_messages()] == ["document", "photo", "photo", "photo"]


# ============================================================================ fault injection


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_fail_429_and_500(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    fault = fake.fail("sendMessage", status=429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(user.id, "x")
    assert retry_seconds(caught.value) == 7
    last = fake.calls[-1]
    assert last.status == 429
    assert last.error == "Too Many Requests: retry after 7"
    assert fault.hits == 1
    assert (await bot.send_message(user.id, "x")).text == "x"

    fake.fail("sendmessage", status=500, times=2, chat_id=user.id)
    other = fake.user(started=True)
    assert await bot.send_message(other.id, "unaffected")
    for _ in range(2):
        with pytest.raises(NetworkError, match=ci("Internal Server Error")):
            await bot.send_message(user.id, "y")
    assert await bot.send_message(user.id, "y")
    assert [m.text for m in user.bot_messages()] == ["x", "y"]

    # execute=True: the message is sent but the answer is an error (a lost answer)
    fake.fail("sendMessage", status=502, execute=True)
    with pytest.raises(NetworkError):
        await bot.send_message(user.id, "lost answer")
    assert user.last_bot_message().text == "lost answer"  # type: ignore[union-attr]
    forever = fake.fail("*", status=403, description="Forbidden: injected", times=None)
    with pytest.raises(Forbidden, match=ci("injected")):
        await bot.get_me()
    forever.cancel()
    assert await bot.get_me()


async def test_delay(fake: FakeTelegram, bot: Bot) -> None:
    fake.delay("getMe", 0.3, times=1)
    started = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - started >= 0.3
    assert fake.calls[-1].duration >= 0.3
    started = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - started < 0.3


async def test_slow_and_failing_downloads(
    fake: FakeTelegram, bot: Bot, user: FakeUser, http: aiohttp.ClientSession
) -> None:
    update = await user.send_video(size=100_000)
    file_id = update["message"]["video"]["file_id"]
    file = await bot.get_file(file_id)
    fake.fail_download(file_id, status=500)
    async with http.get(file.file_path or "") as response:
        assert response.status == 500
    fake.slow_download(file_id, bytes_per_second=400_000, first_byte_delay=0.1)
    started = time.monotonic()
    data = bytes(await file.download_as_bytearray())
    elapsed = time.monotonic() - started
    assert len(data) == 100_000
    assert elapsed >= 0.3
    assert [d.status for d in fake.downloads] == [500, 200]
    fake.clear_faults()
    started = time.monotonic()
    await file.download_as_bytearray()
    assert time.monotonic() - started < 0.2


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_group_limit(fake: FakeTelegram, bot: Bot) -> None:
    group = fake.group()
    fake.set_group_limit(max_messages=3, per_seconds=60)
    for n in range(3):
        await bot.send_message(group.id, f"m{n}")
    fake.advance(10)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(group.id, "too many")
    assert retry_seconds(caught.value) == 50
    assert fake.group_limit_rejections == 1
    # private chats are not limited
    olena = fake.user(started=True)
    for _ in range(5):
        await bot.send_message(olena.id, "dm")
    fake.advance(50)
    assert await bot.send_message(group.id, "again")
    assert fake.group_limit_violations == 0

    # small real-time windows work too; retry_after is at least 1
    fake.set_group_limit(max_messages=1, per_seconds=0.2)
    await bot.send_message(group.id, "x")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(group.id, "y")
    assert retry_seconds(caught.value) == 1
    await asyncio.sleep(0.25)
    assert await bot.send_message(group.id, "y")

    # not enforced: sends succeed, violations are counted
    fake.set_group_limit(max_messages=2, per_seconds=60, enforce=False)
    for _ in range(4):
        await bot.send_message(group.id, "flood")
    assert fake.group_limit_violations == 2


# ============================================================================ recording


async def test_wait_for_call(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    async def later() -> None:
        await asyncio.sleep(0.05)
        await bot.send_message(user.id, "later")

    task = asyncio.create_task(later())
    call = await fake.wait_for_call(
        lambda c: c.method == "sendMessage" and c.params.get("text") == "later", timeout=2
    )
    await task
    assert isinstance(call, ApiCall)
    assert call.ok
    assert call.result["text"] == "later"
    assert call.chat_id == user.id
    assert call.finished_at >= call.started_at
    assert (await fake.wait_for_call("sendMessage")).params["text"] == "later"
    with pytest.raises(TimeoutError, match="last calls:") as caught:
        await fake.wait_for_call("sendMessage", timeout=0.1, new_only=True)
    assert "sendMessage(chat_id=" in str(caught.value)
    assert fake.calls_to("sendMessage", chat_id=user.id) == [call]
    assert fake.calls_to("sendMessage", chat_id=1) == []


async def test_update_waiter_and_wait_for_message(
    fake: FakeTelegram, bot: Bot, user: FakeUser
) -> None:
    processed: list[int] = []

    async def waiter(update_id: int) -> None:
        processed.append(update_id)

    fake.update_waiter = waiter
    update = await user.send_text("hi")
    assert processed == [update["update_id"]]
    album = await user.send_album([AlbumItem.photo(), AlbumItem.video(caption="v")])
    assert processed[1:] == [u["update_id"] for u in album]

    async def reply() -> None:
        await asyncio.sleep(0.05)
        await bot.send_message(user.id, "Your report #7 is saved")

    task = asyncio.create_task(reply())
    message = await user.wait_for_message("report #")
    await task
    assert isinstance(message, ChatMessage)
    assert message.text == "Your report #7 is saved"
    # existing messages only count with new_only=False
    with pytest.raises(TimeoutError, match=ci("Your report #7")):
        await user.wait_for_message(re.compile(r"#\d+"), timeout=0.1)
    assert (await user.wait_for_message(re.compile(r"#\d+"), new_only=False)).text

    # an edit counts as new
    async def edit() -> None:
        await bot.edit_message_text(
            "Report #7 sent", chat_id=user.id, message_id=message.message_id
        )

    task = asyncio.create_task(edit())
    edited = await user.wait_for_message(lambda m: m.edited)
    await task
    assert edited.text == "Report #7 sent"


# ============================================================================ users & groups


async def test_user_actions_produce_valid_updates(
    fake: FakeTelegram, bot: Bot, user: FakeUser
) -> None:
    updates = [
        await user.share_location(50.45, 30.52, live_period=600),
        await user.send_venue(50.45, 30.52, "Hospital", "Khreshchatyk 1"),
        await user.send_contact("+380501112233"),
        await user.send_poll("Safe?", ["Yes", "No"]),
        await user.send_dice(),
        await user.send_sticker(),
        await user.send_voice(),
        await user.send_audio(performer="A", title="T"),
        await user.send_video_note(),
        await user.send_animation(),
        await user.forward_from_channel("Channel post", channel_username="news"),
        await user.forward_from_channel(item=AlbumItem.photo(caption="from channel")),
        await user.forward_from_user("said this", original_sender=fake.user()),
        await user.send_text("plain", reply_to=1),
    ]
    updates += await user.send_album(
        [AlbumItem.document(b"a", file_name="a.pdf"), AlbumItem.document(size=3 * MB)]
    )
    updates.append(await user.edit_text(updates[-3]["message"]["message_id"], "edited"))
    updates.append(await user.update_live_location(updates[0]["message"]["message_id"], 50, 30))
    for raw_update in updates:
        parsed = Update.de_json(raw_update, bot)
        assert parsed is not None
        assert parsed.effective_user is not None
        assert parsed.effective_user.id == user.id
    channel_post = Update.de_json(updates[10], bot)
    assert channel_post is not None
    assert channel_post.message is not None
    assert channel_post.message.forward_origin is not None
    assert channel_post.message.forward_origin.type == "channel"
    assert updates[-2]["edited_message"]["text"] == "edited"
    assert updates[-4]["message"]["media_group_id"] == updates[-3]["message"]["media_group_id"]
    kinds = [m.media_kind for m in user.messages[1:]]
    assert kinds[:10] == [
        "location",
        "venue",
        "contact",
        "poll",
        "dice",
        "sticker",
        "voice",
        "audio",
        "video_note",
        "animation",
    ]
    with pytest.raises(ValueError, match=ci("2..10")):
        await user.send_album([AlbumItem.photo()])
    with pytest.raises(ValueError, match=ci("can't be mixed")):
        await user.send_album([AlbumItem.photo(), AlbumItem.document()])


async def test_reply_keyboard_tracking(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    markup = ReplyKeyboardMarkup(
        [[KeyboardButton("📍 Share location", request_location=True)], ["Skip"]],
        one_time_keyboard=True,
        resize_keyboard=True,
    )
    await bot.send_message(user.id, "Where?", reply_markup=markup)
    keyboard = user.reply_keyboard
    assert keyboard is not None
    assert keyboard[0][0] == {"text": "📍 Share location", "request_location": True}
    assert keyboard[1][0]["text"] == "Skip"
    with pytest.raises(ValueError, match=ci("location=")):
        await user.tap_keyboard("📍 Share location")
    update = await user.tap_keyboard(re.compile("Share"), location=(48.5, 35.0))
    assert update["message"]["location"] == {"latitude": 48.5, "longitude": 35.0}
    assert user.reply_keyboard is None  # one-time keyboard used
    await bot.send_message(user.id, "Menu", reply_markup=ReplyKeyboardMarkup([["A", "B"]]))
    await user.send_text("something else")
    assert user.reply_keyboard is not None
    await bot.send_message(user.id, "Bye", reply_markup=ReplyKeyboardRemove())
    assert user.reply_keyboard is None
    last = user.last_bot_message()
    assert last is not None
    assert last.removes_keyboard
    with pytest.raises(LookupError, match=ci("no reply keyboard")):
        await user.tap_keyboard("A")


async def test_groups_members_topics_and_privacy(fake: FakeTelegram, bot: Bot) -> None:
    group = fake.group(title="Moderators", is_forum=True)
    assert isinstance(group, FakeGroup)
    mod = fake.user(first_name="Mod")
    boss = fake.user(first_name="Boss")
    outsider = fake.user()
    group.add_member(mod, "administrator")
    group.add_member(boss, "creator")
    chat = await bot.get_chat(group.id)
    assert chat.type == "supergroup"
    assert chat.title == "Moderators"
    assert chat.is_forum
    assert (await bot.get_chat_member(group.id, mod.id)).status == "administrator"
    assert (await bot.get_chat_member(group.id, outsider.id)).status == "left"
    assert (await bot.get_chat_member(group.id, fake.bot_id)).status == "administrator"
    admins = await bot.get_chat_administrators(group.id)
    assert {a.user.id for a in admins} == {mod.id, boss.id, fake.bot_id}
    group.remove_member(mod)
    assert (await bot.get_chat_member(group.id, mod.id)).status == "left"
    with pytest.raises(RuntimeError, match=ci("not a member")):
        await mod.send_text("hi", chat=group)
    group.add_member(mod)

    topic = await bot.create_forum_topic(group.id, "Reports")
    assert topic.name == "Reports"
    sent = await bot.send_message(
        group.id,
        "New report",
        message_thread_id=topic.message_thread_id,
        reply_markup=kb([("Approve", "ok")]),
    )
    assert sent.message_thread_id == topic.message_thread_id
    assert sent.is_topic_message
    with pytest.raises(BadRequest, match=ci("message thread not found")):
        await bot.send_message(group.id, "x", message_thread_id=9999)
    press = await mod.press("Approve", chat=group)
    assert press["callback_query"]["message"]["chat"]["id"] == group.id
    reply = await mod.send_text("why?", chat=group, reply_to=sent.message_id)
    assert reply["message"]["reply_to_message"]["message_id"] == sent.message_id
    in_topic = group.topic_messages(topic.message_thread_id)
    assert [(m.is_service, m.text) for m in in_topic] == [(True, None), (False, "New report")]
    assert await bot.pin_chat_message(group.id, sent.message_id)
    assert group.messages[-1].is_service
    assert (await bot.get_chat(group.id)).pinned_message is not None

    # privacy mode: a plain member bot only sees commands, replies and mentions
    group.set_bot_status("member")
    hidden = await mod.send_text("chit-chat", chat=group)
    assert hidden["update_id"] is None
    assert (await mod.send_command("/report", chat=group, mention_bot=True))["update_id"]
    with pytest.raises(BadRequest, match=ci("not enough rights")):
        await bot.create_forum_topic(group.id, "Nope")
    group.set_bot_status("kicked")
    with pytest.raises(Forbidden, match=ci("bot was kicked")):
        await bot.send_message(group.id, "x")


async def test_copy_forward_and_commands(fake: FakeTelegram, bot: Bot, user: FakeUser) -> None:
    group = fake.group()
    photo = await user.send_photo(caption="evidence")
    source_id = photo["message"]["message_id"]
    copied = await bot.copy_message(
        group.id, user.id, source_id, caption="<i>copy</i>", parse_mode="HTML"
    )
    assert group.message(copied.message_id).text == "copy"
    assert group.message(copied.message_id).media_kind == "photo"
    forwarded = await bot.forward_message(group.id, user.id, source_id)
    assert forwarded.forward_origin is not None
    assert forwarded.forward_origin.type == "user"
    album = await user.send_album([AlbumItem.photo(), AlbumItem.photo()])
    ids = [u["message"]["message_id"] for u in album]
    copies = await bot.copy_messages(group.id, user.id, [*ids, 999])
    assert len(copies) == 2
    new_group_ids = {group.message(c.message_id).media_group_id for c in copies}
    assert len(new_group_ids) == 1
    assert new_group_ids != {album[0]["message"]["media_group_id"]}
    with pytest.raises(BadRequest, match=ci("message to copy not found")):
        await bot.copy_message(group.id, user.id, 999)

    commands = [BotCommand("start", "Begin"), BotCommand("report", "New report")]
    assert await bot.set_my_commands(commands)
    assert await bot.set_my_commands(commands[:1], language_code="uk")
    assert await bot.set_my_commands(commands[1:], scope=BotCommandScopeChat(group.id))
    assert [c.command for c in await bot.get_my_commands()] == ["start", "report"]
    assert [c.command for c in await bot.get_my_commands(language_code="uk")] == ["start"]
    scoped = await bot.get_my_commands(scope=BotCommandScopeChat(group.id))
    assert [c.command for c in scoped] == ["report"]
    assert await bot.delete_my_commands(language_code="uk")
    assert await bot.get_my_commands(language_code="uk") == ()
    assert await bot.send_chat_action(user.id, "typing")
    assert await bot.send_location(user.id, 50.4, 30.5)
    venue = await bot.send_venue(user.id, 50.4, 30.5, "Shelter", "Metro station")
    assert venue.venue is not None
    assert venue.location is not None


async def test_fake_file_and_clock_basics(fake: FakeTelegram) -> None:
    calls = [0]

    def chunks() -> list[bytes]:
        calls[0] += 1
        return [b"ab", b"cd"]

    file = fake.add_file(size=4, chunk_factory=chunks, kind="video", mime_type="video/mp4")
    assert isinstance(file, FakeFile)
    assert calls == [1]  # hashed once up front
    assert file.sha256 == hashlib.sha256(b"abcd").hexdigest()
    assert file.read_bytes() == b"abcd"
    assert file.file_path.startswith("videos/")
    with pytest.raises(ValueError, match=ci("expected 5")):
        fake.add_file(size=5, chunk_factory=chunks)
    before = fake.clock.now()
    fake.advance(3600)
    assert fake.clock.now() - before >= 3600
    with pytest.raises(ValueError, match=ci("backwards")):
        fake.advance(-1)


async def test_with_ptb_application_and_update_waiter(fake: FakeTelegram) -> None:
    """The intended use: a real PTB Application polls the fake; the test acts as a user."""
    done: dict[int, asyncio.Event] = {}

    def processed(update_id: int) -> asyncio.Event:
        return done.setdefault(update_id, asyncio.Event())

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_html(
            "<b>Welcome</b>", reply_markup=kb([("Report", "report")])
        )

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Starting")
        await query.edit_message_text("Describe what happened")

    async def mark_done(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        processed(update.update_id).set()

    app = (
        Application.builder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_handler(TypeHandler(Update, mark_done), group=99)

    async def waiter(update_id: int) -> None:
        await asyncio.wait_for(processed(update_id).wait(), 5)

    fake.update_waiter = waiter
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=1))
        await app.start()
        try:
            olena = fake.user()
            await olena.send_command("/start")
            welcome = olena.last_bot_message()
            assert welcome is not None
            assert welcome.html == "<b>Welcome</b>"
            await olena.press("Report")
            answer = olena.last_callback_answer
            assert answer is not None
            assert answer.text == "Starting"
            assert [(m.message_id, m.text) for m in olena.messages] == [
                (1, "/start"),
                (2, "Describe what happened"),
            ]
        finally:
            await app.updater.stop()
            await app.stop()
    assert fake.calls_to("deleteWebhook")
