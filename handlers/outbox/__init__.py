"""The outbox worker: delivers queued messages within Telegram's limits, losing none.

Rate limiting happens in one place, the bot's rate limiter (:mod:`bot.ratelimit`, installed
on the application by :mod:`bot.app`), which every Bot API call of the worker passes
through; the worker itself only primes it after a restart and postpones a row on a 429.

The queue and every change of a row's state are :mod:`bot.outbox`'s; what a message is made
of and what its delivery records are :mod:`bot.delivery`'s. This package renders and sends:
it lives in ``handlers/`` (not in ``bot/``) because it draws the moderators' cards and
digests with their renderers (:mod:`handlers.moderation.cards`) and sends through the
Telegram-facing helpers (forum topics, albums), and ``bot/`` services never import
``handlers/``.

- :mod:`~handlers.outbox.worker` — the loop: claim, send, settle; leases kept while a send
  lasts, rows a crash cut short sent once more.
- :mod:`~handlers.outbox.kinds` — one job builder per kind of row (the registry
  :data:`~handlers.outbox.kinds.BUILDERS`) and what each kind records once it was sent.
- :mod:`~handlers.outbox.sending` — the Bot API calls of one job, and its safe form.
- :mod:`~handlers.outbox.settling` — sent, postponed or failed, in one transaction each.

One row (or, in a surge, one digest of up to ten tips) at a time: claimed with a lease in a
short transaction, sent through the rate-limited bot, and marked sent in a second
transaction only once Telegram confirmed it. 429s, 5xx answers, timeouts and network errors
postpone the row with backoff. While more than ``TIPBOT_SURGE_THRESHOLD`` tips wait, new
tips are presented as digest lines (ten to a message, each with an Open button) instead of
full cards. Stopping waits for the message in flight, so an orderly restart neither loses
nor repeats one. An answer's words already posted are remembered before its files go, so a
retry sends only the files. Once an answer is in the group its tip's card is redrawn (it no
longer waits for the reporter), as it is when a verdict's minute to undo is over
(:data:`bot.outbox.Kind.REDRAW`). Anchors of the custody chain (:mod:`bot.evidence.anchors`)
go to ``ANCHOR_CHAT_ID`` the same way.

Delivery is at least once (Telegram cannot tell a request whose answer was lost from one
never made; see :mod:`bot.outbox`): a send that timed out although Telegram did post the
message is sent again, and a send cut short by a crash is sent once more after the
restart — never at every lease expiry, and never a third time.

Texts are measured as Telegram measures them, in UTF-16 units (:mod:`bot.tgtext`): an
answer too long for one message goes in several. A permanent refusal of the message itself
(a 400 other than a missing chat or missing rights) is never retried forever: the message
goes once more in a safe form (no markup, shortened), and if that is refused too, the row is
marked failed (``bot.moderation.REFUSED`` in its ``last_error``), logged and counted in
``/stats``.
"""

from handlers.outbox.worker import OutboxWorker

__all__ = ["OutboxWorker"]
