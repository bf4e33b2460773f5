"""Moderation benchmark: figures printed, not asserted.

A surge of N tips (default 1000) waits in the outbox; the bot presents them to the
moderators' group through the fake Bot API server, which enforces Telegram's real limit of
20 messages a minute into one group — on a clock scaled down (default 60x: a minute lasts
one second) so the run is short. Printed: how long until every tip was presented (in real
Telegram time), messages sent, 429s received, the theoretical minimum for that many tips
under 20 messages a minute, and the ratio.

    python bench/moderation.py [--tips 1000] [--scale 60]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PTB_TIMEDELTA", "1")

GROUP_LIMIT = 20  # messages a minute into one group (Telegram)
PER_DIGEST = 10  # tips a digest message can present
REFERENCE = re.compile(r"\b[2-9A-Z]{4}-[2-9A-Z]{4}\b")


async def run(tips: int, scale: float) -> None:
    from sqlalchemy import func, select

    from bot.logs import configure_logging
    from db.engine import create_engine
    from db.migrate import upgrade
    from db.models import OUTBOX_PENDING, OutboxMessage
    from tests.conftest import SECRET, make_settings
    from tests.e2e.moderators import seed_tips
    from tests.fakebot import FakeTelegram
    from tests.harness import BotHarness

    configure_logging("WARNING")
    window = 60.0 / scale
    with tempfile.TemporaryDirectory() as workdir:
        url = f"sqlite+aiosqlite:///{Path(workdir) / 'bench.db'}"
        engine = create_engine(url)
        await upgrade(engine)
        async with FakeTelegram() as fake:
            group = fake.group(title="Moderators")
            fake.set_group_limit(max_messages=GROUP_LIMIT, per_seconds=window)
            settings = make_settings(
                fake,
                url,
                Path(workdir),
                moderator_chat_id=group.id,
                tipbot_group_max_messages=GROUP_LIMIT,
                tipbot_group_window_seconds=window,
            )
            bot = BotHarness(fake, settings, engine, SECRET.encode())
            await bot.start()
            worker = bot.services.outbox_worker
            await worker.stop()  # seed first, then measure the drain alone
            references = await seed_tips(bot, tips)
            started = time.monotonic()
            worker.start()
            while True:
                async with bot.session() as session:
                    pending = (
                        await session.execute(
                            select(func.count(OutboxMessage.id)).where(
                                OutboxMessage.status == OUTBOX_PENDING
                            )
                        )
                    ).scalar_one()
                if pending == 0:
                    break
                await asyncio.sleep(window / 20)
            elapsed = time.monotonic() - started
            messages = group.bot_messages()
            seen: Counter[str] = Counter()
            for message in messages:
                text = message.text or ""
                lines = text.splitlines()[1:] if text.startswith("📥") else [text]
                for line in lines:
                    seen.update(REFERENCE.findall(line)[:1])
            rejections = fake.group_limit_rejections
            await bot.stop()
        await engine.dispose()

    needed = math.ceil(tips / PER_DIGEST)
    minimum = (math.ceil(needed / GROUP_LIMIT) - 1) * window
    real = scale
    print(f"tipbot moderation benchmark — {tips} tips waiting, clock scaled {scale:g}x")
    print(
        f"presented:            {len(seen)} of {tips} tips, each once: {set(seen.values()) == {1}}"
    )
    print(f"messages sent:        {len(messages)}")
    print(f"429s received:        {rejections}")
    print(f"time to present all:  {elapsed * real:8.1f} s of Telegram time ({elapsed:.2f} s here)")
    print(
        f"theoretical minimum:  {minimum * real:8.1f} s "
        f"({needed} messages of {PER_DIGEST} tips at {GROUP_LIMIT} a minute)"
    )
    print(f"ratio:                {elapsed / minimum if minimum else float('nan'):8.2f}")
    missing = set(references) - set(seen)
    if missing:
        print(f"NOT PRESENTED: {len(missing)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tips", type=int, default=1000)
    parser.add_argument("--scale", type=float, default=60.0, help="how much faster the clock runs")
    args = parser.parse_args()
    asyncio.run(run(args.tips, args.scale))


if __name__ == "__main__":
    main()
