"""Intake benchmark: figures printed, not asserted.

Run 1 — N simulated reporters (default 400) each file a complete report with 2 files against
the fake Bot API server over loopback; prints updates per second, reply latency
p50/p95/p99, lost replies (a step whose answer never came: target 0) and the bot's peak
memory; then runs the same load against a bare PTB bot that answers every update with one
sendMessage (the framework's ceiling) and prints the ratio. Both bots run without
Telegram's 30 messages/s cap (it would measure the cap, not the bot). With ``--faults``, 1%
of tipbot's Bot API calls (all but getUpdates) fail with a 500 or a 429 (retry after 1 s);
the bare bot always runs without faults (it does not retry: it would only lose replies).

Run 2 — streams a file through the media pipeline in local mode (default 1 GB, and a
100 MB one for comparison) and prints MB/s and peak memory.

Each part runs in its own process: the fake server with the simulated reporters in one, the
bot in another, so neither steals the other's event loop.

    python bench/intake.py [--reporters 400] [--files 2] [--faults] [--media-mb 1024]
                           [--skip-media]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOKEN = "123456789:BenchmarkTokenBenchmarkToken0000"
SECRET = "benchmark-secret-key-0123456789-abcdefgh"
VISIBLE = {"sendMessage", "editMessageText", "editMessageReplyMarkup", "sendLocation"}
BUCHA = 711350
FAULT_RATE = 0.01  # --faults: the share of Bot API calls that fail
LOST_AFTER = 120.0  # seconds without an answer after which a step's reply counts as lost


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# ---------------------------------------------------------------------------- the reporters


def script(files: int) -> list[tuple[str, Any]]:
    """One report, as a reporter would file it with tipbot (the bare bot gets the same)."""
    return [
        ("command", "/start"),
        ("press", "l:en"),
        ("press", "c:agree:en"),
        ("press", "m:new"),
        ("press", "r:category:set:strike"),
        ("text", "A missile hit the apartment block on the corner at dawn; three people hurt."),
        ("press", "r:description:next"),
        ("text", "24.02.2022"),
        ("text", "Буча"),
        ("press", f"r:where:pick:{BUCHA}"),
        ("press", "r:who:set:unknown"),
        ("files", files),
        ("press", "r:evidence:done"),
        ("press", "r:contact:no"),
        ("press", "r:review:submit"),
    ]


def is_reply(kind: str, call: Any) -> bool:
    """Whether a call is the answer a reporter waits for. tipbot's next screen always has
    an inline keyboard (notes such as the location keyboard's do not); the bare bot's
    answer is its one message."""
    if call.method not in VISIBLE or call.status != 200:
        return False
    return kind == "bare" or "inline_keyboard" in (call.params.get("reply_markup") or {})


async def serve_and_drive(reporters: int, files: int, kind: str, faults: bool = False) -> None:
    """The fake server plus N reporters; prints its URL, then one JSON line of results,
    then keeps serving until stdin closes (so the bot can stop cleanly)."""
    from tests.fakebot import FakeTelegram

    fake = FakeTelegram(token=TOKEN)
    await fake.start()
    waiting: dict[int, asyncio.Future[float]] = {}

    delivered: list[int] = []

    def on_call(call: Any) -> None:
        if call.method == "getUpdates" and isinstance(call.result, list):
            delivered.extend(u["update_id"] for u in call.result)
        if not is_reply(kind, call):
            return
        future = waiting.get(call.params.get("chat_id"))
        if future is not None and not future.done():
            future.set_result(call.finished_at)

    fake.call_listeners.append(on_call)
    print(json.dumps({"url": fake.url}), flush=True)
    await fake.wait_for_call("getUpdates", timeout=120)
    await asyncio.sleep(1.0)  # let the bot finish starting up
    injected = fake.fail_randomly(FAULT_RATE, seed=9) if faults else None

    latencies: list[float] = []
    file_latencies: list[float] = []
    updates = 0
    failures = 0
    payload = b"%PDF-1.7\n" + os.urandom(48 * 1024)

    async def act(user: Any, index: int, kind: str, arg: Any) -> None:
        if kind == "command":
            await user.send_command(arg)
        elif kind == "text":
            await user.send_text(arg)
        elif kind == "press":
            await user.press_data(arg)
        else:
            for n in range(arg):
                await user.send_document(
                    payload + bytes([index % 256, n]),
                    file_name=f"{n}.pdf",
                    mime_type="application/pdf",
                )

    async def reporter(index: int) -> None:
        nonlocal updates, failures
        user = fake.user(first_name=f"R{index}")
        steps = script(files)
        for done, (kind, arg) in enumerate(steps):
            loop = asyncio.get_running_loop()
            future: asyncio.Future[float] = loop.create_future()
            waiting[user.id] = future
            sent = time.monotonic()
            try:
                await act(user, index, kind, arg)
            except LookupError:  # no message to press a button on: /start was never answered
                failures += len(steps) - done
                return
            updates += arg if kind == "files" else 1
            try:
                answered = await asyncio.wait_for(future, LOST_AFTER)
            except TimeoutError:
                failures += 1
                continue
            (file_latencies if kind == "files" else latencies).append(answered - sent)

    started = time.monotonic()
    cpu_before = cpu_seconds()
    await asyncio.gather(*(reporter(i) for i in range(reporters)))
    elapsed = time.monotonic() - started
    driver_cpu = cpu_seconds() - cpu_before
    print(
        json.dumps(
            {
                "updates": updates,
                "seconds": elapsed,
                "updates_per_second": updates / elapsed,
                "p50_ms": percentile(latencies, 50) * 1000,
                "p95_ms": percentile(latencies, 95) * 1000,
                "p99_ms": percentile(latencies, 99) * 1000,
                "files_ack_p50_ms": percentile(file_latencies, 50) * 1000,
                "no_answer": failures,
                "calls": len(fake.calls),
                "calls_per_update": sum(c.method != "getUpdates" for c in fake.calls) / updates,
                "driver_cpu_share": driver_cpu / elapsed,
                "deliveries": len(delivered),
                "distinct_updates": len(set(delivered)),
                "faults_injected": injected.hits if injected is not None else 0,
            }
        ),
        flush=True,
    )
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await fake.close()


# ---------------------------------------------------------------------------- the bots


def run_bot(kind: str, url: str, workdir: Path, database_url: str | None = None) -> None:
    """Run tipbot or the bare bot until SIGTERM; then print the process's peak memory."""
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    from telegram import Update

    if kind == "tipbot":
        from bot.app import ALLOWED_UPDATES, build_application
        from bot.logs import configure_logging
        from bot.settings import load_settings

        configure_logging("WARNING")
        settings = load_settings(
            _env_file=None,
            telegram_bot_token=TOKEN,
            telegram_api_url=url,
            database_url=database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
            media_dir=workdir / "media",
            tipbot_data_dir=workdir,
            tipbot_secret_key=SECRET,
            tipbot_max_updates_per_minute=10_000,
            tipbot_max_reports_per_day=10_000,
        )
        app: Any = build_application(settings, SECRET.encode(), rate_limited=False)
        allowed = ALLOWED_UPDATES
    else:
        from telegram.ext import ApplicationBuilder, TypeHandler
        from telegram.request import HTTPXRequest

        async def answer(update: Update, context: Any) -> None:
            await context.bot.send_message(update.effective_chat.id, "ok")

        app = (
            ApplicationBuilder()
            .token(TOKEN)
            .base_url(f"{url}/bot")
            .base_file_url(f"{url}/file/bot")
            .concurrent_updates(256)
            # tipbot's pool settings: requests queue for a connection rather than fail
            .request(HTTPXRequest(connection_pool_size=64, pool_timeout=None))
            .build()
        )
        app.add_handler(TypeHandler(Update, answer))
        allowed = None
    profile = os.environ.get("BENCH_PROFILE")
    if profile:  # a developer's aid: BENCH_PROFILE=/tmp/bot.prof python bench/intake.py
        import cProfile

        with cProfile.Profile() as profiler:
            app.run_polling(allowed_updates=allowed, drop_pending_updates=False)
        profiler.dump_stats(f"{profile}.{kind}")
    else:
        app.run_polling(allowed_updates=allowed, drop_pending_updates=False)
    print(json.dumps({"peak_rss_mb": peak_rss_mb(), "bot_cpu_seconds": cpu_seconds()}), flush=True)


def load_run(
    kind: str, reporters: int, files: int, database_url: str | None, faults: bool = False
) -> dict[str, Any]:
    me = [sys.executable, str(Path(__file__).resolve())]
    driver = subprocess.Popen(  # noqa: S603 - this very script
        [*me, "--serve", kind, "--reporters", str(reporters), "--files", str(files)]
        + (["--faults"] if faults else []),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert driver.stdout is not None
    url = json.loads(driver.stdout.readline())["url"]
    with tempfile.TemporaryDirectory() as workdir:
        bot_log = Path(workdir) / "bot.log"
        with bot_log.open("w") as log_file:
            bot = subprocess.Popen(  # noqa: S603
                [*me, "--bot", kind, "--url", url, "--workdir", workdir]
                + (["--database-url", database_url] if database_url else []),
                stdout=subprocess.PIPE,
                stderr=log_file,  # tipbot's warnings: one line per call that had to be retried
                text=True,
            )
            line = driver.stdout.readline()
            if not line:  # the driver gave up (the bot never polled): say why
                bot.kill()
                sys.exit(f"{kind} did not run; its log ends:\n{bot_log.read_text()[-3000:]}")
            result: dict[str, Any] = json.loads(line)
            bot.send_signal(signal.SIGTERM)
            out, _ = bot.communicate(timeout=60)
            driver.communicate(timeout=60)
        log_text = bot_log.read_text()
    result["retried_calls"] = log_text.count("retrying with backoff")
    errors = [line for line in log_text.splitlines() if " ERROR " in line]
    result["bot_error_count"], result["bot_errors"] = len(errors), errors[:3]
    result.update(json.loads(out.strip().splitlines()[-1]))
    return result


# ---------------------------------------------------------------------------- media


async def stream_media(size_mb: int) -> dict[str, float]:
    """One file of ``size_mb`` through getFile and the store, local mode; own process."""
    from telegram import Bot

    from bot.media import FileDownloader, MediaStore
    from tests.fakebot import FakeTelegram

    size = size_mb * 1024 * 1024
    fake = FakeTelegram(token=TOKEN, local_mode=True)
    await fake.start()
    # Without content, the fake serves deterministic pseudo-random bytes generated as they
    # are streamed: the 1 GB never sits in either process's memory.
    virtual = fake.add_file(size=size, file_name="big.mp4", mime_type="video/mp4")
    with tempfile.TemporaryDirectory() as workdir:
        store = MediaStore(Path(workdir))
        store.prepare()
        downloader = FileDownloader(store)
        bot = Bot(
            TOKEN, base_url=f"{fake.url}/bot", base_file_url=f"{fake.url}/file/bot", local_mode=True
        )
        async with bot:
            before = peak_rss_mb()
            started = time.monotonic()
            info = await bot.get_file(virtual.file_id)
            staged = await downloader.fetch(str(info.file_path), max_bytes=2000 * 1024 * 1024)
            store.commit(staged)
            store.discard(staged)
            elapsed = time.monotonic() - started
        await downloader.aclose()
        assert staged.sha256 == virtual.sha256, "the stored hash must equal the served bytes' hash"
    await fake.close()
    return {
        "size_mb": size_mb,
        "mb_per_second": size_mb / elapsed,
        "seconds": elapsed,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": before,
    }


def media_run(size_mb: int) -> dict[str, Any]:
    out = subprocess.run(  # noqa: S603
        [sys.executable, str(Path(__file__).resolve()), "--media-child", str(size_mb)],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


# ---------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reporters", type=int, default=400)
    parser.add_argument("--files", type=int, default=2)
    parser.add_argument("--media-mb", type=int, default=1024)
    parser.add_argument(
        "--faults", action="store_true", help="1%% of tipbot's Bot API calls fail (500 or 429)"
    )
    parser.add_argument("--skip-media", action="store_true")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print the raw figures too")
    parser.add_argument(
        "--database-url",
        help="tipbot's database (an empty one); default: a fresh SQLite file",
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--bot", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--media-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        asyncio.run(serve_and_drive(args.reporters, args.files, args.serve, args.faults))
        return
    if args.bot:
        run_bot(args.bot, args.url, Path(args.workdir), args.database_url)
        return
    if args.media_child:
        print(json.dumps(asyncio.run(stream_media(args.media_child))), flush=True)
        return

    print(f"tipbot intake benchmark — {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    if not args.skip_load:
        faults = f", {FAULT_RATE:.0%} of tipbot's Bot API calls failing" if args.faults else ""
        print(
            f"\nRun 1: {args.reporters} reporters × 1 report × {args.files} files, "
            f"over loopback{faults}"
        )
        results = {
            kind: load_run(
                kind,
                args.reporters,
                args.files,
                args.database_url,
                args.faults and kind == "tipbot",
            )
            for kind in ("tipbot", "bare")
        }
        columns = (
            "updates",
            "upd/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "peak MB",
            "calls/up",
            "lost",
        )
        print(f"{'bot':8} " + " ".join(f"{c:>8}" for c in columns))
        for kind, r in results.items():
            print(
                f"{kind:8} {r['updates']:8d} {r['updates_per_second']:8.1f} {r['p50_ms']:8.1f} "
                f"{r['p95_ms']:8.1f} {r['p99_ms']:8.1f} {r['peak_rss_mb']:8.1f} "
                f"{r['calls_per_update']:8.2f} {r['no_answer']:8d}"
            )
        if args.verbose:
            print(json.dumps(results, indent=1))
        ratio = results["tipbot"]["updates_per_second"] / results["bare"]["updates_per_second"]
        print(f"ratio tipbot / bare PTB: {ratio:.2f} (target >= 0.70)")
        tipbot = results["tipbot"]
        print(
            f"lost replies: {tipbot['no_answer']} (target 0; a step unanswered for "
            f"{LOST_AFTER:.0f} s); faults injected: {tipbot['faults_injected']}, calls retried: "
            f"{tipbot['retried_calls']}"
        )
        if tipbot["bot_error_count"]:
            print(f"tipbot logged {tipbot['bot_error_count']} errors, the first:")
        for line in tipbot["bot_errors"]:
            print(f"  {line}")
        print(
            "file bursts: tipbot acknowledges once per burst after "
            f"1.0 s of quiet; p50 {results['tipbot']['files_ack_p50_ms']:.0f} ms "
            f"(bare bot, one reply per file: {results['bare']['files_ack_p50_ms']:.0f} ms)"
        )
    if not args.skip_media:
        print("\nRun 2: one file streamed through getFile and the store (local mode)")
        sizes = sorted({100, args.media_mb})
        print(f"{'size MB':>8} {'MB/s':>8} {'seconds':>8} {'peak MB':>8}")
        for size in sizes:
            r = media_run(size)
            figures = (r["mb_per_second"], r["seconds"], r["peak_rss_mb"])
            print(f"{r['size_mb']:8d} " + " ".join(f"{f:8.1f}" for f in figures))


if __name__ == "__main__":
    main()
