"""The update processor: one chat's updates in order, different chats (and different members
of a group) at the same time."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from telegram import Chat, Message, PhotoSize, Update, User

from bot.processor import ChatOrderedProcessor, FloodGate

GROUP = Chat(-100123, "supergroup")


def update(update_id: int, chat: Chat, user_id: int) -> Update:
    user = User(user_id, "Someone", is_bot=False)
    return Update(update_id, message=Message(update_id, datetime.now(UTC), chat, from_user=user))


class Recorder:
    """Coroutines that log when they start and finish, and wait for a release."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}

    async def work(self, name: str) -> None:
        self.events.append(f"start {name}")
        gate = self.gates.setdefault(name, asyncio.Event())
        await gate.wait()
        self.events.append(f"end {name}")

    def release(self, name: str) -> None:
        self.gates.setdefault(name, asyncio.Event()).set()


async def run(
    processor: ChatOrderedProcessor, recorder: Recorder, updates: dict[str, Update]
) -> list[asyncio.Task[None]]:
    tasks = [
        asyncio.create_task(processor.process_update(item, recorder.work(name)))
        for name, item in updates.items()
    ]
    await asyncio.sleep(0.05)
    return tasks


async def test_one_private_chat_in_order_other_chats_meanwhile() -> None:
    processor, recorder = ChatOrderedProcessor(16), Recorder()
    alice, bob = Chat(1, "private"), Chat(2, "private")
    tasks = await run(
        processor,
        recorder,
        {"a1": update(1, alice, 1), "a2": update(2, alice, 1), "b1": update(3, bob, 2)},
    )
    assert recorder.events == ["start a1", "start b1"], "a2 waits for a1; bob does not"
    recorder.release("a2")
    recorder.release("b1")
    await asyncio.sleep(0.05)
    assert "start a2" not in recorder.events, "released early, still after a1"
    recorder.release("a1")
    await asyncio.gather(*tasks)
    assert recorder.events.index("end a1") < recorder.events.index("start a2")


async def test_members_of_a_group_do_not_wait_for_each_other() -> None:
    processor, recorder = ChatOrderedProcessor(16), Recorder()
    tasks = await run(
        processor,
        recorder,
        {
            "alice-1": update(1, GROUP, 10),
            "bob-1": update(2, GROUP, 20),
            "alice-2": update(3, GROUP, 10),
        },
    )
    assert recorder.events == ["start alice-1", "start bob-1"]
    for name in ("alice-1", "bob-1", "alice-2"):
        recorder.release(name)
    await asyncio.gather(*tasks)
    assert recorder.events.index("end alice-1") < recorder.events.index("start alice-2")


# ---------------------------------------------------------------------------- flood gate


def test_a_steady_tap_every_two_seconds_is_not_a_flood() -> None:
    """30 a minute is the limit; a person tapping every 2 s, with the network's jitter,
    stays under it however long they go on."""
    now = [0.0]
    gate = FloodGate(30, clock=lambda: now[0])
    verdicts = []
    for tap in range(600):  # 20 minutes
        now[0] = tap * 2.0 + (0.3 if tap % 2 else -0.3)
        verdicts.append(gate.admit(1))
    assert set(verdicts) == {"ok"}


def test_a_burst_then_a_flood_then_calm() -> None:
    now = [0.0]
    gate = FloodGate(30, clock=lambda: now[0])
    assert [gate.admit(1) for _ in range(30)] == ["ok"] * 30, "a burst up to the limit passes"
    assert gate.admit(1) == "first_excess"
    verdicts = []
    for _ in range(300):  # five a second for a minute: ignored, noticed once
        now[0] += 0.2
        verdicts.append(gate.admit(1))
    assert set(verdicts) == {"excess"}
    now[0] += 2.5  # slower than the limit again: heard at once
    assert gate.admit(1) == "ok"


def photo_update(update_id: int, chat: Chat) -> Update:
    user = User(chat.id, "Someone", is_bot=False)
    message = Message(
        update_id,
        datetime.now(UTC),
        chat,
        from_user=user,
        photo=(PhotoSize(f"f{update_id}", f"u{update_id}", 90, 90),),
    )
    return Update(update_id, message=message)


async def test_files_always_pass_the_flood_gate() -> None:
    processor = ChatOrderedProcessor(16, flood_gate=FloodGate(5))
    notices: list[int] = []

    async def on_flood(update: Update) -> None:
        notices.append(update.update_id)

    processor.on_flood = on_flood
    alice = Chat(1, "private")
    ran: list[int] = []

    async def work(update_id: int) -> None:
        ran.append(update_id)

    for update_id in range(1, 41):  # 40 photos at once, then a text
        await processor.process_update(photo_update(update_id, alice), work(update_id))
    await processor.process_update(update(41, alice, 1), work(41))
    assert ran == list(range(1, 42)), "every file, and the next message, are handled"
    assert notices == []
    for update_id in range(42, 50):  # a flood of texts is still stopped, noticed once
        await processor.process_update(update(update_id, alice, 1), work(update_id))
    assert ran[-1] == 45
    assert notices == [46]
    await processor.process_update(photo_update(50, alice), work(50))
    assert ran[-1] == 50, "a file in the middle of a flood is kept"


class Ledger:
    """Records what the processor tells the update store about each update."""

    def __init__(self, held: set[int]) -> None:
        self.held = held
        self.events: list[tuple[str, int, bool]] = []

    def begin(self, update_id: int, *, deferred: bool) -> Entry | None:
        if update_id not in self.held:
            return None
        self.events.append(("begin", update_id, deferred))
        return Entry(self, update_id)


class Entry:
    def __init__(self, ledger: Ledger, update_id: int) -> None:
        self.ledger, self.update_id = ledger, update_id

    async def settle(self) -> None:
        self.ledger.events.append(("settle", self.update_id, False))

    def close(self) -> None:
        self.ledger.events.append(("close", self.update_id, False))


async def test_stored_updates_are_settled_when_done_and_left_when_cut_short() -> None:
    processor = ChatOrderedProcessor(16, flood_gate=FloodGate(1))
    ledger = Ledger({1, 2, 3, 5})
    processor.ledger = ledger
    alice, bob, carol = Chat(1, "private"), Chat(2, "private"), Chat(3, "private")

    async def work() -> None:
        await asyncio.sleep(0)

    async def fails() -> None:
        raise RuntimeError("outside a handler")

    await processor.process_update(update(1, alice, 1), work())
    await processor.process_update(photo_update(2, alice), fails())
    await processor.process_update(update(3, alice, 1), work())  # dropped by the flood gate
    await processor.process_update(update(4, bob, 2), work())  # not from the store
    hanging = asyncio.create_task(processor.process_update(update(5, carol, 3), asyncio.sleep(60)))
    await asyncio.sleep(0.05)
    hanging.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await hanging
    assert ledger.events == [
        ("begin", 1, False),
        ("settle", 1, False),
        ("close", 1, False),
        ("begin", 2, True),  # a private file: its mark goes with the second commit
        ("settle", 2, False),
        ("close", 2, False),
        ("begin", 3, False),
        ("settle", 3, False),
        ("close", 3, False),
        ("begin", 5, False),
        ("close", 5, False),  # cut short: not settled, it stays stored
    ]
