"""The update processor: one chat's updates in order, different chats (and different members
of a group) at the same time."""

import asyncio
from datetime import UTC, datetime

from telegram import Chat, Message, Update, User

from bot.processor import ChatOrderedProcessor

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
