"""A complete report, end to end over HTTP, in each language."""

import hashlib

import pytest
from sqlalchemy import select

from bot.custody import verify
from db.models import CustodyEntry, Media, OutboxMessage, Reporter, Tip
from tests.e2e.flows import JPEG, PDF, file_complete_report, onboard, t
from tests.fakebot import FakeTelegram
from tests.harness import BotHarness


@pytest.mark.parametrize("lang", ["uk", "ru", "en"])
async def test_full_report_lands_submitted_with_hashed_media(
    bot: BotHarness, fake: FakeTelegram, lang: str
) -> None:
    user = fake.user(language_code=lang)
    await onboard(user, lang)
    reference = await file_complete_report(user, lang)

    assert t(lang, "erase-button") in user.buttons()
    tips = await bot.all(Tip)
    assert len(tips) == 1
    tip = tips[0]
    assert tip.reference == reference
    assert tip.status == "submitted"
    assert tip.category == "strike"
    assert tip.description.startswith("A missile hit")
    assert str(tip.incident_date) == "2022-02-24"
    assert tip.incident_date_precision == "day"
    assert tip.location_source == "typed_place"
    assert tip.settlement == "Буча"
    assert tip.oblast == "13"
    assert tip.perpetrator == "unknown"
    assert tip.contact_allowed is True
    assert tip.language == lang

    media = await bot.all(Media)
    assert {m.kind for m in media} == {"document", "photo"}
    by_kind = {m.kind: m for m in media}
    assert [(m.status, m.failure_reason) for m in media] == [("stored", None)] * 2
    assert by_kind["document"].sha256 == hashlib.sha256(PDF).hexdigest()
    assert by_kind["document"].detected_mime == "application/pdf"
    assert by_kind["photo"].sha256 == hashlib.sha256(JPEG).hexdigest()
    assert by_kind["photo"].recompressed is True
    for item in media:
        stored = bot.settings.media_dir / item.storage_key
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == item.sha256

    outbox = await bot.all(OutboxMessage)
    assert [(o.kind, o.tip_id, o.status) for o in outbox] == [("tip_submitted", tip.id, "pending")]

    actions = [e.action for e in await bot.all(CustodyEntry)]
    assert actions == ["consent", "draft_created", "file_received", "file_received", "submitted"]
    async with bot.session() as session:
        assert (await verify(session)).ok
        reporter = (await session.execute(select(Reporter))).scalar_one()
    assert reporter.language == lang
    # Found by the keyed hash of the Telegram id; named in the log by a random pseudonym.
    assert reporter.lookup == bot.services.keyring.pseudonym(user.id)
    assert reporter.pseudonym != reporter.lookup
    assert bot.services.keyring.decrypt_chat_id(reporter.chat_id_enc) == user.id
