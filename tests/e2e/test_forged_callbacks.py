"""Forged and malformed ``mod:`` button data: refused as a stale button, never an error; a
reporter's draft never reaches the moderators; a press on a card redraws that card's own
tip only; membership changes in the moderators' group count at once."""

from __future__ import annotations

from typing import Any

import pytest

from db.models import Tip
from tests.e2e.flows import label, onboard
from tests.e2e.moderators import Moderation, mt, seed_tips, tip
from tests.fakebot import FakeGroup, FakeUser

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


async def answered(user: FakeUser, press: Any) -> str | None:
    """The toast answering this press (None if the press went unanswered)."""
    before = len(user.callback_answers)
    await press
    if len(user.callback_answers) == before:
        return None
    return user.last_callback_answer.text


async def membership_changes(
    fake: Any, group: FakeGroup, user: FakeUser, old: str, new: str
) -> None:
    """Telegram's ``chat_member`` update for ``user`` in ``group`` (as an administrator
    bot receives it), after the change itself."""
    if new in ("left", "kicked"):
        group.remove_member(user, ban=new == "kicked")
    else:
        group.add_member(user, new)
    member = user.to_dict()
    await fake.push_update(
        "chat_member",
        {
            "chat": group.to_dict(),
            "from": member,
            "date": fake.clock.now(),
            "old_chat_member": fake._member_json(member, old),
            "new_chat_member": fake._member_json(member, new),
        },
    )


@pytest.mark.parametrize(
    "forge",
    [
        lambda i, v: f"mod:take:{str(i).translate(ARABIC_INDIC)}:{v}",  # "٣" is a digit to int()
        lambda i, v: f"mod:take:{i}:{str(v).translate(ARABIC_INDIC)}",
        lambda i, v: f"mod:take:{i}:²",  # isdigit() but int() fails
        lambda i, v: f"mod:take:²:{v}",
        lambda i, v: f"mod:take:{i:020d}:{v}",
        lambda i, v: f"mod:take:99999999999999999999:{v}",  # overflows the column
        lambda i, v: f"mod:take:{i}:99999999999999999999",
        lambda i, v: f"mod:take:-{i}:{v}",
        lambda i, v: f"mod:take:{i}:-{v}",
        lambda i, v: f"mod:take: {i}:{v}",
        lambda i, v: f"mod:take:1_{i}:{v}",
        lambda i, v: f"mod:dup:{i}:{v}:99999999999999999999",
        lambda i, v: f"mod:dup:{i}:{v}:²",
        lambda i, v: f"mod:sendq:{i}:-:99999999999999999999",
        lambda i, v: f"mod:sendq:{i}:-:²",
        lambda i, v: "mod:text:99999999999999999999",
        lambda i, v: "mod:open:²",
        lambda i, v: "mod",
        lambda i, v: "mod:",
    ],
)
async def test_malformed_ids_are_a_stale_button(moderation: Moderation, forge: Any) -> None:
    (reference,) = await seed_tips(moderation.bot, 1)
    card = await moderation.card(reference)
    stored = await tip(moderation.bot, reference)
    data = forge(stored.id, stored.version)
    alice = moderation.alice
    toast = await answered(alice, alice.press_data(data, message=card, chat=moderation.group))
    assert toast == mt("mod-stale"), data
    after = await tip(moderation.bot, reference)
    assert (after.assignee_id, after.status, after.version) == (None, "submitted", stored.version)
    assert moderation.latest(card.message_id).text == card.text


async def test_a_draft_never_reaches_the_moderators(moderation: Moderation) -> None:
    (reference,) = await seed_tips(moderation.bot, 1)
    card = await moderation.card(reference)
    reporter = moderation.fake.user(first_name="Olha")
    await onboard(reporter)
    await reporter.press(label("en", "menu-new"))
    await reporter.press(label("en", "category-strike"))
    await reporter.send_text("Unsent words of somebody else's draft.")
    (draft,) = await moderation.bot.all(Tip, Tip.status == "draft")
    alice = moderation.alice
    for action in (
        "text",
        "media",
        "card",
        "history",
        "meta",
        "map",
        "open",
        "ask",
        "note",
        "dupref",
        "rejectmenu",
        f"take:{draft.version}",
        f"verify:{draft.version}",
        f"verify:{draft.version}:force",
        f"reject:{draft.version}:spam",
        f"ban:{draft.version}",
    ):
        data = f"mod:{action.split(':')[0]}:{draft.id}" + (
            ":" + action.split(":", 1)[1] if ":" in action else ""
        )
        toast = await answered(alice, alice.press_data(data, message=card, chat=moderation.group))
        assert toast == mt("mod-stale"), data
    assert all("Unsent words" not in (m.text or "") for m in moderation.group.history)
    assert moderation.latest(card.message_id).text == card.text
    after = await tip(moderation.bot, draft.reference)
    assert (after.status, after.version, after.assignee_id) == ("draft", draft.version, None)


async def test_a_press_redraws_only_its_own_card(moderation: Moderation) -> None:
    first, second = await seed_tips(moderation.bot, 2)
    card = await moderation.card(first)
    await moderation.card(second)
    other = await tip(moderation.bot, second)
    alice = moderation.alice
    for data in (
        f"mod:card:{other.id}",
        f"mod:rejectmenu:{other.id}:{other.version}",
        f"mod:take:{other.id}:{other.version}",
        f"mod:urgent:{other.id}:{other.version}:1",
    ):
        toast = await answered(alice, alice.press_data(data, message=card, chat=moderation.group))
        assert toast == mt("mod-stale"), data
        shown = moderation.latest(card.message_id)
        assert (shown.text or "").lstrip("🚨 ").startswith(first), data
        assert shown.inline_buttons == card.inline_buttons, data
    after = await tip(moderation.bot, second)
    assert (after.assignee_id, after.urgent, after.version) == (None, False, other.version)
    # The card's own buttons still work.
    await alice.press("✋ Take", message=card, chat=moderation.group)
    assert (await tip(moderation.bot, first)).assignee_id == alice.id


async def test_a_decision_needs_the_cards_version(moderation: Moderation) -> None:
    (reference,) = await seed_tips(moderation.bot, 1)
    card = await moderation.card(reference)
    stored = await tip(moderation.bot, reference)
    alice = moderation.alice
    for data in (
        f"mod:verify:{stored.id}",
        f"mod:verify:{stored.id}:force",
        f"mod:take:{stored.id}::force",
        f"mod:reject:{stored.id}::spam",
    ):
        toast = await answered(alice, alice.press_data(data, message=card, chat=moderation.group))
        assert toast == mt("mod-stale"), data
    after = await tip(moderation.bot, reference)
    assert (after.status, after.assignee_id, after.version) == ("submitted", None, stored.version)


async def test_membership_changes_count_at_once(moderation: Moderation) -> None:
    (reference,) = await seed_tips(moderation.bot, 1)
    card = await moderation.card(reference)
    group, fake, bob = moderation.group, moderation.fake, moderation.bob
    # Public, so that anyone can press the card's buttons (as in Telegram), members or not.
    group.make_public("moderators_visible")
    # Bob acted a moment ago: his membership is remembered (for minutes)...
    await bob.press("🚨 Urgent", message=card, chat=group)
    assert (await tip(moderation.bot, reference)).urgent
    # ... and then he is removed from the group: his next press is refused at once.
    await membership_changes(fake, group, bob, "member", "left")
    toast = await answered(bob, bob.press("✋ Take", message=card, chat=group))
    assert toast == mt("mod-not-allowed")
    assert (await tip(moderation.bot, reference)).assignee_id is None

    # Carol tries before she is a member (refused, and the refusal remembered), then is
    # added: her first press as a member works.
    carol = fake.user(first_name="Carol")
    toast = await answered(carol, carol.press("✋ Take", message=card, chat=group))
    assert toast == mt("mod-not-allowed")
    await membership_changes(fake, group, carol, "left", "member")
    await carol.press("✋ Take", message=moderation.latest(card.message_id), chat=group)
    assert (await tip(moderation.bot, reference)).assignee_id == carol.id
